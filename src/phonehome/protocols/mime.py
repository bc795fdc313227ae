"""The Internet message format of a mail's DATA: headers and MIME parts, read within bounds.

A device's alert mail hides its identifiers where a reader of the mail would see them: in
a header (Subject, From, a Message-ID made of the MAC), in a text part that is Base64 or
quoted-printable on the wire, in an attachment's file name. So headers are unfolded and
their RFC 2047 encoded-words decoded (RFC 5322 2.2.3, RFC 2047), multiparts are walked
(RFC 2046 5.1) and each leaf's Content-Transfer-Encoding is undone and its charset applied
(RFC 2045 6). Binary leaves (the JPEG snapshot) are named, never read as text.

A forwarded mail or a bounce embeds another message (``message/rfc822``, RFC 2046 5.2.1;
a delivery report's ``message/delivery-status`` and ``text/rfc822-headers``, RFC 3464 and
6522): it is walked like the outer one, its header fields kept under its section number
(:attr:`Mail.messages`) and its parts numbered below it as IMAP numbers them (RFC 3501
6.4.5: the parts of the message that is part 2 are 2.1, 2.2 ...). The nesting bound counts
embedded messages as it counts multiparts.

Written here rather than with the stdlib ``email`` package: its parser has no bound on
nesting, parts or header count, and its policies raise or defect on hostile input in ways
that would have to be caught around every call; this reader is the few rules a search
needs, with each bound counted (the caller turns the problems into anomalies). Nothing
here raises on bad input.
"""

from __future__ import annotations

import binascii
import re
from typing import Final

from phonehome.extract.text import looks_binary, to_text
from phonehome.model.message import Record

MAX_DEPTH: Final = 8
"""Nested multiparts and embedded messages walked; deeper ones are read as one text leaf
(cut, not hidden)."""
MAX_PARTS: Final = 256
"""Leaves kept per message, and embedded messages; later ones are dropped."""
MAX_HEADERS: Final = 256
"""Header fields kept per header block; later ones are dropped."""
MAX_NAME: Final = 1024
"""Characters kept of a file name."""

Headers = tuple[tuple[str, str], ...]

