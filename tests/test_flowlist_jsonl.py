"""``phonehome flows --format jsonl`` lines: fast paths that must not change a byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonehome import flowlist, simulate
from phonehome.context import Context
from phonehome.model.message import Endpoint, FlowKey, HttpRequest, Message, RawPayload
from phonehome.pipeline import iter_messages, open_all
from tests.conftest import SHARED


def reference_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


@pytest.mark.parametrize(
    "ts",
    [
        0.0,
        -0.5,
        -1e-7,
        1772409601.0,
        1772409601.9999995,  # rounds up into the next second
        1772409601.0000005,
        1772409599.9999996,
        1e9 + 0.4999995,
        4294967295.999999,  # the last classic pcap second
    ],
)
def test_iso_time_matches_datetime_at_edges(ts: float) -> None:
    assert flowlist.iso_time(ts) == reference_time(ts)


@given(st.floats(min_value=-2e9, max_value=4.3e9, allow_nan=False))
def test_iso_time_matches_datetime(ts: float) -> None:
    assert flowlist.iso_time(ts) == reference_time(ts)


def test_iso_time_out_of_order_times_use_their_own_second() -> None:
    for ts in (1772409605.25, 1772409601.5, 1772409605.75):
        assert flowlist.iso_time(ts) == reference_time(ts)


@pytest.fixture(scope="module")
def nokia_messages(tmp_path_factory: pytest.TempPathFactory) -> list[Message]:
    out = tmp_path_factory.mktemp("flowlist") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=2)
    return list(iter_messages(open_all([str(out)]), Context()))


def test_lines_are_compact_json_the_stdlib_would_write(nokia_messages: list[Message]) -> None:
    assert len(nokia_messages) > 100
    protocols = set()
    for msg in nokia_messages:
        line = flowlist.to_json(msg)
        d = json.loads(line)
        protocols.add(d["protocol"])
        assert line == json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        assert d["time"] == reference_time(msg.time)
    assert {"http", "dns", "tls"} <= protocols


def test_stdlib_fallback_writes_the_same_bytes(
    nokia_messages: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = [flowlist.to_json(m) for m in nokia_messages]
    monkeypatch.setattr(flowlist, "_dumps", flowlist._stdlib_dumps)
    assert [flowlist.to_json(m) for m in nokia_messages] == fast


def _message(content: HttpRequest | RawPayload) -> Message:
    client, server = Endpoint("192.168.1.23", 40000), Endpoint("198.18.0.1", 80)
    return Message(
        time=1772409601.5,
        input=0,
        frame=1,
        flow_id=1,
        flow=FlowKey("tcp", client, server),
        src=client,
        dst=server,
        direction="out",
        protocol="http",
        readability="cleartext",
        content=content,
    )


@pytest.mark.parametrize(
    "target",
    ["/plain", "/ünïcode?q=✓", "/ctl\x00\x1f\x7f", '/quote"back\\slash', "/lone\ud800surrogate"],
)
def test_any_string_is_written(target: str) -> None:
    msg = _message(HttpRequest("GET", target, "HTTP/1.1", (("Host", "h"),), b""))
    line = flowlist.to_json(msg)
    assert "\n" not in line
    assert json.loads(line)["uri"] == target


def test_real_capture_lines_parse() -> None:
    real = sorted((SHARED / "fixtures" / "real").iterdir())
    assert real
    for cap in real:
        for msg in iter_messages(open_all([str(cap)]), Context()):
            assert json.loads(flowlist.to_json(msg))["frame"] == msg.frame
