"""SIP (RFC 3261) over UDP and TCP: requests and responses, headers, URIs, IMS extensions.

A VoLTE/VoWiFi phone registers with its IMS network in SIP, and the REGISTER carries the
subscriber and the device in clear wherever the signalling is not in IPsec or TLS:
the IMSI as the user part of ``sip:<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org`` (Request-URI,
From, To, Authorization ``username``), the IMEI as ``+sip.instance="<urn:gsma:imei:...>"``
on the Contact (RFC 7254/7255), the phone number in ``tel:`` and ``sip:+...;user=phone``
URIs and ``P-Asserted-Identity``, and the serving cell in ``P-Access-Network-Info``
(RFC 7315, TS 24.229 7.2A.4; for IEEE 802.11 access, the access point's BSSID). Ordinary
VoIP phones send their account names and lines the same way.

Recognised by content on any port (5060 is only the usual one): a request line
``METHOD sip:...`` / ``tel:`` / ``urn:`` or a status line ``SIP/2.0 NNN``. Over UDP one
datagram is one message (RFC 3261 18.3); over TCP messages are framed by
Content-Length, with the RFC 5626 CRLF keep-alives between them skipped.

Fields (docs/fields.md): the Request-URI and every address header's URI as
``sip.uri:<Header>``, each header as ``sip.header:<Header>`` and its parameters as
``sip.header:<Header>.<param>`` (``Contact.+sip.instance``), the decoded access network
as ``sip.header:P-Access-Network-Info>ecgi`` (or ``>bssid``), and the body (SDP) as
``sip.body``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import LEAF, Budget, expand
from phonehome.extract.leaf import escape_segment
from phonehome.extract.text import to_text
from phonehome.model.field import Field
from phonehome.model.message import Content, Headers, Message, RawPayload, Record, header
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost, UdpHost
from phonehome.protocols.threegpp import location_fields, pani_locations

MAX_HEADER: Final = 16 << 10
"""Longest start line + header block (SIP messages are a few hundred bytes; IMS ones ~2 KB)."""
MAX_BODY: Final = 1 << 20
"""Body bytes kept; a longer Content-Length is counted and the message cut."""
MAX_HEADERS: Final = 256

_REQUEST: Final = re.compile(rb"([A-Z][A-Z-]{1,31}) ((?:sips?|tel|urn):[^ \r\n]{1,8192}) SIP/2\.0")
_REQUEST_START: Final = re.compile(rb"[A-Z][A-Z-]{1,31} (?:sips?|tel|urn):")
_STATUS: Final = re.compile(rb"SIP/2\.0 ([1-6][0-9]{2})(?: ([^\r\n]*))?")
_RESYNC: Final = re.compile(
    rb"(?m)^(?:[A-Z][A-Z-]{1,31} (?:sips?|tel|urn):[^ \r\n]{1,8192} SIP/2\.0"
    rb"|SIP/2\.0 [1-6][0-9]{2} )"
)

COMPACT: Final[dict[str, str]] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
"""Compact header forms (RFC 3261 7.3.3 and the extensions that define one)."""

ADDRESS_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Contact",
        "Reply-To",
        "Refer-To",
        "Referred-By",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "P-Associated-URI",
        "P-Called-Party-ID",
        "P-Served-User",
        "Remote-Party-ID",
        "Diversion",
        "History-Info",
        "Path",
        "Service-Route",
        "Route",
        "Record-Route",
    )
)
"""Headers whose values are name-addr / addr-spec lists (RFC 3261 20, RFC 3325, 3455 ...)."""

NOISE_HEADERS: Final = frozenset(
    (
        "content-length",
        "max-forwards",
        "cseq",
        "expires",
        "min-expires",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-type",
        "allow-events",
        "session-expires",
        "min-se",
        "rseq",
        "rack",
        "security-client",
        "security-server",
        "security-verify",
    )
)
"""Protocol mechanics from a small vocabulary: never personal, not searched."""

_AUTH_HEADERS: Final = frozenset(("authorization", "proxy-authorization"))
PEER_KEY: Final = "peer"
"""Key of a field naming the other party (``phonehome.detect.PEER_KEY``): only the
profile's values are looked for there."""
_AUTH_VOCABULARY: Final = frozenset(
    ("response", "nonce", "cnonce", "opaque", "nc", "qop", "algorithm", "auts")
)
"""Digest parameters that are hashes, counters or algorithm names: not data."""


