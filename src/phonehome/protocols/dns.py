"""DNS wire format (RFC 1035), also used by mDNS (RFC 6762) and LLMNR (RFC 4795).

Query names are a classic place for identifiers to leave a device (tracking subdomains,
base32 or hex labels), so names are kept exactly as sent: no lower-casing, no IDNA
decoding, only the trailing dot is dropped. Counts and name lengths are bounded so a
hostile packet costs at most a few hundred small objects.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from itertools import chain
from typing import Any, Final

from phonehome.extract.engine import Budget
from phonehome.extract.names import labels
from phonehome.model.field import Field
from phonehome.model.message import Content, DnsAnswer, DnsMessage, Message
from phonehome.net.addr import ntop
from phonehome.protocols.base import Parsed, Protocol, Rest, TcpApp, TcpHost, UdpHost

HEADER_LEN: Final = 12
MAX_QUESTIONS: Final = 32
"""Questions parsed per message; the rest are ignored (real DNS has 1, mDNS a handful)."""
MAX_ANSWERS: Final = 128
"""Answer records parsed per message; the rest are ignored."""
MAX_NAME_WIRE: Final = 255
"""RFC 1035 limit on a name's wire length; also bounds the work per name."""
MAX_POINTERS: Final = 32
"""Compression pointers followed per name; loops are also cut by 'pointers go backwards'."""
MAX_HEX_VALUE: Final = 128
"""RDATA bytes kept (as hex) for record types with no textual form."""

_TYPE_A: Final = 1
_TYPE_NS: Final = 2
_TYPE_CNAME: Final = 5
_TYPE_PTR: Final = 12
_TYPE_TXT: Final = 16
_TYPE_AAAA: Final = 28
_TYPE_SRV: Final = 33
_NAMED_TYPES: Final = {_TYPE_A: "A", _TYPE_CNAME: "CNAME", _TYPE_AAAA: "AAAA"}
_NAME_VALUED: Final = frozenset({_TYPE_NS, _TYPE_CNAME, _TYPE_PTR})
_OPCODES_SEEN: Final = frozenset({0, 1, 2, 4, 5})
"""QUERY, IQUERY, STATUS, NOTIFY, UPDATE: any other opcode is a sign of non-DNS bytes."""
_CLASSES_SEEN: Final = frozenset({1, 3, 254, 255})
"""IN, CH, NONE, ANY (after removing the mDNS unicast-response / cache-flush bit)."""

_HEADER: Final = struct.Struct("!HHHHHH")
_QUESTION_TAIL: Final = struct.Struct("!HH")
_RR_TAIL: Final = struct.Struct("!HHIH")


class DnsError(ValueError):
    """The bytes are not a well-formed DNS message."""


def type_name(rtype: int) -> str:
    """``A``, ``AAAA``, ``CNAME``; every other type by number (``TYPE65``), as the model says."""
    return _NAMED_TYPES.get(rtype) or f"TYPE{rtype}"