_TEXT_APPLICATIONS: Final = frozenset(
    (
        "application/json",
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/javascript",
        "application/x-sh",
        "application/x-yaml",
        "application/yaml",
        "application/csv",
        "application/ld+json",
    )
)
"""Application types that are text: read and searched as such."""
_BINARY_PREFIXES: Final = ("image/", "audio/", "video/", "font/", "model/")
"""Media whose bytes are pictures and sound: named, not searched."""
_ENCODED_WORD: Final = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_BETWEEN_WORDS: Final = re.compile(r"(\?=)[ \t\r\n]+(=\?)")
"""Whitespace between two adjacent encoded-words is not text (RFC 2047 6.2)."""
_QP_ESCAPE: Final = re.compile(r"=([0-9A-Fa-f]{2})")
_PARAM: Final = re.compile(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_SECTION_PARAM: Final = re.compile(r"^(.+?)\*(\d+)\*?$")
_EMPTY_LINE: Final = re.compile(rb"\n\r?\n")
_MESSAGES: Final = frozenset(("message/rfc822", "message/global"))
"""A whole message inside a part (RFC 2046 5.2.1; ``global``: with UTF-8 headers, RFC 6532)."""
_HEADER_BLOCKS: Final = frozenset(
    (
        "text/rfc822-headers",
        "message/global-headers",
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
    )
)
"""Parts that are blocks of header fields: a bounced message's headers (RFC 6522 4, RFC
6533), a delivery status (RFC 3464 2.1: ``Final-Recipient``, ``Reporting-MTA`` ...), a
read receipt (RFC 8098 3.1)."""


class MailPart(Record):
    """One leaf of a message's MIME tree, decoded."""

    FIELDS = ("section", "media", "name", "text", "size")
    __slots__ = FIELDS

    section: str
    """IMAP-style part number (RFC 3501 6.4.5): ``1``, ``2.1``; empty for a message that
    is not multipart."""
    media: str
    """``type/subtype``, lower case (``text/plain`` when none was given)."""
    name: str
    """The file name (Content-Disposition ``filename`` or Content-Type ``name``)."""
    text: str
    """The content as text with transfer encoding and charset undone; empty for a binary
    leaf, which is only named."""
    size: int
    """Bytes after the transfer encoding was undone."""

    def __init__(self, section: str, media: str, name: str, text: str, size: int) -> None:
        self.section = section
        self.media = media
        self.name = name
        self.text = text
        self.size = size


class Mail:
    """A parsed message: its header fields, its leaves, and the bounds that cut it."""

    __slots__ = ("headers", "messages", "parts", "problems")

    def __init__(self) -> None:
        self.headers: Headers = ()
        self.parts: list[MailPart] = []
        self.messages: list[tuple[str, Headers]] = []
        """(section, header fields) of each message embedded in this one, outermost
        first: a ``message/rfc822`` part's headers, or a header-block part's fields."""
        self.problems: list[tuple[str, str]] = []
        """(kind, detail): ``mime_depth``, ``mime_parts``, ``header_limit``,
        ``bad_encoding``."""

    def problem(self, kind: str, detail: str) -> None:
        if all(k != kind for k, _ in self.problems):
            self.problems.append((kind, detail))


def parse(data: bytes) -> Mail:
    """Headers and leaves of a message (the DATA of a mail, dot-stuffing already undone)."""
    mail = Mail()
    headers, body = split_head(data, mail)
    mail.headers = headers
    _entity(mail, headers, body, "", 0)
    return mail


def split_head(data: bytes, mail: Mail) -> tuple[Headers, bytes]:
    """The header fields (unfolded, encoded-words decoded) and the body after the empty
    line. Text that does not start with a header field is all body."""
    end, skip = _head_end(data)
    if end < 0:
        end, skip = len(data), 0
    lines = data[:end].split(b"\n")
    if not lines or not _is_field(lines[0]):
        return (), data
    fields: list[tuple[str, str]] = []
    name = ""
    value: list[bytes] = []
    for raw in lines:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t") and name:
            value.append(line)
            continue
        if name:
            _add_field(mail, fields, name, value)
        colon = line.find(b":")
        if colon <= 0:
            name = ""
            continue
        name = line[:colon].strip().decode("ascii", "replace")
        value = [line[colon + 1 :]]
    if name:
        _add_field(mail, fields, name, value)
    return tuple(fields), data[end + skip :]


def _head_end(data: bytes) -> tuple[int, int]:
    """Where the header block ends and the length of the empty line that ends it."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 2, 2
    if lf >= 0:
        return lf + 1, 1
    return -1, 0


def _is_field(line: bytes) -> bool:
    colon = line.find(b":")
    return 0 < colon <= 76 and b" " not in line[:colon].strip()


def _add_field(mail: Mail, fields: list[tuple[str, str]], name: str, value: list[bytes]) -> None:
    if len(fields) >= MAX_HEADERS:
        mail.problem("header_limit", f"more than {MAX_HEADERS} header fields")
        return
    # Unfolding removes the line breaks, keeping the whitespace that follows them.
    text = to_text(b"".join(value)).strip()
    fields.append((name, decode_words(text)))


def decode_words(text: str) -> str:
    """``text`` with its RFC 2047 encoded-words decoded (unknown charsets as latin-1)."""
    if "=?" not in text:
        return text
    text = _BETWEEN_WORDS.sub(r"\1\2", text)
    return _ENCODED_WORD.sub(_word, text)


def _word(match: re.Match[str]) -> str:
    charset = match.group(1).partition("*")[0]  # RFC 2231 5: a language after '*'
    encoding = match.group(2).upper()
    payload = match.group(3)
    if encoding == "B":
        data = _b64(payload.encode("ascii", "replace"))
        if data is None:
            return match.group(0)
    else:
        data = _q(payload)
    return _decode(data, charset)


_B64_DELETE: Final = bytes(
    b for b in range(256) if not (chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/"))
)
"""Bytes that are not Base64 digits: line breaks, padding, stray characters."""


def _b64(data: bytes) -> bytes | None:
    """Lenient Base64: whatever is not a Base64 digit is skipped (mailers wrap lines,
    some pad badly); a dangling sixth bit group is dropped."""
    clean = data.translate(None, _B64_DELETE)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    clean += b"=" * (-len(clean) % 4)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return None


def _q(payload: str) -> bytes:
    """RFC 2047 4.2 'Q': quoted-printable where '_' is a space."""
    text = payload.replace("_", " ")
    out = bytearray()
    pos = 0
    for m in _QP_ESCAPE.finditer(text):
        out += text[pos : m.start()].encode("latin-1", "replace")
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += text[pos:].encode("latin-1", "replace")
    return bytes(out)


def _decode(data: bytes, charset: str) -> str:
    """Bytes in a declared charset; an unknown or missing one falls back to UTF-8 then
    latin-1 (:func:`to_text`), so no byte is lost."""
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, ValueError):
            # unknown, not a text encoding (``base64``, ``rot13``: LookupError), a name
            # codecs refuses (an embedded NUL: ValueError), or bytes it cannot decode
            return to_text(data)
    return to_text(data)


def header_value(headers: Headers, name: str) -> str:
    """The first value of a header field (case-insensitive name), else empty."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return ""


def params(value: str) -> tuple[str, dict[str, str]]:
    """A Content-Type/Content-Disposition value as (lower-case token, parameters), with
    RFC 2231 continuations joined and charset-encoded values decoded."""
    token, _, rest = value.partition(";")
    out: dict[str, str] = {}
    sections: dict[str, list[tuple[int, str, bool]]] = {}
    for m in _PARAM.finditer(";" + rest):
        key = m.group(1).lower()
        raw = m.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        section = _SECTION_PARAM.match(key)
        if section is not None:
            base = section.group(1)
            sections.setdefault(base, []).append((int(section.group(2)), raw, key.endswith("*")))
        elif key.endswith("*"):
            out[key[:-1]] = _extended(raw, True)
        else:
            out[key] = decode_words(raw)
    for base, pieces in sections.items():
        pieces.sort()
        first_encoded = pieces[0][2]
        joined = "".join(p[1] for p in pieces)
        out.setdefault(base, _extended(joined, first_encoded))
    return token.strip().lower(), out


def _extended(value: str, encoded: bool) -> str:
    """An RFC 2231 value: ``charset'language'percent-encoded``."""
    if not encoded:
        return value
    parts = value.split("'", 2)
    if len(parts) != 3:
        return value
    charset, _, text = parts
    data = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and _is_hex(text[i + 1 : i + 3]):
            data.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            data += c.encode("utf-8")
            i += 1
    return _decode(bytes(data), charset)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text)


