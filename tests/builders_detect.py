"""Hand-built fields and profiles for the detector tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from phonehome.model.field import Field, Match
from tests.conftest import SHARED


def field(text: str, key: str | None = None, **siblings: str) -> Field:
    return Field(text, f"test:{key}" if key else "test", (), key, tuple(siblings.items()))


def values(matches: list[Match], identifier: str | None = None) -> list[str]:
    return [m.value for m in matches if identifier is None or m.identifier == identifier]


def fixture_payloads(name: str) -> list[str]:
    """TCP payloads of a real capture as latin-1 text (tshark reads them; skip without it)."""
    path = SHARED / "fixtures" / "real" / name
    if not path.exists():
        pytest.skip(f"shared fixture {name} not present")
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "tcp.payload", "-Y", "tcp.len > 0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [bytes.fromhex(line.split(",")[0]).decode("latin-1") for line in out.split() if line]
