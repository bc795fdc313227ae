"""Fields and matches: what the extract and detect stages pass on.

A :class:`Field` is one piece of text taken out of an outgoing message, with where it was
found and the chain of decoders that produced it. A :class:`Match` is one identifier
found in one field.
"""

from __future__ import annotations

from dataclasses import dataclass

from phonehome.model.message import Message


@dataclass(frozen=True, slots=True)
class Field:
    text: str
    """The decoded text to search. Bytes that are not UTF-8 are decoded as latin-1 so
    every byte maps to one character and hex/Base64/digit patterns still line up."""
    where: str
    """Place in the message, grammar ``<part>[:<path>]`` (see docs/fields.md), e.g.
    ``http.query:imei``, ``http.body:$.data>$.IMEI1``, ``http.header:User-Agent``,
    ``dns.qname:label[0]``, ``mqtt.payload``, ``udp.payload``."""
    encoding: tuple[str, ...] = ()
    """Decoders applied, outermost first, e.g. ``("base64", "json")``."""
    key: str | None = None
    """The innermost key the value sat under (query parameter, JSON key, header name)."""
    siblings: tuple[tuple[str, str], ...] = ()
    """Other scalar key/value pairs of the same object or query (bounded), lower-cased
    keys: the context pattern detectors need (lat beside lon, lac beside cid)."""
    context: str | None = None
    """The decoded text of the structure this value was a leaf of (the JSON document a
    key's value came from), for evidence excerpts; None for whole parts."""


@dataclass(frozen=True, slots=True)
class Match:
    detector: str
    """Stable detector id, e.g. ``PH-IMEI``; never changes once released."""
    identifier: str
    """imei meid imsi iccid msisdn serial android_id ad_id mac email location cell_id"""
    value: str
    """The identifier's normal form (IMEI digits, MAC lower-case with colons, ...)."""
    start: int
    end: int
    """Span in ``field.text`` of the matching text (for evidence excerpts)."""
    confidence: float
    profile_match: bool
    field: Field
    form: str = "plain"
    """How the value appeared: plain, urlencoded, base64, hex, md5, sha1, sha256, sha512,
    imei-body, scaled-1e6 ... (known-value detector), or ``pattern``."""
    more: int = 0
    """Further occurrences of the same value in the same field that the detect stage
    counted but did not keep (see :data:`phonehome.detect.spans.MAX_PER_VALUE`)."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A match in the message that carried it: the unit findings aggregate."""

    match: Match
    message: Message
