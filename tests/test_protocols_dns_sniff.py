"""``parse_if_dns``: the one-pass check-and-parse the UDP session uses for every datagram.

It must answer exactly what ``looks_like_dns`` then ``parse_lenient`` answer, including
which damaged messages raise and with what message (the anomaly detail).
"""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonehome.protocols import dns


def reference(data: bytes) -> object:
    if not dns.looks_like_dns(data):
        return None
    try:
        return dns.parse_lenient(data)
    except dns.DnsError as e:
        return f"DnsError: {e}"


def one_pass(data: bytes) -> object:
    try:
        return dns.parse_if_dns(data)
    except dns.DnsError as e:
        return f"DnsError: {e}"


def name(*labels: bytes) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\0"


def header(flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


QUERY = header() + name(b"www", b"example", b"com") + b"\x00\x01\x00\x01"
ANSWER_A = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x12\x00\x05"
RESPONSE = header(0x8180, an=1) + QUERY[12:] + ANSWER_A
MDNS_ANNOUNCE = (
    header(0x8400, qd=0, an=1)
    + name(b"phone", b"local")
    + b"\x00\x01\x80\x01\x00\x00\x00\x78\x00\x04\xc0\xa8\x01\x17"
)

CASES = {
    "query": QUERY,
    "response": RESPONSE,
    "mdns announcement": MDNS_ANNOUNCE,
    "two questions": header(qd=2) + QUERY[12:] + name(b"b", b"example") + b"\x00\x1c\x00\x01",
    "second question cut": header(qd=2) + QUERY[12:] + b"\x03abc",
    "answer cut": RESPONSE[:-3],
    "answer pointer forward": header(0x8180, an=1) + QUERY[12:] + b"\xc0\x40" + ANSWER_A[2:],
    "non-utf8 label": header() + name(b"\xe9t\xe9", b"example") + b"\x00\x01\x00\x01",
    "utf8 label": header() + name("été".encode(), b"example") + b"\x00\x01\x00\x01",
    "label with a dot": header() + name(b"a.b", b"example") + b"\x00\x01\x00\x01",
    "bad opcode": header(0x7800) + QUERY[12:],
    "bad class": header() + name(b"x", b"com") + b"\x00\x01\x00\x09",
    "too many records": header(an=300, ns=300) + QUERY[12:],
    "no question, not a response": header(0x0000, qd=0, an=1) + MDNS_ANNOUNCE[12:],
    "short": QUERY[:16],
    "question name runs past the end": header() + b"\x3fabc",
    "33 questions": header(qd=33) + QUERY[12:] * 33,
    "quic-like": bytes.fromhex("c300000001") + bytes(40),
}


@pytest.mark.parametrize("data", list(CASES.values()), ids=list(CASES))
def test_table(data: bytes) -> None:
    assert one_pass(data) == reference(data)


def test_table_covers_every_outcome() -> None:
    outcomes = {type(reference(d)).__name__ for d in CASES.values()}
    assert outcomes == {"NoneType", "tuple", "str"}
    problems = [r for d in CASES.values() if isinstance(r := reference(d), tuple) and r[1]]
    assert problems  # a damaged answer section is reported, not raised


def mutations(seed: bytes, rng: random.Random) -> bytes:
    b = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.5 and b:
            b[rng.randrange(len(b))] = rng.choice(
                [0, 1, 0x3F, 0x40, 0x80, 0xC0, rng.randrange(256)]
            )
        elif op < 0.75:
            del b[rng.randrange(len(b) + 1) :]
        else:
            at = rng.randrange(len(b) + 1)
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(b)


def test_mutated_messages_agree() -> None:
    rng = random.Random(11)
    seeds = list(CASES.values())
    for _ in range(20_000):
        data = mutations(rng.choice(seeds), rng)
        assert one_pass(data) == reference(data), data.hex()


@given(st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=6))
def test_read_name_decodes_each_label_as_before(labels: list[bytes]) -> None:
    def label(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    data = b"\x00" * 12 + name(*labels)
    got, end = dns.read_name(data, 12)
    assert got == ".".join(label(x) for x in labels)
    assert end == len(data)