class SipMessage(Record):
    """One SIP request (``method`` set) or response (``status`` set)."""

    FIELDS = ("method", "uri", "status", "reason", "headers", "body", "body_truncated")
    __slots__ = FIELDS

    method: Final[str]
    """``REGISTER``, ``INVITE`` ...; empty for a response."""
    uri: Final[str]
    """The Request-URI; empty for a response."""
    status: Final[int]
    """Status code of a response; 0 for a request."""
    reason: Final[str]
    headers: Final[Headers]
    """As sent, in order; compact forms (``f``, ``m``) under their full names."""
    body: Final[bytes]
    body_truncated: Final[bool]

    def __init__(
        self,
        method: str,
        uri: str,
        status: int,
        reason: str,
        headers: Headers,
        body: bytes = b"",
        body_truncated: bool = False,
    ) -> None:
        self.method = method
        self.uri = uri
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.body_truncated = body_truncated


# -- grammar helpers -----------------------------------------------------------------------


def split_list(value: str) -> list[str]:
    """A header value's comma-separated elements; commas inside quotes or ``<>`` stay."""
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
        i += 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def split_params(text: str) -> list[tuple[str, str]]:
    """``;a=1;b="x;y";c`` -> ``[("a", "1"), ("b", "x;y"), ("c", "")]``."""
    out: list[tuple[str, str]] = []
    quoted = False
    start = 0
    parts: list[str] = []
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    for part in parts:
        name, _, value = part.strip().partition("=")
        if name.strip():
            out.append((name.strip(), unquote(value.strip())))
    return out


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if len(value) >= 2 and value[0] == "<" and value[-1] == ">":
        value = value[1:-1]
    return value


