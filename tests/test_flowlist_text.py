"""``phonehome flows`` text lines: the fast time and escaping paths change no character."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonehome import flowlist, simulate
from phonehome.context import Context
from phonehome.model.message import Message
from phonehome.pipeline import iter_messages, open_all
from phonehome.terminal import CONTROL_ESCAPES, safe


def reference_time(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    except (OverflowError, ValueError, OSError):
        return f"epoch:{ts:.3f}"


def reference_line(msg: Message) -> str:
    """The line as the straightforward formatting writes it (the specification)."""
    arrow = "->" if msg.direction == "out" else "<-"
    dev, peer = (msg.src, msg.dst) if msg.direction == "out" else (msg.dst, msg.src)
    app = f" [{','.join(msg.app.packages) or msg.app.uid}]" if msg.app else ""
    host = f" {msg.host}" if msg.host and msg.protocol != "dns" else ""
    line = (
        f"{reference_time(msg.time)} {msg.frame:>7} {dev.ip}:{dev.port} {arrow} "
        f"{peer.ip}:{peer.port}{host} {msg.protocol.upper():<4} {flowlist.summary(msg)}{app}"
    )
    return line.translate(CONTROL_ESCAPES)


@pytest.mark.parametrize(
    "ts",
    [0.0, -0.5, -1e-7, 1772409601.0, 1772409601.9999995, 1772409601.0009995, 4294967295.999999],
)
def test_text_time_matches_strftime_at_edges(ts: float) -> None:
    assert flowlist._TEXT_CLOCK.format(ts) == reference_time(ts)


@given(st.floats(min_value=-2e9, max_value=4.3e9, allow_nan=False))
def test_text_time_matches_strftime(ts: float) -> None:
    assert flowlist._TEXT_CLOCK.format(ts) == reference_time(ts)


def test_text_time_of_a_year_datetime_cannot_hold() -> None:
    assert flowlist._TEXT_CLOCK.format(1e15) == reference_time(1e15) == "epoch:1000000000000000.000"


@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=40))
def test_safe_equals_translating_every_character(text: str) -> None:
    assert safe(text) == text.translate(CONTROL_ESCAPES)


@pytest.mark.parametrize(
    ("scenario", "kw"), [("nokia7plus", {}), ("encodings", {}), ("bench", {"size_mb": 2})]
)
def test_lines_equal_the_reference_formatting(
    tmp_path: Path, scenario: str, kw: dict[str, object]
) -> None:
    path = tmp_path / "x.pcap"
    simulate.run(scenario, path, seed=5, **kw)
    messages = list(iter_messages(open_all([str(path)]), Context()))
    assert len(messages) > 20
    for msg in messages:
        assert flowlist.to_text(msg) == reference_line(msg)
