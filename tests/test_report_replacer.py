"""The scrubber's replacer (report.view._Replacer) against the regular-expression
alternation it replaced (longest spelling first, leftmost match, non-overlapping), on
random spellings and texts; and its cost with many values (issue 18)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.report.view import _Replacer


def reference(values: dict[str, str], caseless: bool, text: str) -> str:
    ordered = sorted(values, key=len, reverse=True)
    rx = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE if caseless else 0)
    key = str.lower if caseless else str
    return rx.sub(lambda m: values[key(m.group(0))], text)


ALPHABET = "abAB01:-é"


@settings(max_examples=500, deadline=None)
@given(
    spellings=st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=8),
    text=st.text(ALPHABET + "xyz", max_size=60),
    caseless=st.booleans(),
)
def test_replaces_exactly_like_the_alternation(
    spellings: list[str], text: str, caseless: bool
) -> None:
    keys = {s.lower() if caseless else s for s in spellings}
    values = {k: f"<{i}>" for i, k in enumerate(sorted(keys))}
    assert _Replacer(values, caseless)(text) == reference(values, caseless, text)


def test_ten_thousand_values_over_a_long_text() -> None:
    values = {f"35{i:013d}": "35•••" for i in range(10_000)}
    text = ",".join(f"35{i:013d}" for i in range(0, 20_000, 2))
    out = _Replacer(values, False)(text)
    assert out.count("35•••") == 5_000
