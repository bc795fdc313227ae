"""``multipart/form-data`` bodies: one leaf per part, named by its form field name.

Parts are kept as bytes (a part may be a gzip file or a protobuf blob) so the engine can
run binary decoders on them.
"""

from __future__ import annotations

import re

from phonehome.extract.leaf import MAX_SIBLINGS, Leaf, others, sibling_pair
from phonehome.extract.text import to_text

MAX_PARTS = 1_000

_BOUNDARY = re.compile(r';\s*boundary=(?:"([^"]{1,200})"|([^\s;]{1,200}))', re.IGNORECASE)
_NAME = re.compile(rb'[;\s]name="([^"]*)"|[;\s]name=([^\s;]+)', re.IGNORECASE)
_FILENAME = re.compile(rb'filename="([^"]*)"', re.IGNORECASE)


def boundary(content_type: str) -> str | None:
    m = _BOUNDARY.search(content_type)
    if m is None:
        return None
    return m.group(1) or m.group(2)


def _split_head(part: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = part.find(sep)
        if i >= 0:
            return part[:i], part[i + len(sep) :]
    return b"", part


def leaves(body: bytes, marker: str) -> list[Leaf] | None:
    """Parts with their names; None when the boundary does not occur in the body."""
    delimiter = b"--" + marker.encode("latin-1", "replace")
    chunks = body.split(delimiter, MAX_PARTS + 1)
    if len(chunks) < 2:
        return None
    named: list[tuple[str, bytes]] = []
    for chunk in chunks[1 : MAX_PARTS + 1]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        head, content = _split_head(chunk)
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        m = _NAME.search(head)
        name = to_text(m.group(1) if m.group(1) is not None else m.group(2)) if m else ""
        if not name:
            fm = _FILENAME.search(head)
            name = to_text(fm.group(1)) if fm else ""
        named.append((name, content))
    context: list[tuple[str, str]] = []
    for name, content in named[: MAX_SIBLINGS + 1]:
        context.append(sibling_pair(name, to_text(content[:256]) if len(content) <= 256 else ""))
    out: list[Leaf] = []
    for i, (name, content) in enumerate(named):
        if content:
            slot = i if i <= MAX_SIBLINGS else -1
            out.append((name, name or None, to_text(content), content, others(context, slot)))
    return out
