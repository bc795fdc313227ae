"""The fast reading of mitmproxy flow states (``ingest/mitmstate.py``) gives what
``Flow.from_state`` gives: the same messages, anomalies and errors, flow for flow.

The fast reading must only ever accept what mitmproxy accepts, and read it the same; so
every field of real flow states (plain HTTP, TLS with certificates, HTTP/2, IPv6, no
response) is replaced in turn by values of every type a tnetstring can carry, removed,
or joined by an unknown key, and each such file is read both ways.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phonehome.context import Context
from phonehome.errors import InputError
from phonehome.ingest import mitm, mitmstate
from tests.needs import need_module
from tests.test_ingest_mitm import dump, http_flow

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"

REPLACEMENTS: list[Any] = [
    None, 0, 1, -1, 80, 1.5, 21, 21.0, 20, True, False, "", "x", "tcp", "udp", "http",
    "TLSv1.3", b"", b"x", b"GET", b"HTTP/2.0", [], [b"a"], [b"a", b"b"], [[b"a", b"b"]],
    [[b"a", 1]], ["10.0.0.1", 80], ["10.0.0.1", 80, 0, 0], ["::1", "80"], {}, {"x": 1},
]  # fmt: skip
"""Values of every tnetstring type, and the values mitmproxy's checks care about."""
DELETE = object()


def _certificate() -> Any:
    need_module("mitmproxy")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from mitmproxy import certs

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t.example")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certs.Cert(cert)


def flows() -> dict[str, Any]:
    """Flow shapes a real dump has."""
    plain = http_flow("http://t.example.com/c?imei=356759041234567", body=b"a=1")
    tls = http_flow("https://t.example.com/x", version="HTTP/2.0")
    cert = _certificate()
    tls.server_conn.certificate_list = [cert]
    tls.server_conn.tls = True
    tls.server_conn.tls_version = "TLSv1.3"
    tls.server_conn.alpn = b"h2"
    tls.server_conn.sni = "t.example.com"
    tls.client_conn.mitmcert = cert
    tls.client_conn.tls = True
    tls.request.headers["host"] = "t.example.com:8443"
    v6 = http_flow("http://[2001:db8::1]:8080/p", response=False)
    v6.client_conn.peername = ("2001:db8::7", 40000, 0, 0)
    v6.server_conn.peername = ("2001:db8::1", 8080, 0, 0)
    gz = http_flow("http://t.example.com/g", body=b"\x1f\x8b not gzip", encoding="gzip")
    return {"plain": plain, "tls": tls, "v6": v6, "gz": gz}


def outcome(data: bytes) -> tuple[object, ...]:
    """Everything a reading gives: messages, anomalies (with where and why), or the
    error that stopped it."""
    ctx = Context()
    try:
        messages = list(mitm.read(io.BufferedReader(io.BytesIO(data)), 0, ctx, "t.mitm"))
    except InputError as e:
        return ("error", str(e))
    samples = [(s.kind, s.frame, s.detail) for s in ctx.anomalies.samples]
    return ("read", repr(messages), dict(ctx.anomalies.counts), samples)


def both(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast = outcome(data)
    with monkeypatch.context() as m:
        m.setattr(mitmstate.FastFlows, "view", lambda self, tag, data: None)
        slow = outcome(data)
    return fast, slow


def paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place inside a state: dict keys and list indexes, depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*at, k)
            yield from paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*at, i)
            yield from paths(v, (*at, i))


def _state(f: Any) -> dict[str, Any]:
    from mitmproxy.io import tnetstring

    state: dict[str, Any] = tnetstring.loads(tnetstring.dumps(f.get_state()))
    return state


def _dumps(state: Any) -> bytes:
    from mitmproxy.io import tnetstring

    return bytes(tnetstring.dumps(state))


def _set(state: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        state = state[p]
    state[path[-1]] = value


def _delete(state: Any, path: tuple[Any, ...]) -> None:
    for p in path[:-1]:
        state = state[p]
    del state[path[-1]]


@pytest.mark.parametrize("name", ["plain", "tls", "v6", "gz"])
def test_well_formed_flows_read_fast_and_the_same(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = flows()[name]
    data = dump(f, f, http_flow())
    views = 0
    real_view = mitmstate.FastFlows.view

    def counting(self: mitmstate.FastFlows, tag: int, data: bytes) -> Any:
        nonlocal views
        got = real_view(self, tag, data)
        views += got is not None
        return got

    monkeypatch.setattr(mitmstate.FastFlows, "view", counting)
    fast = outcome(data)
    monkeypatch.undo()
    assert views == 3  # all three flows took the fast reading ...
    fast_again, slow = both(data, monkeypatch)
    assert fast == fast_again == slow  # ... and gave what mitmproxy's does
    assert fast[0] == "read" and fast[2] == {}


def test_connection_states_are_checked_once_per_distinct_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need_module("mitmproxy")
    from mitmproxy import connection

    calls = 0
    real = connection.Client.set_state

    def counting(self: Any, state: Any) -> None:
        nonlocal calls
        calls += 1
        real(self, state)

    monkeypatch.setattr(connection.Client, "set_state", counting)
    f = http_flow()
    other = http_flow()
    other.client_conn.peername = ("10.0.0.8", 40001)
    msgs = list(mitm.read(io.BytesIO(dump(f, f, f, other, f)), 0, Context(), "t.mitm"))
    assert calls == 2
    assert [m.src.ip for m in msgs if m.direction == "out"] == ["10.0.0.7"] * 3 + [
        "10.0.0.8",
        "10.0.0.7",
    ]


@pytest.mark.parametrize("name", ["plain", "tls", "v6"])
def test_every_field_mutated_reads_as_mitmproxy_reads_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = http_flow()
    original = _state(flows()[name])
    places = list(paths(original))
    assert len(places) > 60
    cases = 0
    for path in places:
        for value in [*REPLACEMENTS, DELETE]:
            state = _copy(original)
            if value is DELETE:
                _delete(state, path)
            else:
                _set(state, path, value)
            data = dump(good) + _dumps(state) + dump(good)
            fast, slow = both(data, monkeypatch)
            assert fast == slow, (path, value)
            cases += 1
    for path in [(), *(p for p in places if isinstance(_get(original, p), dict))]:
        state = _copy(original)
        _get(state, path)["unknown_key"] = 1
        fast, slow = both(dump(good) + _dumps(state) + dump(good), monkeypatch)
        assert fast == slow, (path, "unknown key")
        cases += 1
    assert cases > len(places) * len(REPLACEMENTS)


def _get(state: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        state = state[p]
    return state


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def test_fuzz_corpus_and_regressions_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("mitmproxy")
    files = sorted((FUZZ / "corpus" / "mitm").iterdir()) + sorted(
        (FUZZ / "regressions" / "mitm").iterdir()
    )
    assert files
    for path in files:
        data = path.read_bytes()
        fast, slow = both(data, monkeypatch)
        assert fast == slow, path.name


def test_another_format_version_goes_to_mitmproxy(monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("mitmproxy")
    monkeypatch.setattr(mitmstate, "FORMAT_VERSIONS", frozenset({20}))
    fast = mitmstate.FastFlows()
    from phonehome.ingest import tnetstring

    tag, data = tnetstring.load_raw(io.BytesIO(dump(http_flow())))
    assert fast.view(tag, data) is None
