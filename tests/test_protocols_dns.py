"""DNS parsing on hand-built messages: compression, loops, chains, damage, mDNS."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.model.message import DnsAnswer, DnsMessage
from phonehome.protocols import dns
from phonehome.protocols.dns import DnsError, looks_like_dns, parse, parse_lenient, split_tcp

# --- builders -------------------------------------------------------------------------
from tests import tshark
from tests.builders_capture import udp_pcap


def name(text: str) -> bytes:
    out = b""
    for label in text.split(".") if text else []:
        raw = label.encode()
        out += bytes((len(raw),)) + raw
    return out + b"\x00"


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def header(
    ident: int = 0x1234,
    flags: int = 0x0100,
    qd: int = 1,
    an: int = 0,
    ns: int = 0,
    ar: int = 0,
) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def question(qname: bytes, qtype: int = 1, qclass: int = 1) -> bytes:
    return qname + struct.pack("!HH", qtype, qclass)


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300, rclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


QNAME_AT = 12  # the first question's name follows the 12-byte header

QUERY = header() + question(name("ImEi-356938035643809.Tracker.Example.com"))

# www.example.com CNAME cdn.example.net (name compressed), CNAME edge.cdn.example.net,
# then an A and an AAAA for the last name, all owners as pointers.
_Q = question(name("www.example.com"))
_CNAME1_AT = 12 + len(_Q) + 12  # rdata of the first answer
_CNAME1 = name("cdn.example.net")
_CNAME2_AT = _CNAME1_AT + len(_CNAME1) + 12
_CNAME2 = b"\x04edge" + pointer(_CNAME1_AT)
CHAIN_RESPONSE = (
    header(flags=0x8180, an=4)
    + _Q
    + rr(pointer(QNAME_AT), 5, _CNAME1)
    + rr(pointer(_CNAME1_AT), 5, _CNAME2)
    + rr(pointer(_CNAME2_AT), 1, bytes((93, 184, 216, 34)), ttl=60)
    + rr(pointer(_CNAME2_AT), 28, bytes.fromhex("20010db8000000000000000000000001"))
)

# An mDNS announcement: no question, PTR / SRV / TXT answers, cache-flush class bit.
MDNS_RESPONSE = (
    header(ident=0, flags=0x8400, qd=0, an=3)
    + rr(name("_airplay._tcp.local"), 12, name("Living Room._airplay._tcp.local"), 4500)
    + rr(
        name("Living Room._airplay._tcp.local"),
        33,
        struct.pack("!HHH", 0, 0, 7000) + name("LivingRoom.local"),
        120,
        0x8001,
    )
    + rr(
        name("Living Room._airplay._tcp.local"),
        16,
        b"\x1adeviceid=AA:BB:CC:11:22:33\x0dmodel=AppleTV",
        4500,
        0x8001,
    )
)
MDNS_QUERY = (
    header(ident=0, flags=0, qd=2)
    + question(name("_googlecast._tcp.local"), 12, 0x8001)
    + question(name("_spotify-connect._tcp.local"), 12, 1)
)


# --- parsing --------------------------------------------------------------------------


def test_query_keeps_case_and_drops_trailing_dot() -> None:
    message = parse(QUERY)
    assert message == DnsMessage(
        id=0x1234,
        response=False,
        rcode=0,
        questions=(("ImEi-356938035643809.Tracker.Example.com", "A"),),
        answers=(),
    )


def test_cname_chain_with_compression() -> None:
    message = parse(CHAIN_RESPONSE)
    assert message.response and message.rcode == 0
    assert message.questions == (("www.example.com", "A"),)
    assert message.answers == (
        DnsAnswer("www.example.com", "CNAME", "cdn.example.net", 300),
        DnsAnswer("cdn.example.net", "CNAME", "edge.cdn.example.net", 300),
        DnsAnswer("edge.cdn.example.net", "A", "93.184.216.34", 60),
        DnsAnswer("edge.cdn.example.net", "AAAA", "2001:db8::1", 300),
    )


def test_nxdomain_rcode_and_other_types_by_number() -> None:
    data = (
        header(flags=0x8183, an=1)
        + question(name("x.example"), 65)
        + rr(pointer(QNAME_AT), 65, b"\x00\x01\x00\x00\x01\x00\x03\x02h3")
    )
    message = parse(data)
    assert message.rcode == 3
    assert message.questions == (("x.example", "TYPE65"),)
    assert message.answers[0].rtype == "TYPE65"
    assert message.answers[0].value == "0001000001000302" + "6833"


def test_mdns_announcement() -> None:
    assert looks_like_dns(MDNS_RESPONSE)
    message = parse(MDNS_RESPONSE)
    assert message.questions == ()
    assert [(a.rtype, a.value) for a in message.answers] == [
        ("TYPE12", "Living Room._airplay._tcp.local"),
        ("TYPE33", "0 0 7000 LivingRoom.local"),
        ("TYPE16", "deviceid=AA:BB:CC:11:22:33 model=AppleTV"),
    ]


def test_mdns_query_with_unicast_response_bit() -> None:
    assert looks_like_dns(MDNS_QUERY)
    assert parse(MDNS_QUERY).questions == (
        ("_googlecast._tcp.local", "TYPE12"),
        ("_spotify-connect._tcp.local", "TYPE12"),
    )


def test_non_utf8_label_decoded_as_latin1() -> None:
    data = header() + question(b"\x03\xff\xfe\x41\x00")
    assert parse(data).questions == (("\xff\xfeA", "A"),)


_QTAIL = struct.pack("!HH", 1, 1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (header() + pointer(QNAME_AT) + _QTAIL, "points at itself"),
        (header() + b"\x01a" + pointer(QNAME_AT) + _QTAIL, "loops back to its own start"),
        (header() + pointer(40) + _QTAIL + bytes(30), "forward pointer"),
        (header() + b"\x01a" + pointer(QNAME_AT + 2) + _QTAIL, "points at the pointer"),
        (header() + b"\x41abc\x00" + _QTAIL, "label type 01"),
        (header() + b"\x81abc\x00" + _QTAIL, "label type 10"),
        (header() + (b"\x3f" + b"a" * 63) * 4 + b"\x00" + _QTAIL, "longer than 255"),
        (header() + b"\x05ab", "label past the end"),
        (header() + b"\x01a", "no terminating zero"),
        (header() + b"\xc0", "half a pointer"),
    ],
)
def test_bad_names_raise(data: bytes, reason: str) -> None:
    with pytest.raises(DnsError):
        parse(data)
    assert not looks_like_dns(data), reason


def test_pointer_chain_backwards_is_fine_but_capped() -> None:
    # Each name is one label plus a pointer to the name before it: legal, and deep.
    body = b""
    offsets: list[int] = []
    data = header(an=0) + question(name("x"))
    assert len(data) == QNAME_AT + 3 + 4
    pos = len(data)
    previous: int | None = None
    for _ in range(40):
        offsets.append(pos)
        piece = b"\x01n" + (pointer(previous) if previous is not None else b"\x00")
        body += piece
        previous = pos
        pos += len(piece)
    full = data + body
    assert dns.read_name(full, offsets[10])[0] == ".".join(["n"] * 11)
    with pytest.raises(DnsError):
        dns.read_name(full, offsets[39])  # 39 jumps > MAX_POINTERS


def test_truncated_header_and_question() -> None:
    with pytest.raises(DnsError):
        parse(QUERY[:11])
    with pytest.raises(DnsError):
        parse(QUERY[:-2])  # question type/class cut


def test_truncated_answers_keep_the_question() -> None:
    cut = CHAIN_RESPONSE[:-5]
    with pytest.raises(DnsError):
        parse(cut)
    message, problem = parse_lenient(cut)
    assert problem is not None
    assert message.questions == (("www.example.com", "A"),)
    assert len(message.answers) == 3


def test_every_prefix_raises_dns_error_or_parses() -> None:
    for data in (CHAIN_RESPONSE, MDNS_RESPONSE, MDNS_QUERY):
        for end in range(len(data)):
            with contextlib.suppress(DnsError):
                parse_lenient(data[:end])


def test_counts_are_bounded() -> None:
    data = (
        header(qd=1, an=0xFFFF)
        + question(name("a.example"))
        + (rr(pointer(QNAME_AT), 1, b"\x01\x02\x03\x04") * 300)
    )
    message = parse(data)
    assert len(message.answers) == dns.MAX_ANSWERS


# --- recognition ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (QUERY, True),
        (CHAIN_RESPONSE, True),
        (MDNS_RESPONSE, True),
        (MDNS_QUERY, True),
        (header(flags=0x0000) + question(name("wpad"), 1, 1), True),  # LLMNR-style query
        (header(flags=0x3100) + question(name("a.example")), False),  # opcode 6
        (header(qd=0, an=0) + bytes(8), False),
        (header() + question(name("a.example"), 1, 7), False),  # unknown class
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", False),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), False),
        (bytes(64), False),
        (b"", False),
    ],
)
def test_looks_like_dns(data: bytes, expected: bool) -> None:
    assert looks_like_dns(data) is expected


def test_split_tcp_framing() -> None:
    stream = struct.pack("!H", len(QUERY)) + QUERY + struct.pack("!H", len(CHAIN_RESPONSE))
    stream += CHAIN_RESPONSE[:10]
    messages, used = split_tcp(stream)
    assert messages == [QUERY]
    assert used == 2 + len(QUERY)
    messages, used = split_tcp(stream[used:] + CHAIN_RESPONSE[10:])
    assert messages == [CHAIN_RESPONSE] and parse(messages[0]).answers


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_only_dns_error(data: bytes) -> None:
    with contextlib.suppress(DnsError):
        parse(data)
    looks_like_dns(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_fuzz_damaged_response_only_dns_error(position: int, flip: int) -> None:
    damaged = bytearray(CHAIN_RESPONSE)
    damaged[position % len(damaged)] ^= flip
    with contextlib.suppress(DnsError):
        parse(bytes(damaged))


# --- cross-check with tshark ----------------------------------------------------------


def test_tshark_reads_the_same_names(tmp_path: Path) -> None:
    path = tmp_path / "dns.pcap"
    path.write_bytes(udp_pcap([CHAIN_RESPONSE], sport=53, dport=40000))
    [out] = tshark.fields(path, "dns.qry.name", "dns.cname", "dns.a", "dns.aaaa")
    message = parse(CHAIN_RESPONSE)
    assert out[0] == message.questions[0][0]
    assert out[1].split(",") == [a.value for a in message.answers if a.rtype == "CNAME"]
    assert out[2] == "93.184.216.34" and out[3] == "2001:db8::1"