def _decode_label(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` and the offset just after it in the original position.

    A pointer must point strictly before the start of the piece of name that holds it:
    every encoder works this way, and since each jump then lands lower than the last,
    loops are impossible; the jump cap is a second guard.

    Labels are collected as bytes and decoded once, joined: the join is valid UTF-8
    exactly when every label is (a ``.`` cannot sit inside a multi-byte sequence), and
    only then is a label decoded on its own (Latin-1 fallback). Names are read for every
    DNS datagram, so this saves a decode call per label in the common case.
    """
    labels: list[bytes] = []
    wire = 0
    jumps = 0
    end = -1
    pos = offset
    segment = offset
    n = len(data)
    while True:
        if pos >= n:
            raise DnsError(f"name runs past the end at {pos}")
        length = data[pos]
        if length == 0:
            break
        if length < 0x40:
            wire += length + 1
            if wire > MAX_NAME_WIRE:
                raise DnsError("name longer than 255 bytes")
            start = pos + 1
            pos = start + length
            if pos > n:
                raise DnsError(f"label runs past the end at {start}")
            labels.append(data[start:pos])
            continue
        if length < 0xC0:
            raise DnsError(f"unsupported label type 0x{length:02x} at {pos}")
        if pos + 1 >= n:
            raise DnsError(f"truncated compression pointer at {pos}")
        target = ((length & 0x3F) << 8) | data[pos + 1]
        if end < 0:
            end = pos + 2
        if target >= segment:
            raise DnsError(f"forward or looping compression pointer at {pos}")
        jumps += 1
        if jumps > MAX_POINTERS:
            raise DnsError("too many compression pointers")
        pos = segment = target
    if end < 0:
        end = pos + 1
    joined = b".".join(labels)
    try:
        return joined.decode("utf-8"), end
    except UnicodeDecodeError:
        return ".".join(_decode_label(label) for label in labels), end


def _txt_value(rdata: bytes) -> str:
    """TXT strings joined by a space: mDNS TXT records carry ``key=value`` device details."""
    parts: list[str] = []
    pos = 0
    while pos < len(rdata):
        size = rdata[pos]
        parts.append(_decode_label(rdata[pos + 1 : pos + 1 + size]))
        pos += 1 + size
    return " ".join(parts)


def _rdata_value(data: bytes, rtype: int, start: int, rdlen: int) -> str:
    rdata = data[start : start + rdlen]
    if (rtype == _TYPE_A and rdlen == 4) or (rtype == _TYPE_AAAA and rdlen == 16):
        return ntop(rdata)  # cached: answers repeat the same addresses
    if rtype in _NAME_VALUED:
        return read_name(data, start)[0]
    if rtype == _TYPE_SRV and rdlen >= 7:
        prio, weight, port = struct.unpack_from("!HHH", data, start)
        return f"{prio} {weight} {port} {read_name(data, start + 6)[0]}"
    if rtype == _TYPE_TXT:
        return _txt_value(rdata)
    return rdata[:MAX_HEX_VALUE].hex()


def parse_lenient(data: bytes) -> tuple[DnsMessage, str | None]:
    """Parse what can be parsed: header and questions must be sound, answers may be cut.

    Returns the message and, when the answer section was damaged (snap length, a bad
    record), a description of the damage so the caller can count an anomaly while still
    keeping the query name.
    """
    if len(data) < HEADER_LEN:
        raise DnsError(f"{len(data)} bytes is shorter than a DNS header")
    ident, flags, qdcount, ancount, _nscount, _arcount = _HEADER.unpack_from(data, 0)
    return _parse_rest(data, ident, flags, qdcount, ancount, HEADER_LEN, [])


def parse_if_dns(data: bytes) -> tuple[DnsMessage, str | None] | None:
    """``parse_lenient(data)`` when ``looks_like_dns(data)``, else None, reading once.

    Every UDP datagram of a flow not yet recognised goes through this, and nearly all of
    them are DNS: the first question, which the check parses anyway, is kept rather than
    parsed a second time. Raises :class:`DnsError` when the bytes look like DNS but are
    damaged, as ``parse_lenient`` would.
    """
    if len(data) < HEADER_LEN + 5:
        return None
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data, 0)
    if (flags >> 11) & 0xF not in _OPCODES_SEEN or ancount + nscount + arcount > 512:
        return None
    if not 1 <= qdcount <= MAX_QUESTIONS:
        return parse_lenient(data) if looks_like_dns(data) else None
    try:
        name, pos = read_name(data, HEADER_LEN)
    except DnsError:
        return None
    if pos + 4 > len(data):
        return None
    qtype, qclass = _QUESTION_TAIL.unpack_from(data, pos)
    if (qclass & 0x7FFF) not in _CLASSES_SEEN:
        return None
    qtext = _NAMED_TYPES.get(qtype) or f"TYPE{qtype}"
    if qdcount == 1 and not ancount:
        # A query, or an answerless response (NXDOMAIN, NODATA): nothing more to read.
        return DnsMessage(ident, bool(flags & 0x8000), flags & 0x000F, ((name, qtext),)), None
    return _parse_rest(data, ident, flags, qdcount, ancount, pos + 4, [(name, qtext)])


def _parse_rest(
    data: bytes,
    ident: int,
    flags: int,
    qdcount: int,
    ancount: int,
    pos: int,
    questions: list[tuple[str, str]],
) -> tuple[DnsMessage, str | None]:
    """The questions after those already in ``questions`` (ending at ``pos``), then the
    answers: the shared tail of :func:`parse_lenient` and :func:`parse_if_dns`."""
    wanted = qdcount if qdcount < MAX_QUESTIONS else MAX_QUESTIONS
    for _ in range(wanted - len(questions)):
        name, pos = read_name(data, pos)
        if pos + 4 > len(data):
            raise DnsError("truncated question")
        qtype, _qclass = _QUESTION_TAIL.unpack_from(data, pos)
        pos += 4
        questions.append((name, type_name(qtype)))
    if qdcount > MAX_QUESTIONS and ancount:
        # Skipping the ignored questions would mean parsing them anyway; stop here.
        ancount = 0
    answers: list[DnsAnswer] = []
    problem: str | None = None
    # Answers nearly always name the first question by a pointer to it (offset 12), which
    # is literal there (a pointer at 12 could only point backwards into the header): its
    # text is already known.
    first = questions[0][0] if questions else None
    try:
        for _ in range(ancount if ancount < MAX_ANSWERS else MAX_ANSWERS):
            if first is not None and data[pos : pos + 2] == b"\xc0\x0c":
                name = first
                pos += 2
            else:
                name, pos = read_name(data, pos)
            if pos + 10 > len(data):
                raise DnsError("truncated resource record")
            rtype, _rclass, ttl, rdlen = _RR_TAIL.unpack_from(data, pos)
            pos += 10
            if pos + rdlen > len(data):
                raise DnsError("resource record data runs past the end")
            answers.append(
                DnsAnswer(name, type_name(rtype), _rdata_value(data, rtype, pos, rdlen), ttl)
            )
            pos += rdlen
    except DnsError as exc:
        problem = str(exc)
    # Positional: the frozen dataclass's keyword call costs more, once per DNS message.
    message = DnsMessage(ident, bool(flags & 0x8000), flags & 0x000F, tuple(questions),
                         tuple(answers))  # fmt: skip
    return message, problem


def parse(data: bytes) -> DnsMessage:
    """Strict parse: any damage, in the answers too, raises :class:`DnsError`."""
    message, problem = parse_lenient(data)
    if problem is not None:
        raise DnsError(problem)
    return message


def looks_like_dns(data: bytes) -> bool:
    """Cheap content check so DNS is recognised on any port (mDNS, LLMNR, odd resolvers).

    A query must carry 1..few questions whose first one parses with a known class; an
    mDNS announcement has no question, so then the first answer record must parse.
    """
    if len(data) < HEADER_LEN + 5:
        return False
    _ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data, 0)
    if (flags >> 11) & 0xF not in _OPCODES_SEEN:
        return False
    if ancount + nscount + arcount > 512:
        return False
    try:
        if 1 <= qdcount <= MAX_QUESTIONS:
            name_end = read_name(data, HEADER_LEN)[1]
            if name_end + 4 > len(data):
                return False
            _qtype, qclass = _QUESTION_TAIL.unpack_from(data, name_end)
            return (qclass & 0x7FFF) in _CLASSES_SEEN
        if qdcount == 0 and 1 <= ancount <= MAX_ANSWERS and flags & 0x8000:
            name_end = read_name(data, HEADER_LEN)[1]
            if name_end + 10 > len(data):
                return False
            _rtype, rclass, _ttl, rdlen = _RR_TAIL.unpack_from(data, name_end)
            return (rclass & 0x7FFF) in _CLASSES_SEEN and name_end + 10 + rdlen <= len(data)
    except DnsError:
        return False
    return False


def split_tcp(buf: bytes) -> tuple[list[bytes], int]:
    """DNS over TCP (RFC 1035 4.2.2): complete length-prefixed messages and bytes used.

    The caller keeps ``buf[used:]`` and calls again when more stream bytes arrive.
    """
    messages: list[bytes] = []
    pos = 0
    while pos + 2 <= len(buf):
        size = int.from_bytes(buf[pos : pos + 2], "big")
        if pos + 2 + size > len(buf):
            break
        messages.append(buf[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return messages, pos


# -- the connection and the registry entry ------------------------------------------------


def looks_like_dns_tcp(head: bytes, *, query: bool) -> bool:
    """A 2-byte length prefix and a DNS header a real resolver or stub would send."""
    if len(head) < 14:
        return False
    size = int.from_bytes(head[:2], "big")
    if size < 12:
        return False
    flags = int.from_bytes(head[4:6], "big")
    qr = flags >> 15
    opcode = (flags >> 11) & 0xF
    if opcode not in (0, 1, 2, 4, 5) or flags & 0x0040:  # Z bit must be zero
        return False
    qd = int.from_bytes(head[6:8], "big")
    an = int.from_bytes(head[8:10], "big")
    ns = int.from_bytes(head[10:12], "big")
    ar = int.from_bytes(head[12:14], "big")
    if query:
        return qr == 0 and 1 <= qd <= 4 and an == 0 and ns <= 16 and ar <= 4 and not flags & 0xF
    return qr == 1 and qd <= 4 and an + ns + ar <= 512


class DnsTcpApp(TcpApp):
    """DNS over TCP: each message behind a 2-byte length (RFC 1035 4.2.2)."""

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._bufs = [bytearray(), bytearray()]  # [server, client]
        self._starts = [(0.0, 0), (0.0, 0)]

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        self._bufs[from_client].clear()

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        buf = self._bufs[from_client]
        if not buf:
            self._starts[from_client] = (time, frame)
        buf += data
        while len(buf) >= 2:
            size = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + size:
                break
            wire = bytes(buf[2 : 2 + size])
            try:
                msg = parse(wire)
            except DnsError as e:
                host = self.host
                host.ctx.anomalies.add("dns.malformed", host.input, frame, f"over TCP: {e}")
                host.to_raw(from_client, self._take(from_client), out)
                return
            start = self._starts[from_client]
            out.append(Parsed(from_client, start[0], start[1], msg))
            del buf[: 2 + size]
            self._starts[from_client] = (time, frame)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        # No marker to find the next message at: what is left and what follows is raw.
        self.host.to_raw(from_client, self._take(from_client), out)
        self.host.flush_raw(from_client, out)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        buf = self._bufs[from_client]
        if buf:
            host = self.host
            host.ctx.anomalies.add(
                "dns.truncated_tcp", host.input, None, f"{len(buf)} bytes left at close"
            )
            host.to_raw(from_client, self._take(from_client), out)

    def _take(self, from_client: bool) -> Rest | None:
        buf = self._bufs[from_client]
        if not buf:
            return None
        start = self._starts[from_client]
        rest = (bytes(buf), start[0], start[1])
        buf.clear()
        return rest


class DnsProtocol(Protocol):
    """DNS: every UDP datagram that parses as one (unicast, mDNS, LLMNR, any port), and
    DNS over TCP."""

    def __init__(self) -> None:
        super().__init__("dns", (DnsMessage,))

    def tcp_client(self, head: bytes) -> bool:
        return looks_like_dns_tcp(head, query=True)

    def tcp_server(self, head: bytes) -> bool:
        return looks_like_dns_tcp(head, query=False)

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return DnsTcpApp(self, host)

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        try:
            parsed = parse_if_dns(data)
        except DnsError as exc:
            host.ctx.anomalies.add("dns.malformed", host.input, frame, str(exc))
            return host.raw(from_client, data, time, frame)
        if parsed is None:
            return None
        message, problem = parsed
        if problem is not None:
            host.ctx.anomalies.add("dns.truncated_answers", host.input, frame, problem)
        return [Parsed(from_client, time, frame, message)]

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, DnsMessage)
        return dns_columns(content)

    def summary(self, content: Content) -> str:
        assert isinstance(content, DnsMessage)
        qs = " ".join(f"{t} {n}" for n, t in content.questions)
        if not content.response:
            return f"query {qs}"
        ans = " ".join(f"{a.rtype} {a.value}" for a in content.answers[:4])
        return f"response {qs} -> {ans or 'rcode ' + str(content.rcode)}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, DnsMessage)
        questions = content.questions
        if content.response or not questions:
            return iter(())
        if len(questions) == 1:  # nearly always: no generator around the name's own
            return labels(budget, "dns.qname", questions[0][0], "label")
        return chain.from_iterable(labels(budget, "dns.qname", n, "label") for n, _ in questions)


def dns_columns(c: DnsMessage) -> dict[str, Any]:
    """The ``flows`` keys of a DNS message: most messages of a capture, so called
    directly by the ``flows`` writer, and written without comprehensions."""
    qnames = []
    qtypes = []
    for name, qtype in c.questions:
        qnames.append(name)
        qtypes.append(qtype)
    answers = []
    for a in c.answers:
        answers.append([a.name, a.rtype, a.value])
    return {
        "dns_id": c.id,
        "response": c.response,
        "qnames": qnames,
        "qtypes": qtypes,
        "answers": answers,
    }


DNS: Final = DnsProtocol()
