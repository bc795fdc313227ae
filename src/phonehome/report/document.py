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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from phonehome import identifiers
from phonehome.jsondoc import as_dict, as_int, as_list, dicts, opt_str, strs


@dataclass
class ScanView:
    doc: dict[str, Any]
    """The JSON document of the scan contract (docs/scan-json.md)."""
    revealed: bool


T = TypeVar("T")


class _Key(Generic[T]):
    """A document key read as a typed attribute: ``host = _Key("host", _text("?"))``."""

    def __init__(self, key: str, read: Callable[[object], T]) -> None:
        self.key = key
        self.read = read

    def __get__(self, doc: Any, owner: Any = None) -> T:
        return self.read(doc.raw.get(self.key))


def _text(default: str) -> Callable[[object], str]:
    """Text as it stands (a number shown as its digits), ``default`` when missing."""
    return lambda value: default if value is None else str(value)


class FindingDoc:
    """One finding of a scan document."""

    __slots__ = ("raw",)

    identifier = _Key("identifier", opt_str)
    host = _Key("host", _text("?"))
    port = _Key("port", as_int)
    protocol = _Key("protocol", _text("?"))
    readability = _Key("readability", _text(""))
    count = _Key("count", as_int)
    where = _Key("where", _text(""))
    encoding = _Key("encoding", strs)
    """The decoder chain, outermost first."""
    first_seen = _Key("first_seen", _text(""))
    last_seen = _Key("last_seen", _text(""))
    app = _Key("app", as_dict)
    destination = _Key("destination", as_dict)
    timeline = _Key("timeline", as_dict)
    trigger = _Key("trigger", as_dict)
    severity = _Key("severity", as_dict)
    excerpt = _Key("excerpt", as_dict)
    evidence = _Key("evidence", dicts)
    times = _Key("times", as_list)
    decrypted = _Key("decrypted", as_dict)
    """How a finding read from decrypted TLS/QUIC was read: via, suite, keys, alpn."""

    def __init__(self, raw: object) -> None:
        self.raw: dict[str, Any] = as_dict(raw)

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value under ``key`` (for fields shown as they are)."""
        return self.raw.get(key, default)

    def text(self, key: str, default: str = "?") -> str:
        """The value under ``key`` as text, ``default`` when the key is missing."""
        return _text(default)(self.raw.get(key))

    @property
    def name(self) -> str:
        """The identifier's display name (its id when the catalogue does not know it)."""
        return identifiers.name(self.raw.get("identifier"))

    @property
    def rank(self) -> int:
        return identifiers.rank(self.raw.get("identifier"))

    @property
    def destination_key(self) -> tuple[str, int, str]:
        """(host, port, protocol): what the verdict groups findings by."""
        return (self.host, self.port, self.protocol)

    @property
    def cleartext(self) -> bool:
        return self.raw.get("readability") == "cleartext"

    @property
    def packages(self) -> tuple[str, ...]:
        """The sending app's packages (empty when no app was named)."""
        return strs(self.app.get("packages"))

    @property
    def app_names(self) -> tuple[str, ...]:
        """Who sent it, as a reader says it: the packages; else PCAPdroid's label (``…``
        when cut); else the uid, with its name when Android fixes it (``uid 1001, radio
        (telephony processes)``). Empty when no app was named."""
        if self.packages:
            return self.packages
        label = self.app.get("label")
        if isinstance(label, str) and label:
            return (label,)
        uid = self.app.get("uid")
        if isinstance(uid, int) and not isinstance(uid, bool):
            name = self.app.get("uid_name")
            return (f"uid {uid}, {name}" if isinstance(name, str) and name else f"uid {uid}",)
        return ()

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

    inputs = _Key("inputs", dicts)
    """Each capture: path, format, SHA-256, size, packets, messages, anomalies."""
    device = _Key("device", as_dict)
    """The profile's name and keyed id; empty when the scan had no profile."""
    tool = _Key("tool", as_dict)
    anomalies = _Key("anomalies", as_dict)
    """Damage counted by kind, over every input."""
    not_inspected = _Key("not_inspected", dicts)
    """Destinations reached only encrypted: host and number of hellos."""
    not_identifiers = _Key("not_identifiers", dicts)
    """Placeholder values seen and dismissed: identifier, constant, why, count."""
    stats = _Key("stats", as_dict)

    @property
    def device_name(self) -> str:
        """The profile's device name, or "the device"."""
        name = self.device.get("name")
        return str(name) if name else "the device"

    def stopped_early(self) -> list[tuple[str, str]]:
        """(input path, what happened) for each input whose reading stopped before its end:
        every format says it in words, since the findings may miss what came after."""
        from phonehome.model.anomaly import stopped_early

        return [
            (str(i.get("path")), why)
            for i in self.inputs
            for why in stopped_early(as_dict(i.get("anomalies")))
        ]


