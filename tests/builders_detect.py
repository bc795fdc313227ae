"""Hand-built fields and profiles for the detector tests."""

from __future__ import annotations

from phonehome.model.field import Field, Match
from tests import tshark
from tests.conftest import SHARED


def field(text: str, key: str | None = None, **siblings: str) -> Field:
    return Field(text, f"test:{key}" if key else "test", (), key, tuple(siblings.items()))


def values(matches: list[Match], identifier: str | None = None) -> list[str]:
    return [m.value for m in matches if identifier is None or m.identifier == identifier]


def fixture_payloads(name: str) -> list[str]:
    """TCP payloads of a real capture as latin-1 text, as tshark reads them (so that the
    detectors are tested apart from phonehome's own reassembly)."""
    rows = tshark.fields(
        SHARED / "fixtures" / "real" / name, "tcp.payload", display_filter="tcp.len > 0"
    )
    return [bytes.fromhex(col.split(",")[0]).decode("latin-1") for (col,) in rows]
