"""The recursive expansion of one value into Fields: structures, then decoders.

Every value is yielded as a Field, then (within bounds) parsed as a structure (JSON,
XML, form, protobuf, multipart) whose leaves are expanded in turn, or peeled by a decoder
whose output is expanded in turn. The chain of structure and decoder names grows by one
per layer; the ``where`` path grows by one ``>``-joined segment per structure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from phonehome.extract import decoders, form, jsonwalk, multipart, protobuf, xmlwalk
from phonehome.extract.leaf import Leaf, Siblings
from phonehome.extract.text import looks_binary, to_text
from phonehome.model.anomaly import Anomalies
from phonehome.model.field import Field

MAX_CHAIN = 6
"""Layers of structure + encoding, e.g. ``gzip > base64 > json > base64 > json`` is 5."""
MAX_FIELDS = 20_000
"""Fields from one message; beyond this the message is a flood, not a report."""
MAX_DECODED = 16 << 20
"""Bytes all decoders together may produce for one message."""
MAX_STRUCTURE_INPUT = 4 << 20
"""Largest text parsed as JSON/XML/form (bodies are already bounded upstream)."""

_MEDIA_SKIP = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"RIFF",
    b"%PDF",
    b"PK\x03\x04",
    b"\x00\x00\x00",
)
"""Media and archives: binary, but not where a device hides an identifier as protobuf."""


SHORT = 8
"""Below this many characters only percent-decoding can apply (Base64 needs 8, hex 12)."""
LEAF = "leaf"
"""Structure hint: yield the value as it is, do not look inside (the caller already did)."""


class Budget:
    """Per-message counters so a hostile message cannot make extraction unbounded."""

    __slots__ = ("anomalies", "decoded", "fields", "frame", "input", "noted")

    def __init__(self, anomalies: Anomalies | None, input: int, frame: int) -> None:
        self.anomalies = anomalies
        self.input = input
        self.frame = frame
        self.fields = 0
        self.decoded = 0
        self.noted: dict[str, str] = {}
        """Kind -> detail of the bounds that cut this message, in the order they did."""

    def note(self, kind: str, detail: str) -> None:
        """Record a bound that cut extraction, once per kind and message."""
        if kind in self.noted:
            return
        self.noted[kind] = detail
        if self.anomalies is not None:
            self.anomalies.add(kind, self.input, self.frame, detail)


def where(part: str, path: str) -> str:
    return f"{part}:{path}" if path else part


def _join(path: str, segment: str) -> str:
    if not segment:
        return path
    return f"{path}>{segment}" if path else segment


def expand(
    budget: Budget,
    part: str,
    path: str,
    chain: tuple[str, ...],
    key: str | None,
    siblings: Siblings,
    text: str,
    raw: bytes | None = None,
    structure: str | None = None,
    context: str | None = None,
) -> Iterator[Field]:
    """``text`` as a Field and everything that can be decoded out of it (see
    :func:`expand_into`)."""
    out: list[Field] = []
    expand_into(out, budget, part, path, chain, key, siblings, text, raw, structure, context)
    return iter(out)


def expand_into(
    out: list[Field],
    budget: Budget,
    part: str,
    path: str,
    chain: tuple[str, ...],
    key: str | None,
    siblings: Siblings,
    text: str,
    raw: bytes | None = None,
    structure: str | None = None,
    context: str | None = None,
) -> None:
    """Append ``text`` as a Field to ``out``, then everything that can be decoded out of it.

    One list is passed down the recursion instead of a generator per layer: a field
    went through every layer's ``yield from`` on its way out, which cost more than the
    field itself on leak-dense traffic (benchmarks/README.md, issue 15).

    ``context`` is the text of the structure ``text`` is a leaf of (kept on the Field
    for evidence excerpts).

    ``raw`` is the value's bytes when it has them (bodies, payloads, decoded outputs):
    binary decoders need bytes. ``structure`` is a hint from a Content-Type
    (``form``, ``multipart;<boundary>``) for what sniffing cannot tell, or :data:`LEAF`.
    """
    if not text or text.isspace():
        return
    if budget.fields >= MAX_FIELDS:
        budget.note("extract.field_limit", f"more than {MAX_FIELDS} fields in one message")
        return
    budget.fields += 1
    out.append(Field(text, where(part, path), chain, key, siblings, context))
    if structure == LEAF or jsonwalk.is_number(text):
        return
    if len(text) < SHORT and "%" not in text and raw is None:
        return  # shorter than any Base64/hex/JSON worth opening: most values stop here
    if len(chain) >= MAX_CHAIN:
        if _decodable(text):
            budget.note("extract.depth_limit", f"more than {MAX_CHAIN} layers at {part}")
        return
    if structure is not None and structure.startswith("multipart;") and raw is not None:
        parts = multipart.leaves(raw, structure.partition(";")[2])
        if parts is not None:
            for segment, k, t, r, sib in parts:
                expand_into(
                    out, budget, part, _join(path, segment), (*chain, "multipart"), k, sib, t, r
                )
            return
    if raw is not None:
        fmt = decoders.compressed(raw)
        if fmt is not None:
            result = decoders.inflate(raw, fmt)
            if result is not None:
                data, cut = result
                if cut:
                    detail = f"{fmt} output cut at {len(data)} bytes"
                    budget.note("extract.decompress_limit", detail)
                if _spend(budget, data):
                    expand_into(
                        out, budget, part, path, (*chain, fmt), key, siblings, to_text(data), data
                    )
                return
        control = looks_binary(raw)
        if control or (len(text) == len(raw) and not raw.isascii()):
            # control bytes, or bytes that are not UTF-8 (read as latin-1): maybe binary
            handled = _binary(out, budget, part, path, chain, key, siblings, raw)
            if handled or control:
                return
    found = _structure(budget, text, structure)
    if found is not None:
        name, leaves = found
        for segment, k, t, r, sib in leaves:
            expand_into(
                out, budget, part, _join(path, segment), (*chain, name), k, sib, t, r, None, text
            )
        return
    _decoded(out, budget, part, path, chain, key, siblings, text)


def _decodable(text: str) -> bool:
    return (
        jsonwalk.looks_like_json(text)
        or decoders.url(text) is not None
        or decoders.base64(text) is not None
        or decoders.hex_text(text) is not None
    )


def _spend(budget: Budget, out: bytes) -> bool:
    budget.decoded += len(out)
    if budget.decoded > MAX_DECODED:
        budget.note("extract.decoded_limit", f"decoders produced more than {MAX_DECODED} bytes")
        return False
    return True


def _binary(
    out: list[Field],
    budget: Budget,
    part: str,
    path: str,
    chain: tuple[str, ...],
    key: str | None,
    siblings: Siblings,
    raw: bytes,
) -> bool:
    """Protobuf or raw deflate; returns whether either recognised the bytes."""
    if raw.startswith(_MEDIA_SKIP) or len(raw) > decoders.MAX_INPUT:
        return False
    parsed = protobuf.leaves(raw)
    if parsed is not None:
        for segment, k, t, r, sib in parsed[0]:
            expand_into(out, budget, part, _join(path, segment), (*chain, "protobuf"), k, sib, t, r)
        return True
    inflated = decoders.raw_deflate(raw)
    if inflated is None:
        return False
    if _spend(budget, inflated):
        expand_into(
            out,
            budget,
            part,
            path,
            (*chain, "deflate"),
            key,
            siblings,
            to_text(inflated),
            inflated,
        )
    return True


def _structure(budget: Budget, text: str, hint: str | None) -> tuple[str, list[Leaf]] | None:
    if len(text) > MAX_STRUCTURE_INPUT:
        budget.note("extract.size_limit", f"value of {len(text)} characters not parsed")
        return None
    if jsonwalk.looks_like_json(text):
        doc = jsonwalk.parse(text)
        if doc is jsonwalk.TOO_DEEP:
            budget.note("extract.nesting_limit", "JSON nested too deep to parse")
        elif doc is not None:
            return "json", _bounded(budget, jsonwalk.walk(doc))
    if xmlwalk.looks_like_xml(text):
        root = xmlwalk.parse(text)
        if root is not None:
            return "xml", _bounded(budget, xmlwalk.walk(root))
    if hint == "form" or form.looks_like_form(text):
        return "form", form.leaves(form.pairs(text))
    return None


def _bounded(budget: Budget, walked: Iterator[Leaf | None]) -> list[Leaf]:
    out: list[Leaf] = []
    for leaf in walked:
        if leaf is None:
            budget.note("extract.nesting_limit", "structure nested deeper than the walker bound")
        elif len(out) < MAX_FIELDS:
            out.append(leaf)
    return out


def _decoded(
    out: list[Field],
    budget: Budget,
    part: str,
    path: str,
    chain: tuple[str, ...],
    key: str | None,
    siblings: Siblings,
    text: str,
) -> None:
    if len(text) > decoders.MAX_INPUT:
        budget.note("extract.size_limit", f"value of {len(text)} characters not decoded")
        return
    if len(text) >= 16:
        tokens = decoders.jwt(text)
        if tokens is not None:
            for segment, token_part in tokens:
                if _spend(budget, token_part):
                    expand_into(
                        out,
                        budget,
                        part,
                        _join(path, segment),
                        (*chain, "jwt"),
                        key,
                        siblings,
                        to_text(token_part),
                        token_part,
                    )
            return
    for name, data, decoded in _decodings(text):
        if _spend(budget, data):
            expand_into(out, budget, part, path, (*chain, name), key, siblings, decoded, data)


Decoding = tuple[str, bytes, str]
"""(decoder name, output bytes, output as text)."""
DECODINGS_MEMO = 4096
DECODINGS_MEMO_TEXT = 256
_decodings_memo: Final[dict[str, tuple[Decoding, ...]]] = {}
"""What the decoders make of recent short texts (all forgotten when full). Header values,
JSON values and path segments come back in message after message, and trying URL, Base64
and hex on each, only to refuse most, was a third of the extraction of leak-dense traffic
(``application/json`` is valid Base64 by alphabet: it is decoded, then refused as noise)."""


def _decodings(text: str) -> tuple[Decoding, ...]:
    """The URL, Base64 and hex decodings of ``text`` that give something else."""
    short = len(text) <= DECODINGS_MEMO_TEXT
    if short:
        known = _decodings_memo.get(text)
        if known is not None:
            return known
    found: list[Decoding] = []
    for name, data in (
        ("url", decoders.url(text)),
        ("base64", decoders.base64(text)),
        ("hex", decoders.hex_text(text)),
    ):
        if data is not None:
            decoded = to_text(data)
            if decoded != text:
                found.append((name, data, decoded))
    result = tuple(found)
    if short:
        if len(_decodings_memo) >= DECODINGS_MEMO:
            _decodings_memo.clear()
        _decodings_memo[text] = result
    return result
