"""``key=value`` grammars: URL query strings, form bodies, cookies.

Query and form values are percent-decoded here because that is their grammar (and ``+``
is a space in them); what is still percent-encoded after that was encoded twice and is
left to the URL decoder.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from phonehome.extract.leaf import MAX_SIBLINGS, Leaf, others, sibling_pair
from phonehome.extract.text import to_text

MAX_PAIRS = 10_000

_FORM_SNIFF = re.compile(r"[\w.\-\[\]%*~]+=[^&\s]*(?:&[\w.\-\[\]%*~]+=[^&\s]*)*&?")
_BASE64_LIKE = re.compile(r"[A-Za-z0-9+/_-]+={1,2}")


def looks_like_form(text: str) -> bool:
    """``a=1&b=2`` without a Content-Type saying so; padded Base64 (``eyJ...==``) is not."""
    return (
        "=" in text
        and len(text) <= 1 << 20
        and _BASE64_LIKE.fullmatch(text) is None
        and _FORM_SNIFF.fullmatch(text) is not None
    )


def _decode(part: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    if "%" not in part:
        return part
    return to_text(unquote_to_bytes(part))


def pairs(text: str, sep: str = "&") -> list[tuple[str, str]]:
    """Decoded (key, value) pairs; a piece without ``=`` has an empty value."""
    out: list[tuple[str, str]] = []
    for piece in text.split(sep, MAX_PAIRS)[:MAX_PAIRS]:
        if not piece:
            continue
        k, _, v = piece.partition("=")
        out.append((_decode(k), _decode(v)))
    return out


def cookie_pairs(header_value: str) -> list[tuple[str, str]]:
    """Cookie header pairs; cookie values are not form-encoded, so they stay as sent."""
    out: list[tuple[str, str]] = []
    for piece in header_value.split(";", MAX_PAIRS)[:MAX_PAIRS]:
        k, eq, v = piece.strip().partition("=")
        if not eq:
            k, v = "", k
        v = v.strip()
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1]
        out.append((k.strip(), v))
    return out


def leaves(decoded: list[tuple[str, str]]) -> list[Leaf]:
    """One leaf per pair with a value; the segment is the key."""
    context = [sibling_pair(k, v) for k, v in decoded[: MAX_SIBLINGS + 1]]
    out: list[Leaf] = []
    for i, (k, v) in enumerate(decoded):
        if v:
            slot = i if i <= MAX_SIBLINGS else -1
            out.append((k, k or None, v, None, others(context, slot)))
    return out
