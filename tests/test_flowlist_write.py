"""flowlist.write_lines: batched writes give exactly the bytes of one write per line."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome import simulate
from phonehome.context import Context
from phonehome.flowlist import to_json, write_lines
from phonehome.pipeline import iter_messages, open_all


@pytest.mark.parametrize(
    ("lines", "batch", "writes"),
    [
        ([], 3, 0),
        (["a"], 3, 1),
        (["a", "b", "c"], 3, 1),
        (["a", "b", "c", "d"], 3, 2),
        (["", "x", ""], 1, 3),
        (["é", "\u2603"], 128, 1),
    ],
)
def test_same_bytes_in_fewer_writes(lines: list[str], batch: int, writes: int) -> None:
    calls: list[str] = []
    write_lines(iter(lines), calls.append, batch)
    assert "".join(calls) == "".join(line + "\n" for line in lines)
    assert len(calls) == writes


def test_flows_jsonl_of_a_simulated_capture(tmp_path: Path) -> None:
    out = tmp_path / "x.pcap"
    simulate.run("bench", out, seed=2, size_mb=1)
    lines = [to_json(m) for m in iter_messages(open_all([str(out)]), Context())]
    assert len(lines) > 8
    calls: list[str] = []
    write_lines(iter(lines), calls.append, 8)
    assert "".join(calls) == "".join(line + "\n" for line in lines)
    assert len(calls) == -(-len(lines) // 8)
