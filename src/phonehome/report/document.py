"""The scan document as the report formats read it: typed, and tolerant of missing keys.

Every format renders a :class:`ScanView` (the document of docs/scan-json.md and whether
raw values were asked for). The document may come from this run, from the store (written
by an older phonehome) or from a file someone edited, so formats never index it
directly: they read it through :class:`ScanDocument` and :class:`FindingDoc`, which
return a typed value for every field and an empty one (``""``, ``0``, ``{}``, ``[]``)
when a key is missing or of the wrong type. A report of a damaged document shows less;
it never stops.

Display names and order of identifiers come from the catalogue
(:mod:`phonehome.identifiers`); a finding of an identifier this build does not know is
shown under its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phonehome import identifiers
from phonehome.jsondoc import as_dict, as_int, as_list, dicts, strs


@dataclass
class ScanView:
    doc: dict[str, Any]
    """The JSON document of the scan contract (docs/scan-json.md)."""
    revealed: bool


class FindingDoc:
    """One finding of a scan document."""

    __slots__ = ("raw",)

    def __init__(self, raw: object) -> None:
        self.raw: dict[str, Any] = as_dict(raw)

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value under ``key`` (for fields shown as they are)."""
        return self.raw.get(key, default)

    def text(self, key: str, default: str = "?") -> str:
        """The value under ``key`` as text, ``default`` when the key is missing."""
        value = self.raw.get(key)
        return default if value is None else str(value)

    @property
    def identifier(self) -> str | None:
        value = self.raw.get("identifier")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str:
        """The identifier's display name (its id when the catalogue does not know it)."""
        return identifiers.name(self.raw.get("identifier"))

    @property
    def rank(self) -> int:
        return identifiers.rank(self.raw.get("identifier"))

    @property
    def host(self) -> str:
        return self.text("host")

    @property
    def port(self) -> int:
        return as_int(self.raw.get("port"))

    @property
    def protocol(self) -> str:
        return self.text("protocol")

    @property
    def destination_key(self) -> tuple[str, int, str]:
        """(host, port, protocol): what the verdict groups findings by."""
        return (self.host, self.port, self.protocol)

    @property
    def readability(self) -> str:
        return self.text("readability", "")

    @property
    def cleartext(self) -> bool:
        return self.raw.get("readability") == "cleartext"

    @property
    def count(self) -> int:
        return as_int(self.raw.get("count"))

    @property
    def where(self) -> str:
        return self.text("where", "")

    @property
    def encoding(self) -> tuple[str, ...]:
        """The decoder chain, outermost first."""
        return strs(self.raw.get("encoding"))

    @property
    def first_seen(self) -> str:
        return self.text("first_seen", "")

    @property
    def last_seen(self) -> str:
        return self.text("last_seen", "")

    @property
    def packages(self) -> tuple[str, ...]:
        """The sending app's packages (empty when no app was named)."""
        return strs(self.app.get("packages"))

    @property
    def app(self) -> dict[str, Any]:
        return as_dict(self.raw.get("app"))

    @property
    def destination(self) -> dict[str, Any]:
        return as_dict(self.raw.get("destination"))

    @property
    def timeline(self) -> dict[str, Any]:
        return as_dict(self.raw.get("timeline"))

    @property
    def trigger(self) -> dict[str, Any]:
        return as_dict(self.raw.get("trigger"))

    @property
    def severity(self) -> dict[str, Any]:
        return as_dict(self.raw.get("severity"))

    @property
    def excerpt(self) -> dict[str, Any]:
        return as_dict(self.raw.get("excerpt"))

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return dicts(self.raw.get("evidence"))

    @property
    def times(self) -> list[Any]:
        return as_list(self.raw.get("times"))

    def shown_value(self, revealed: bool) -> Any:
        """The raw value when the document was revealed and has it, else the redacted one."""
        if revealed and "value" in self.raw:
            return self.raw["value"]
        return self.raw.get("value_redacted")


class ScanDocument:
    """A scan document (docs/scan-json.md), read defensively."""

    __slots__ = ("findings", "raw", "revealed")

    def __init__(self, view: ScanView) -> None:
        self.raw: dict[str, Any] = as_dict(view.doc)
        self.revealed: bool = bool(self.raw.get("revealed")) or view.revealed
        """Raw values are shown: the user asked (``--reveal``) or the document says so."""
        self.findings: list[FindingDoc] = [FindingDoc(f) for f in as_list(self.raw.get("findings"))]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return dicts(self.raw.get("inputs"))

    @property
    def device(self) -> dict[str, Any]:
        return as_dict(self.raw.get("device"))

    @property
    def device_name(self) -> str:
        """The profile's device name, or "the device"."""
        name = self.device.get("name")
        return str(name) if name else "the device"

    @property
    def tool(self) -> dict[str, Any]:
        return as_dict(self.raw.get("tool"))

    @property
    def anomalies(self) -> dict[str, Any]:
        return as_dict(self.raw.get("anomalies"))

    @property
    def not_inspected(self) -> list[dict[str, Any]]:
        return dicts(self.raw.get("not_inspected"))

    @property
    def stats(self) -> dict[str, Any]:
        return as_dict(self.raw.get("stats"))
