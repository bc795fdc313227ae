"""A small corpus for the corpus tests: simulated captures of several shapes, real
fixtures (a pcap from the wild, a Chrome HAR), a device session directory, and the bad
inputs a real corpus has (an empty file, a file that is no capture, a directory without
captures).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phonehome import simulate
from tests.conftest import SHARED

CORPUS_MODULES = ["dask", "distributed", "pyarrow", "duckdb"]
"""What the corpus tests need (``phonehome[corpus]``): their modules mark themselves with
``needs(modules=CORPUS_MODULES)`` and import what uses pyarrow only inside tests."""


def part_files(out: Path, table: str) -> list[Path]:
    from phonehome.corpus.parts import part_files as files

    return files(out, table)


def typed(table: str, made: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as they come back from the table (through Arrow: the table's types)."""
    from phonehome.corpus.parts import table as arrow_table

    return list(arrow_table(table, made).to_pylist())


@dataclass
class Corpus:
    root: Path
    profile: Path
    good: list[Path] = field(default_factory=list)
    """Inputs that scan (one task each), in the order given."""
    session: Path | None = None
    session_members: list[Path] = field(default_factory=list)
    bad: dict[Path, str] = field(default_factory=dict)
    """Inputs that must be recorded as failed -> a part of the expected error."""

    def args(self) -> list[str]:
        paths = [*self.good, *([self.session] if self.session else []), *self.bad]
        return [str(p) for p in paths]


def build(root: Path, *, bench: int = 2, bench_mb: float = 1.0) -> Corpus:
    """Write the corpus under ``root`` (captures under root/in)."""
    inp = root / "in"
    inp.mkdir(parents=True)
    simulate.run("nokia7plus", inp / "nokia.pcap", seed=1)
    simulate.run("encodings", inp / "encodings.pcapng", seed=1, pcapng=True)
    corpus = Corpus(root, inp / "nokia.device.toml")
    corpus.good += [inp / "nokia.pcap", inp / "encodings.pcapng"]
    for i in range(bench):
        path = inp / f"bench{i}.pcap"
        simulate.run("bench", path, seed=10 + i, size_mb=bench_mb)
        corpus.good.append(path)
    real = inp / "real"
    real.mkdir()
    for src in (
        SHARED / "fixtures/real/android_dropper_checkin.pcap",
        SHARED / "fixtures/har/chrome.har",
    ):
        shutil.copy(src, real / src.name)
        corpus.good.append(real / src.name)
    session = inp / "session-pixel"
    session.mkdir()
    simulate.run("nokia7plus", session / "morning.pcap", seed=2)
    simulate.run("encodings", session / "evening.pcap", seed=2)
    (session / "phonehome-session.toml").write_text(
        'name = "session two"\ndevice = "morning.device.toml"\nhome_country = "NO"\n'
    )
    corpus.session = session
    corpus.session_members = [session / "evening.pcap", session / "morning.pcap"]
    empty = inp / "empty.pcap"
    empty.write_bytes(b"")
    junk = inp / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all\n" * 20)
    nothing = inp / "no-captures"
    nothing.mkdir()
    (nothing / "notes.txt").write_text("nothing to see\n")
    corpus.bad = {
        empty: "empty file",
        junk: "not a recognised capture",
        nothing: "no capture in this directory",
    }
    return corpus


def rows(out: Path, table: str) -> list[dict[str, Any]]:
    from phonehome.corpus.parts import read_rows

    return list(read_rows(out, table))


VOLATILE = {"duration_s", "cpu_s", "worker", "worker_peak_rss_mb", "finished_at"}
"""Columns that differ between two runs of the same inputs (time, place)."""


def comparable(out: Path, table: str) -> list[tuple[Any, ...]]:
    """A table's rows without the volatile columns, sorted, for equality between runs."""
    result = []
    for row in rows(out, table):
        result.append(tuple(sorted((k, repr(v)) for k, v in row.items() if k not in VOLATILE)))
    return sorted(result)


def phonehome(*args: str, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process (Dask runs need a real process, not CliRunner)."""
    return subprocess.run(
        [sys.executable, "-m", "phonehome", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,
    )


def scan_json(paths: list[Path], profile: Path | None, home: str | None = None) -> dict[str, Any]:
    """The document of a sequential ``phonehome scan`` of ``paths``."""
    args = ["scan", *map(str, paths), "--format", "json", "--no-store"]
    if profile is not None:
        args += ["--device", str(profile)]
    if home:
        args += ["--home-country", home]
    res = phonehome(*args)
    assert res.returncode in (0, 1), res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def all_text(out: Path) -> str:
    """Every cell of every table as text (for searching for what must not be there)."""
    cells = []
    for table in ("inputs", "findings", "apps"):
        for row in rows(out, table):
            cells += [repr(v) for v in row.values()]
    return "\n".join(cells)


def profile_values(profile: Path) -> list[str]:
    """The raw identifier values of a simulator profile (strings of 6+ characters)."""
    import tomllib

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in ("name", "home_country"):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and len(value) >= 6:
            found.append(value)

    walk(tomllib.loads(profile.read_text()))
    return found