def incomplete_line(path: str, why: str) -> str:
    """The one sentence every format uses for an input that was not read to its end."""
    return f"Results may be incomplete: in {path}, {why}; whatever followed was not read."


KEY_SOURCES = {"file": "the key log", "dsb": "the capture's own key log (pcapng DSB)"}


def how_sent(findings: Iterable[FindingDoc]) -> tuple[str, str]:
    """How the worst of these findings travelled, for the report sentences: ``(how,
    afterwards)``, e.g. ``("inside TLS 1.3", "read with the key log")``, ``("in clear text",
    "")``. A finding read from decrypted TLS/QUIC is never called clear text."""
    fs = list(findings)
    readability = {f.readability for f in fs}
    if "cleartext" in readability:
        return "in clear text", ""
    if "decrypted" in readability:
        for f in fs:
            how = f.decrypted
            if how.get("via"):
                source = KEY_SOURCES.get(str(how.get("keys")), "the key log")
                return f"inside {how['via']}", f"read with {source}"
        return "encrypted on the wire (seen decrypted)", ""
    return "encrypted", ""


def coverage_sentence(decryption: object) -> str | None:
    """The coverage line of a report: ``decrypted 12 of 40 TLS connections and 3 of 5
    QUIC connections; keys missing for 28 (top servers: a.example 20, ...)``. None when
    there was neither a TLS/QUIC connection nor a key log (nothing to say)."""
    if not isinstance(decryption, dict):
        return None
    tls = as_dict(decryption.get("tls"))
    quic = as_dict(decryption.get("quic"))
    keylog = as_dict(decryption.get("key_log"))
    total = as_int(tls.get("connections")) + as_int(quic.get("connections"))
    has_keys = as_int(keylog.get("client_randoms")) > 0
    wifi = wifi_words(decryption.get("wifi"))
    if not total and not has_keys:
        return wifi or None
    text = (
        f"decrypted {as_int(tls.get('decrypted'))} of {as_int(tls.get('connections'))} TLS "
        f"connections and {as_int(quic.get('decrypted'))} of "
        f"{as_int(quic.get('connections'))} QUIC connections"
    )
    servers = as_dict(decryption.get("servers"))
    for verdict, what in _VERDICT_WORDS:
        n = as_int(tls.get(verdict)) + as_int(quic.get(verdict))
        if not n:
            continue
        text += f"; {what} for {n}"
        top = dicts(servers.get(verdict))
        if top:
            named = ", ".join(f"{x.get('host')} {x.get('connections')}" for x in top[:5])
            more = ", …" if len(top) > 5 else ""
            text += f" (top servers: {named}{more})"
    if not has_keys:
        text += "; no key log was given (--keylog FILE, or a pcapng with its TLS keys)"
    return f"{wifi}; {text}" if wifi else text


def wifi_words(wifi: object) -> str:
    """``decrypted 1,234 802.11 frames with 2 handshakes (17 not decrypted)``, or "" when
    no ``--wifi-key`` was given."""
    if not isinstance(wifi, dict):
        return ""
    done = as_int(wifi.get("frames_decrypted"))
    left = as_int(wifi.get("frames_not_decrypted"))
    shakes = as_int(wifi.get("handshakes"))
    text = (
        f"decrypted {done:,} 802.11 frames with {shakes:,} "
        f"handshake{'' if shakes == 1 else 's'} (--wifi-key)"
    )
    return text + (f", {left:,} not decrypted" if left else "")


_VERDICT_WORDS = (
    ("keys_missing", "keys missing"),
    ("wrong_key", "wrong or stale keys"),
    ("unsupported", "not decryptable (protocol version or cipher suite)"),
    ("incomplete", "handshake not captured whole"),
)
