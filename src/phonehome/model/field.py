"""Fields and matches: what the extract and detect stages pass on.

A :class:`Field` is one piece of text taken out of an outgoing message, with where it was
found and the chain of decoders that produced it. A :class:`Match` is one identifier
found in one field.

Both are :class:`~phonehome.model.message.Record` classes, compiled with the extraction
and detection stages (:mod:`phonehome.native`): a scan of leak-dense traffic makes a
Field for every value of every outgoing message, and as frozen dataclasses their
``__init__`` (one ``object.__setattr__`` per attribute) was a visible share of it.
"""

from __future__ import annotations

from typing import Final

from phonehome.model.message import Message, Record


class Field(Record):
    FIELDS = ("text", "where", "encoding", "key", "siblings", "context")
    __slots__ = FIELDS

    text: Final[str]
    """The decoded text to search. Bytes that are not UTF-8 are decoded as latin-1 so
    every byte maps to one character and hex/Base64/digit patterns still line up."""
    where: Final[str]
    """Place in the message, grammar ``<part>[:<path>]`` (see docs/fields.md), e.g.
    ``http.query:imei``, ``http.body:$.data>$.IMEI1``, ``http.header:User-Agent``,
    ``dns.qname:label[0]``, ``mqtt.payload``, ``udp.payload``."""
    encoding: Final[tuple[str, ...]]
    """Decoders applied, outermost first, e.g. ``("base64", "json")``."""
    key: Final[str | None]
    """The innermost key the value sat under (query parameter, JSON key, header name)."""
    siblings: Final[tuple[tuple[str, str], ...]]
    """Other scalar key/value pairs of the same object or query (bounded), lower-cased
    keys: the context pattern detectors need (lat beside lon, lac beside cid)."""
    context: Final[str | None]
    """The decoded text of the structure this value was a leaf of (the JSON document a
    key's value came from), for evidence excerpts; None for whole parts."""

    def __init__(
        self,
        text: str,
        where: str,
        encoding: tuple[str, ...] = (),
        key: str | None = None,
        siblings: tuple[tuple[str, str], ...] = (),
        context: str | None = None,
    ) -> None:
        self.text = text
        self.where = where
        self.encoding = encoding
        self.key = key
        self.siblings = siblings
        self.context = context


class Match(Record):
    FIELDS = (
        "detector",
        "identifier",
        "value",
        "start",
        "end",
        "confidence",
        "profile_match",
        "field",
        "form",
        "more",
    )
    __slots__ = FIELDS

    detector: Final[str]
    """Stable detector id, e.g. ``PH-IMEI``; never changes once released."""
    identifier: Final[str]
    """imei meid imsi iccid msisdn serial android_id ad_id mac email location cell_id"""
    value: Final[str]
    """The identifier's normal form (IMEI digits, MAC lower-case with colons, ...)."""
    start: Final[int]
    end: Final[int]
    """Span in ``field.text`` of the matching text (for evidence excerpts)."""
    confidence: Final[float]
    profile_match: Final[bool]
    field: Final[Field]
    form: Final[str]
    """How the value appeared: plain, urlencoded, base64, hex, md5, sha1, sha256, sha512,
    imei-body, scaled-1e6 ... (known-value detector), or ``pattern``."""
    more: Final[int]
    """Further occurrences of the same value in the same field that the detect stage
    counted but did not keep (see :data:`phonehome.detect.spans.MAX_PER_VALUE`)."""

    def __init__(
        self,
        detector: str,
        identifier: str,
        value: str,
        start: int,
        end: int,
        confidence: float,
        profile_match: bool,
        field: Field,
        form: str = "plain",
        more: int = 0,
    ) -> None:
        self.detector = detector
        self.identifier = identifier
        self.value = value
        self.start = start
        self.end = end
        self.confidence = confidence
        self.profile_match = profile_match
        self.field = field
        self.form = form
        self.more = more

    def with_more(self, more: int) -> Match:
        """This match counting ``more`` further occurrences."""
        return Match(
            self.detector,
            self.identifier,
            self.value,
            self.start,
            self.end,
            self.confidence,
            self.profile_match,
            self.field,
            self.form,
            more,
        )


class Occurrence(Record):
    """A match in the message that carried it: the unit findings aggregate."""

    FIELDS = ("match", "message")
    __slots__ = FIELDS

    match: Final[Match]
    message: Final[Message]

    def __init__(self, match: Match, message: Message) -> None:
        self.match = match
        self.message = message