def transfer_decode(body: bytes, encoding: str, mail: Mail) -> bytes:
    """The body with its Content-Transfer-Encoding undone (RFC 2045 6); an unreadable
    encoding leaves the bytes as they are."""
    if encoding == "base64":
        data = _b64(body)
        if data is None:
            mail.problem("bad_encoding", "Base64 body that does not decode")
            return body
        return data
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(body)
        except (binascii.Error, ValueError):
            mail.problem("bad_encoding", "quoted-printable body that does not decode")
            return body
    return body


def _entity(mail: Mail, headers: Headers, body: bytes, section: str, depth: int) -> None:
    """One MIME entity: a multipart's children in turn, an embedded message, or a leaf."""
    media, ctype = params(header_value(headers, "content-type") or "text/plain")
    if media in _MESSAGES:
        if depth < MAX_DEPTH:
            # A message that is the whole body is part 1 (RFC 3501 6.4.5).
            _message(mail, headers, body, section or "1", depth)
            return
        _too_deep(mail)
        media = "text/plain"
    elif media in _HEADER_BLOCKS and _header_blocks(mail, headers, media, body, section or "1"):
        return
    if media.startswith("multipart/"):
        boundary = ctype.get("boundary", "")
        if depth >= MAX_DEPTH:
            _too_deep(mail)
        elif boundary:
            children = _children(body, boundary.encode("utf-8", "replace"))
            for i, child in enumerate(children, 1):
                if len(mail.parts) >= MAX_PARTS:
                    mail.problem("mime_parts", f"more than {MAX_PARTS} parts")
                    return
                child_headers, child_body = split_head(child, mail)
                number = f"{section}.{i}" if section else str(i)
                _entity(mail, child_headers, child_body, number, depth + 1)
            return
        media = "text/plain"  # no boundary, or too deep: the text as it is
    _leaf(mail, headers, media, ctype, body, section)


def _too_deep(mail: Mail) -> None:
    mail.problem("mime_depth", f"multiparts or messages nested deeper than {MAX_DEPTH}")