def address(value: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(display name, URI, header parameters) of a name-addr or addr-spec (RFC 3261 20.10:
    in the addr-spec form, what follows a ``;`` belongs to the header, not the URI)."""
    value = value.strip()
    lt = _unquoted_index(value, "<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            return unquote(value[:lt].strip()), value[lt + 1 :].strip(), []
        return (
            unquote(value[:lt].strip()),
            value[lt + 1 : gt].strip(),
            split_params(value[gt + 1 :].lstrip().removeprefix(";")),
        )
    uri, _, params = value.partition(";")
    return "", uri.strip(), split_params(params)


def _unquoted_index(text: str, needle: str) -> int:
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == needle and not quoted:
            return i
    return -1


def uri_host(uri: str) -> str | None:
    """The host of a ``sip:``/``sips:`` URI, without port (``[v6]`` unbracketed)."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None
    rest = rest.split("?", 1)[0]
    hostport = rest.rpartition("@")[2].split(";", 1)[0]
    if hostport.startswith("["):
        end = hostport.find("]")
        return hostport[1:end] if end > 0 else None
    host = hostport.split(":", 1)[0].strip()
    return host.lower() or None


# -- parsing ---------------------------------------------------------------------------------


class _Malformed(Exception):
    pass


def looks_like_sip(head: bytes) -> bool:
    """A SIP request line's start or a status line."""
    return head.startswith(b"SIP/2.0 ") or _REQUEST_START.match(head) is not None


def _header_end(data: bytes | bytearray) -> tuple[int, int]:
    """(end of the header block, start of the body), or (-1, -1) when not complete."""
    end = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if lf >= 0 and (end < 0 or lf < end):
        return lf, lf + 2
    if end >= 0:
        return end, end + 4
    return -1, -1


def parse_head(head: bytes) -> tuple[str, str, int, str, Headers]:
    """Start line and headers of a header block (without the blank line)."""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    start = lines[0].rstrip(b"\r ")
    method = uri = reason = ""
    status = 0
    m = _REQUEST.fullmatch(start)
    if m is not None:
        method = m.group(1).decode("ascii")
        uri = to_text(m.group(2))
    else:
        s = _STATUS.fullmatch(start)
        if s is None:
            raise _Malformed(f"start line {start[:60]!r}")
        status = int(s.group(1))
        reason = to_text(s.group(2) or b"").strip()
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        if not raw.strip():
            continue
        if raw[:1] in (b" ", b"\t"):
            if not headers:
                raise _Malformed("continuation line before the first header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {to_text(raw).strip()}")
            continue
        name_b, colon, value_b = raw.partition(b":")
        name = to_text(name_b).strip()
        if not colon or not name or " " in name:
            raise _Malformed(f"header line {raw[:60]!r}")
        if len(headers) >= MAX_HEADERS:
            raise _Malformed(f"more than {MAX_HEADERS} headers")
        full = COMPACT.get(name.lower(), name) if len(name) == 1 else name
        headers.append((full, to_text(value_b).strip()))
    return method, uri, status, reason, tuple(headers)


def content_length(headers: Headers) -> int | None:
    value = header(headers, "content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii() or len(value) > 9:
        raise _Malformed(f"Content-Length {value[:20]!r}")
    return int(value)


def parse_datagram(data: bytes) -> tuple[SipMessage, str | None]:
    """One message from a whole datagram, and the anomaly it shows (or None). Raises
    :class:`_Malformed` when the start line or headers cannot be read."""
    end, body_start = _header_end(data)
    if end < 0:
        end = body_start = len(data)  # no blank line: headers to the end, no body
    if end > MAX_HEADER:
        raise _Malformed(f"header block over {MAX_HEADER} bytes")
    method, uri, status, reason, headers = parse_head(data[:end])
    body = data[body_start:]
    problem = None
    length = content_length(headers)
    truncated = False
    if length is not None:
        if length > len(body):
            problem = f"Content-Length {length}, {len(body)} bytes in the datagram"
            truncated = True
        body = body[:length]
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY]
        truncated = True
    return SipMessage(method, uri, status, reason, headers, body, truncated), problem


# -- TCP ---------------------------------------------------------------------------------------


class _Side:
    __slots__ = ("buf", "pending", "resync", "skip", "start")

    def __init__(self) -> None:
        self.resync = False
        """After a gap: looking for the next start line, what comes before it is raw."""
        self.buf = bytearray()
        self.skip = 0
        """Body bytes of an over-long message still to drop."""
        self.start = (0.0, 0)
        self.pending: SipMessage | None = None
        """A message whose body is longer than kept: emitted once its bytes have passed."""


class SipApp(TcpApp):
    """Both directions of a SIP connection; either side may send requests."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._sides = [_Side(), _Side()]

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        side = self._sides[from_client]
        if side.skip:
            n = min(side.skip, len(data))
            side.skip -= n
            data = data[n:]
            if not side.skip and side.pending is not None:
                out.append(Parsed(from_client, side.start[0], side.start[1], side.pending))
                side.pending = None
            if not data:
                return
        if not side.buf.strip(b"\r\n"):
            side.start = (time, frame)
        side.buf += data
        if side.resync and not self._resync(from_client, side, time, frame, out):
            return
        while self._next(from_client, side, time, frame, out):
            pass

    def _resync(
        self, from_client: bool, side: _Side, time: float, frame: int, out: list[Parsed]
    ) -> bool:
        """Drop to the next start line (as raw payload); False while none is in sight."""
        m = _RESYNC.search(side.buf)
        if m is None:
            if len(side.buf) > MAX_HEADER:
                keep = len(side.buf) - 64
                self._raw(from_client, side, keep, out)
                side.start = (time, frame)
            return False
        self._raw(from_client, side, m.start(), out)
        side.resync = False
        side.start = (time, frame)
        return True

    def _raw(self, from_client: bool, side: _Side, size: int, out: list[Parsed]) -> None:
        if size > 0:
            data = bytes(side.buf[:size])
            out.append(Parsed(from_client, side.start[0], side.start[1], RawPayload(data)))
            del side.buf[:size]

    def _next(
        self, from_client: bool, side: _Side, time: float, frame: int, out: list[Parsed]
    ) -> bool:
        """Parse one message off the buffer; False when more bytes are needed (or the
        direction was handed back as raw)."""
        buf = side.buf
        lead = len(buf) - len(buf.lstrip(b"\r\n"))  # RFC 5626 keep-alive CRLFs
        if lead:
            del buf[:lead]
        if not buf:
            return False
        end, body_start = _header_end(buf)
        if end < 0:
            if len(buf) > MAX_HEADER:
                self._fail(
                    from_client, side, "sip.header_too_long", f"over {MAX_HEADER} bytes", frame, out
                )
            return False
        try:
            method, uri, status, reason, headers = parse_head(bytes(buf[:end]))
            length = content_length(headers)
        except _Malformed as e:
            self._fail(from_client, side, "sip.malformed", str(e), frame, out)
            return False
        if length is None:
            self._anomaly(
                "sip.no_content_length", "message on a stream without Content-Length", frame
            )
            length = 0
        total = body_start + length
        if length > MAX_BODY:
            kept = bytes(buf[body_start : body_start + MAX_BODY])
            msg = SipMessage(method, uri, status, reason, headers, kept, True)
            self._anomaly("sip.body_too_large", f"Content-Length {length}", frame)
            if len(buf) >= total:
                del buf[:total]
                out.append(Parsed(from_client, side.start[0], side.start[1], msg))
                side.start = (time, frame)
                return True
            if len(buf) < body_start + MAX_BODY:
                return False
            side.skip = total - len(buf)
            side.pending = msg
            buf.clear()
            return False
        if len(buf) < total:
            return False
        msg = SipMessage(method, uri, status, reason, headers, bytes(buf[body_start:total]))
        del buf[:total]
        out.append(Parsed(from_client, side.start[0], side.start[1], msg))
        side.start = (time, frame)
        return True

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        """Framing is lost: what is held is raw, and so is what follows up to the next
        start line (SIP lines are text, so the next message is easy to find)."""
        side = self._sides[from_client]
        if side.pending is not None:
            out.append(Parsed(from_client, side.start[0], side.start[1], side.pending))
            side.pending = None
        side.skip = 0
        self._raw(from_client, side, len(side.buf), out)
        side.resync = True

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        side = self._sides[from_client]
        if side.pending is not None:
            out.append(Parsed(from_client, side.start[0], side.start[1], side.pending))
            side.pending = None
        if side.buf.strip(b"\r\n"):
            if not side.resync:
                self._anomaly("sip.truncated", f"{len(side.buf)} bytes left at close", None)
            self._raw(from_client, side, len(side.buf), out)

    def _fail(
        self,
        from_client: bool,
        side: _Side,
        kind: str,
        detail: str,
        frame: int,
        out: list[Parsed],
    ) -> None:
        self._anomaly(kind, detail, frame)
        rest = (bytes(side.buf), side.start[0], side.start[1])
        side.buf.clear()
        self.host.to_raw(from_client, rest, out, resumable=False)

    def _anomaly(self, kind: str, detail: str, frame: int | None) -> None:
        self.host.ctx.anomalies.add(kind, self.host.input, frame, detail)


# -- registry entry -------------------------------------------------------------------------


class SipProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("sip", (SipMessage,))

    def tcp_client(self, head: bytes) -> bool:
        return looks_like_sip(head)

    def tcp_server(self, head: bytes) -> bool:
        return looks_like_sip(head)

    def tcp_resume(self, data: bytes) -> bool:
        return _REQUEST_START.match(data) is not None

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return SipApp(self, host)

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        if not looks_like_sip(data):
            return None
        try:
            msg, problem = parse_datagram(data)
        except _Malformed as e:
            host.ctx.anomalies.add("sip.malformed", host.input, frame, str(e))
            return host.raw(from_client, data, time, frame)
        if problem is not None:
            host.ctx.anomalies.add("sip.truncated_body", host.input, frame, problem)
        return [Parsed(from_client, time, frame, msg)]

    def host(self, content: Content) -> str | None:
        assert isinstance(content, SipMessage)
        return uri_host(content.uri) if content.method else None

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, SipMessage)
        return {
            "sip_method": content.method or None,
            "sip_uri": content.uri or None,
            "sip_status": content.status or None,
            "sip_reason": content.reason if content.status else None,
            "sip_from": _first(_uris(content.headers, "from")),
            "sip_to": _first(_uris(content.headers, "to")),
            "sip_contact": _uris(content.headers, "contact"),
            "sip_call_id": header(content.headers, "call-id"),
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, SipMessage)
        if content.method:
            return f"{content.method} {content.uri}"
        cseq = header(content.headers, "cseq")
        return f"{content.status} {content.reason}" + (f" ({cseq})" if cseq else "")

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        msg = message.content
        assert isinstance(msg, SipMessage)
        return sip_fields(msg, budget)


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _uris(headers: Headers, lname: str) -> list[str]:
    out: list[str] = []
    for name, value in headers:
        if name.lower() == lname:
            out += [address(v)[1] for v in split_list(value) if v != "*"]
    return out


def sip_fields(msg: SipMessage, budget: Budget) -> Iterator[Field]:
    """The places of a SIP message where identities travel (docs/fields.md)."""
    # A request's target (Request-URI, To) is the other party, except in REGISTER, whose
    # To is the registering user's own address of record (RFC 3261 10.2).
    # An if statement, not a conditional expression with `and`: compiled inside this
    # generator, mypyc (2.4.1) released the message twice on that path (a segfault; gcc's
    # -Werror=maybe-uninitialized in the build pointed at it).
    method = msg.method
    target: str | None = None
    if method and method != "REGISTER":
        target = PEER_KEY
    if method:
        yield from expand(
            budget, "sip.uri", "Request-URI", (), target or "Request-URI", (), msg.uri
        )
    for name, value in msg.headers:
        lname = name.lower()
        if lname in NOISE_HEADERS or not value:
            continue
        segment = escape_segment(name)
        if lname in ADDRESS_HEADERS:
            for element in split_list(value):
                if element == "*":
                    continue
                display, uri, params = address(element)
                key = target if target and lname == "to" else name
                if uri:
                    yield from expand(budget, "sip.uri", segment, (), key, (), uri)
                if display:
                    yield from expand(
                        budget,
                        "sip.header",
                        f"{segment}.display-name",
                        (),
                        "display-name",
                        (),
                        display,
                    )
                for pname, pvalue in params:
                    if pvalue and pname.lower() not in ("tag", "expires", "q"):
                        yield from expand(
                            budget,
                            "sip.header",
                            f"{segment}.{escape_segment(pname)}",
                            (),
                            pname,
                            (),
                            pvalue,
                        )
        elif lname in _AUTH_HEADERS:
            _, _, credentials = value.partition(" ")
            for element in split_list(credentials):
                pname, _, pvalue = element.partition("=")
                pname = pname.strip()
                pvalue = unquote(pvalue.strip())
                if pvalue and pname.lower() not in _AUTH_VOCABULARY:
                    yield from expand(
                        budget,
                        "sip.header",
                        f"{segment}.{escape_segment(pname)}",
                        (),
                        pname,
                        (),
                        pvalue,
                    )
        elif lname == "p-access-network-info":
            yield from _pani_fields(value, segment, budget)
        else:
            yield from expand(budget, "sip.header", segment, (), name, (), value)
    if msg.body:
        yield from expand(budget, "sip.body", "", (), None, (), to_text(msg.body), msg.body)


def _pani_fields(value: str, segment: str, budget: Budget) -> Iterator[Field]:
    for spec in split_list(value):
        access, _, rest = spec.partition(";")
        params = {k.lower(): v for k, v in split_params(rest)}
        for pname, pvalue in params.items():
            if pvalue:
                yield from expand(
                    budget,
                    "sip.header",
                    f"{segment}.{escape_segment(pname)}",
                    (),
                    pname,
                    (),
                    pvalue,
                    None,
                    LEAF,
                )
        cells, bssid = pani_locations(access, params)
        for loc in cells:
            yield from location_fields(budget, "sip.header", segment, loc)
        if bssid is not None:
            yield from expand(
                budget, "sip.header", f"{segment}>bssid", (), "bssid", (), bssid, None, LEAF
            )


SIP: Final = SipProtocol()
