"""The progress line appears only on terminals and only for scans longer than a second."""

from __future__ import annotations

import io
from pathlib import Path

from phonehome import progress as progress_mod
from phonehome import simulate
from phonehome.ingest import open_capture
from phonehome.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_tty_after_the_delay_and_erases(tmp_path: Path) -> None:
    cap_path = tmp_path / "n.pcap"
    simulate.run("nokia7plus", cap_path)
    cap = open_capture(str(cap_path))
    cap.stream.read(1 << 16)
    out = Tty()
    p = Progress(out)
    p.started -= progress_mod.DELAY_S + 1
    p(cap)
    p.close()
    cap.close()
    text = out.getvalue()
    assert "scanning n.pcap [" in text and "%" in text
    assert text.endswith("\r\033[K")


def test_progress_is_silent_when_not_a_tty_or_quick(tmp_path: Path) -> None:
    cap_path = tmp_path / "n.pcap"
    simulate.run("nokia7plus", cap_path)
    cap = open_capture(str(cap_path))
    quiet = io.StringIO()
    p = Progress(quiet)
    p.started -= 10
    p(cap)
    p.close()
    tty = Tty()
    quick = Progress(tty)
    quick(cap)
    quick.close()
    cap.close()
    assert quiet.getvalue() == "" and tty.getvalue() == ""