def _message(mail: Mail, headers: Headers, body: bytes, section: str, depth: int) -> None:
    """An embedded message: its header fields under its own section, its body walked as a
    message's, one level deeper (a multipart's children are ``section.1``, ``section.2``;
    a single body is ``section.1``, as IMAP numbers them)."""
    if len(mail.messages) >= MAX_PARTS:
        mail.problem("mime_parts", f"more than {MAX_PARTS} parts")
        return
    # RFC 2046 5.2.1 allows only 7bit/8bit/binary here; some senders encode it anyway.
    encoding = header_value(headers, "content-transfer-encoding").strip().lower()
    inner_headers, inner_body = split_head(transfer_decode(body, encoding, mail), mail)
    mail.messages.append((section, inner_headers))
    inner_media, _ = params(header_value(inner_headers, "content-type") or "text/plain")
    number = section if inner_media.startswith("multipart/") else f"{section}.1"
    _entity(mail, inner_headers, inner_body, number, depth + 1)


def _header_blocks(mail: Mail, headers: Headers, media: str, body: bytes, section: str) -> bool:
    """A part made of header blocks (:data:`_HEADER_BLOCKS`): its fields, all blocks
    joined, kept as an embedded message's headers; the part is a leaf whose text is only
    what did not read as fields (cut, not hidden). False when nothing did."""
    if len(mail.messages) >= MAX_PARTS or len(mail.parts) >= MAX_PARTS:
        return False  # _leaf counts it
    encoding = header_value(headers, "content-transfer-encoding").strip().lower()
    data = transfer_decode(body, encoding, mail)
    fields: list[tuple[str, str]] = []
    pos = 0
    size = len(data)
    while len(fields) < MAX_HEADERS:
        while pos < size and data[pos] in (10, 13):
            pos += 1  # the empty lines between blocks
        if pos >= size:
            break
        # Each block is found from where the last ended (split_head on the rest would look
        # for a CRLF and an LF empty line to the end each time: quadratic).
        blank = _EMPTY_LINE.search(data, pos)
        end = blank.start() + 1 if blank is not None else size
        block, _ = split_head(data[pos:end], mail)
        if not block:
            break
        fields += block
        pos = blank.end() if blank is not None else size
    rest = data[pos:]
    if not fields:
        return False
    if len(fields) > MAX_HEADERS or (rest and len(fields) == MAX_HEADERS):
        mail.problem("header_limit", f"more than {MAX_HEADERS} header fields")
        del fields[MAX_HEADERS:]
    mail.messages.append((section, tuple(fields)))
    text = to_text(rest) if rest.strip() and not looks_binary(rest[:4096]) else ""
    mail.parts.append(MailPart(section, media, "", text, len(data)))
    return True


def _children(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between the boundary delimiter lines (RFC 2046 5.1.1); the preamble
    and epilogue are not parts. An unclosed last part counts (the mail was cut)."""
    dash = b"--" + boundary
    out: list[bytes] = []
    current: list[bytes] | None = None
    for line in body.split(b"\n"):
        stripped = line.rstrip(b"\r \t")
        if stripped.startswith(dash):
            tail = stripped[len(dash) :]
            if not tail or tail == b"--":
                if current is not None:
                    out.append(b"\n".join(current).rstrip(b"\r"))
                    if len(out) > MAX_PARTS:
                        return out
                current = None if tail else []
                if tail:
                    break
                continue
        if current is not None:
            current.append(line)
    if current is not None:
        out.append(b"\n".join(current))
    return out


def _leaf(
    mail: Mail, headers: Headers, media: str, ctype: dict[str, str], body: bytes, section: str
) -> None:
    if len(mail.parts) >= MAX_PARTS:
        mail.problem("mime_parts", f"more than {MAX_PARTS} parts")
        return
    encoding = header_value(headers, "content-transfer-encoding").strip().lower()
    data = transfer_decode(body, encoding, mail)
    _, disposition = params(header_value(headers, "content-disposition"))
    name = disposition.get("filename") or ctype.get("name") or ""
    text = ""
    if _textual(media, data):
        text = _decode(data, ctype.get("charset", "").strip())
    mail.parts.append(MailPart(section, media, name[:MAX_NAME], text, len(data)))


def _textual(media: str, data: bytes) -> bool:
    """Whether a leaf is read as text: text and text-like application types; any other
    type only when its bytes are text (a device's octet-stream log), never pictures."""
    if (
        media.startswith("text/")
        or media in _TEXT_APPLICATIONS
        or media.endswith(("+json", "+xml"))
    ):
        return True
    if media.startswith(_BINARY_PREFIXES):
        return False
    return not looks_binary(data[:4096]) and bool(data)
