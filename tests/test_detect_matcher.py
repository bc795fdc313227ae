"""The multi-pattern matcher: every backend gives the same, complete answers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.detect.matcher import BACKENDS, Backend, Matcher, available_backends
from tests.needs import needs

INSTALLED = available_backends()


MODULE = {"hyperscan": "hyperscan", "ahocorasick": "ahocorasick"}
"""The Python package behind each backend but the always-there ``regex``."""


def backends() -> list[object]:
    return [
        pytest.param(b, marks=needs(modules=[MODULE[b]] if b in MODULE else [])) for b in BACKENDS
    ]


def brute_force(patterns: list[tuple[str, int]], text: str, caseless: bool) -> list[tuple]:
    """The definition: every occurrence of every pattern, found one by one."""
    fold = (lambda s: re.sub("[A-Z]", lambda m: m.group().lower(), s)) if caseless else str
    hits = []
    for pattern, tag in patterns:
        if not pattern:
            continue
        p, t = fold(pattern), fold(text)
        hits += [(i, i + len(p), tag) for i in range(len(t)) if t.startswith(p, i)]
    order = {}
    for pattern, _ in patterns:
        order.setdefault(fold(pattern), len(order))
    return sorted(hits, key=lambda h: (h[0], h[1], order[fold(text[h[0] : h[1]])], h[2]))


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize(
    ("patterns", "text", "caseless", "expected"),
    [
        (
            [("abc", 1), ("bc", 2), ("abcdef", 3)],
            "xxabcdefabc",
            False,
            [(2, 5, 1), (2, 8, 3), (3, 5, 2), (8, 11, 1), (9, 11, 2)],
        ),
        ([("aa", 1)], "aaaa", False, [(0, 2, 1), (1, 3, 1), (2, 4, 1)]),  # overlapping
        ([("ABC", 1), ("abc", 2)], "abc ABC", False, [(0, 3, 2), (4, 7, 1)]),
        ([("ABC", 1), ("abc", 2)], "aBc", True, [(0, 3, 1), (0, 3, 2)]),  # one pattern, 2 tags
        ([("d1a5", 1)], "xD1A5x", True, [(1, 5, 1)]),
        ([("é1", 1), ("bc", 2)], "ééé1 ébc", False, [(2, 4, 1), (6, 8, 2)]),  # str offsets
        ([("bc", 1)], "İbc", True, [(1, 3, 1)]),  # İ.lower() is two chars: offsets stay
        # NUL bytes (TBCD of "00"), also leading: hyperscan's literal API cuts at NUL
        ([("S\x192\x00", 1)], "S\x192\x01 S\x192\x00", False, [(5, 9, 1)]),
        ([("\x00\x01", 1), ("Ab", 2)], "ab\x00\x01", True, [(0, 2, 2), (2, 4, 1)]),
        ([("x", 1)], "", False, []),
        ([], "abc", False, []),
    ],
)
def test_examples(
    backend: Backend, patterns: list[tuple[str, int]], text: str, caseless: bool, expected: list
) -> None:
    assert Matcher(patterns, caseless=caseless, backend=backend).scan(text) == expected


ALPHABET = "ab01:%+/=é\x00"
planted_patterns = st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    patterns=planted_patterns,
    noise=st.lists(st.text(ALPHABET + "AB", max_size=12), min_size=1, max_size=6),
    caseless=st.booleans(),
)
def test_backends_agree_with_brute_force(
    patterns: list[str], noise: list[str], caseless: bool
) -> None:
    tagged = [(p, i) for i, p in enumerate(patterns)]
    text = "".join(n + patterns[i % len(patterns)] for i, n in enumerate(noise))  # planted
    expected = brute_force(tagged, text, caseless)
    assert expected  # every text holds at least one planted pattern
    for backend in INSTALLED:
        assert Matcher(tagged, caseless=caseless, backend=backend).scan(text) == expected, backend


@settings(max_examples=150, deadline=None)
@given(
    caseless=planted_patterns,
    exact=planted_patterns,
    noise=st.lists(st.text(ALPHABET + "AB", max_size=12), min_size=1, max_size=6),
)
def test_caseless_and_exact_in_one_search(
    caseless: list[str], exact: list[str], noise: list[str]
) -> None:
    """``exact`` shares the search: the caseless hits, then the exact ones, as two
    matchers give them one after the other."""
    folded = [(p, i) for i, p in enumerate(caseless)]
    kept = [(p, 100 + i) for i, p in enumerate(exact)]
    both = caseless + exact
    text = "".join(
        n + both[i % len(both)].upper() * (i % 2) + both[i % len(both)] for i, n in enumerate(noise)
    )
    expected = brute_force(folded, text, True) + brute_force(kept, text, False)
    assert expected
    for backend in INSTALLED:
        one = Matcher(folded, caseless=True, backend=backend, exact=kept)
        assert one.scan(text) == expected, backend
        assert len(one) == len({p.lower() for p in caseless}) + len(set(exact))


def test_default_backend_is_the_fastest_installed() -> None:
    assert Matcher([("a", 1)]).backend == INSTALLED[0]
    assert INSTALLED[-1] == "regex"


@pytest.mark.slow
def test_known_value_throughput_ten_identifiers(capsys: pytest.CaptureFixture[str]) -> None:
    """Reports MB/s per backend on ~3 MB of mixed text; all backends must agree."""
    import base64
    import random
    import string
    import time

    from phonehome.detect import known as known_module
    from phonehome.detect.known import KnownValues
    from phonehome.model.profile import DeviceProfile, Location
    from tests.builders_detect import field

    profile = DeviceProfile(
        home_country="NO",
        values={
            "imei": ("356938035643809",),
            "meid": ("A1000049A1B2C3",),
            "mac": ("AC:37:43:4D:7F:12",),
            "email": ("ola.nordmann@example.no",),
            "msisdn": ("+4791234567",),
            "android_id": ("3f2a9c0d1e4b5a67",),
            "ad_id": ("38400000-8cf0-11bd-b23e-10b96e40000d",),
            "iccid": ("89470800123456789016",),
            "imsi": ("242011234567890",),
        },
        locations=(Location(59.9139, 10.7522),),
    )
    rnd = random.Random(1)
    chunks = []
    for i in range(4000):
        if i % 3 == 0:
            chunks.append(
                "".join(rnd.choices(string.ascii_letters + string.digits + "=&:.", k=700))
            )
        elif i % 3 == 1:
            chunks.append(base64.b64encode(rnd.randbytes(500)).decode())
        else:
            chunks.append(rnd.randbytes(350).hex())
        if i % 50 == 0:
            chunks.append("imei=356938035643809&")
    text = "".join(chunks)
    results = {}
    for backend in INSTALLED:
        known = KnownValues(profile, backend=backend)
        t = time.perf_counter()
        found = known.scan(field(text))
        seconds = time.perf_counter() - t
        results[backend] = [(m.start, m.end, m.identifier, m.form, m.more) for m in found]
        with capsys.disabled():
            print(f"\n{backend}: {len(text) / 1e6 / seconds:.0f} MB/s on {len(text) / 1e6:.1f} MB")
    # 80 occurrences: the first MAX_KEPT kept, the rest counted on the last one kept
    assert len(results[INSTALLED[0]]) == known_module.MAX_KEPT
    assert sum(1 + r[-1] for r in results[INSTALLED[0]]) == 80
    assert all(r == results[INSTALLED[0]] for r in results.values())
