"""Hand-built fields and profiles for the detector tests, and the one shape of their
hit/miss tables (as detect-secrets does it: each detector's test file is a list of cases
and one parametrised test that checks them all the same way)."""

from __future__ import annotations

from dataclasses import dataclass

from phonehome.detect.base import Detector
from phonehome.model.field import Field, Match
from phonehome.model.profile import DeviceProfile
from tests import tshark
from tests.conftest import SHARED


def field(text: str, key: str | None = None, **siblings: str) -> Field:
    return Field(text, f"test:{key}" if key else "test", (), key, tuple(siblings.items()))


def values(matches: list[Match], identifier: str | None = None) -> list[str]:
    return [m.value for m in matches if identifier is None or m.identifier == identifier]


@dataclass(frozen=True)
class Case:
    """A field and what one detector must report in it: ``value`` (a hit) or nothing."""

    field: Field
    value: str | None
    profile: DeviceProfile | None = None

    def __str__(self) -> str:  # the test id
        siblings = "".join(f",{k}={v}" for k, v in self.field.siblings)
        where = f"@{self.field.key}{siblings}" if self.field.key or siblings else ""
        country = f"[{self.profile.home_country}]" if self.profile else ""
        return f"{'hit' if self.value is not None else 'miss'}:{self.field.text}{where}{country}"

    def check(self, detector: type[Detector]) -> None:
        found = detector(self.profile).scan(self.field)
        if self.value is None:
            assert found == []
            return
        assert values(found) == [self.value]
        assert (found[0].detector, found[0].identifier) == (detector.id, detector.identifier)


def hit(
    text: str | Field, key: str | None = None, *, value: str, profile: DeviceProfile | None = None
) -> Case:
    """The detector reports exactly ``value`` (its normal form) in this text or field."""
    return Case(text if isinstance(text, Field) else field(text, key), value, profile)


def miss(
    text: str | Field, key: str | None = None, *, profile: DeviceProfile | None = None
) -> Case:
    """The detector reports nothing in this text or field."""
    return Case(text if isinstance(text, Field) else field(text, key), None, profile)


def fixture_payloads(name: str) -> list[str]:
    """TCP payloads of a real capture as latin-1 text, as tshark reads them (so that the
    detectors are tested apart from phonehome's own reassembly)."""
    rows = tshark.fields(
        SHARED / "fixtures" / "real" / name, "tcp.payload", display_filter="tcp.len > 0"
    )
    return [bytes.fromhex(col.split(",")[0]).decode("latin-1") for (col,) in rows]
