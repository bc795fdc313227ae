"""TLS ClientHello parsing: SNI, ALPN, GREASE, ECH, record reassembly, damage, tshark."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.model.message import TlsClientHello
from phonehome.protocols.tls import (
    MAX_HELLO,
    TlsError,
    is_grease,
    looks_like_client_hello,
    parse_client_hello,
    parse_client_hello_records,
)
from phonehome.simulate.tls_build import client_hello, tls_records

# --- a minimal hand-built hello, independent of the builder ---------------------------
from tests import tshark


def ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def raw_hello(extensions: bytes | None, legacy_version: int = 0x0303) -> bytes:
    body = (
        struct.pack("!H", legacy_version)
        + bytes(32)
        + b"\x00"  # empty session id
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
    )
    if extensions is not None:
        body += struct.pack("!H", len(extensions)) + extensions
    return b"\x01" + len(body).to_bytes(3, "big") + body


def sni_ext(host: bytes) -> bytes:
    entry = b"\x00" + struct.pack("!H", len(host)) + host
    return ext(0, struct.pack("!H", len(entry)) + entry)


def versions_ext(*versions: int) -> bytes:
    data = b"".join(struct.pack("!H", v) for v in versions)
    return ext(43, bytes((len(data),)) + data)


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        (
            sni_ext(b"Device-356938035643809.Example.COM"),
            TlsClientHello("Device-356938035643809.Example.COM", (), "TLS 1.2", False),
        ),
        (sni_ext(b"trailing.example."), TlsClientHello("trailing.example", (), "TLS 1.2")),
        (None, TlsClientHello(None, (), "TLS 1.2")),
        (b"", TlsClientHello(None, (), "TLS 1.2")),
        (versions_ext(0xFAFA, 0x0304, 0x0303), TlsClientHello(None, (), "TLS 1.3")),
        (versions_ext(0x0303, 0x0A0A), TlsClientHello(None, (), "TLS 1.2")),
        (versions_ext(0x7F1C), TlsClientHello(None, (), "0x7f1c")),  # a TLS 1.3 draft
        (ext(0xFE0D, b"\x00\x00\x01\x00\x01\x07"), TlsClientHello(None, (), "TLS 1.2", True)),
        (
            ext(16, b"\x00\x0c\x02h2\x08http/1.1"),
            TlsClientHello(None, ("h2", "http/1.1"), "TLS 1.2"),
        ),
        (ext(0x1A1A, b"") + ext(99, b"xyz"), TlsClientHello(None, (), "TLS 1.2")),
    ],
)
def test_hand_built_hellos(extensions: bytes | None, expected: TlsClientHello) -> None:
    assert parse_client_hello(raw_hello(extensions)) == expected


def test_legacy_version_when_no_supported_versions() -> None:
    assert parse_client_hello(raw_hello(b"", legacy_version=0x0301)).version == "TLS 1.0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0x0A0A, True), (0xFAFA, True), (0x3A3A, True), (0x0304, False), (0x0A1A, False)],
)
def test_grease_values(value: int, expected: bool) -> None:
    assert is_grease(value) is expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x00\x00",
        b"\x02\x00\x00\x04abcd",  # ServerHello
        raw_hello(None)[:-1],  # cut inside the body
        raw_hello(sni_ext(b"a.example"))[:-3],  # cut inside an extension
        raw_hello(ext(0, b"\x00\x09\x00\x00\x10abc")),  # SNI length past the extension
        raw_hello(None, legacy_version=0x0100),
        b"\x01" + (MAX_HELLO + 1).to_bytes(3, "big") + bytes(100),
    ],
)
def test_bad_hellos_raise(data: bytes) -> None:
    with pytest.raises(TlsError):
        parse_client_hello(data)


# --- the builder, read back -----------------------------------------------------------


@pytest.mark.parametrize("grease", [True, False])
@pytest.mark.parametrize("tls13", [True, False])
def test_builder_round_trip(grease: bool, tls13: bool) -> None:
    hello = client_hello("api.example.org", ("h2", "http/1.1"), tls13=tls13, grease=grease)
    assert parse_client_hello(hello) == TlsClientHello(
        "api.example.org", ("h2", "http/1.1"), "TLS 1.3" if tls13 else "TLS 1.2", False
    )


def test_builder_ech_outer_name_and_padding() -> None:
    hello = client_hello("public.example", ("h3",), ech=True, padding_to=1024)
    assert len(hello) == 1024
    assert parse_client_hello(hello) == TlsClientHello("public.example", ("h3",), "TLS 1.3", True)


def test_builder_is_deterministic() -> None:
    assert client_hello("a.example") == client_hello("a.example")
    assert client_hello("a.example") != client_hello("b.example")


# --- records --------------------------------------------------------------------------

HELLO = client_hello("split.example", ("h2",), padding_to=600)


@pytest.mark.parametrize("fragment", [16384, 512, 100, 7, 1])
def test_hello_split_over_records(fragment: int) -> None:
    stream = tls_records(HELLO, fragment)
    assert parse_client_hello_records(stream) == TlsClientHello(
        "split.example", ("h2",), "TLS 1.3", False
    )


def test_records_need_more_bytes() -> None:
    stream = tls_records(HELLO, 100)
    for end in (0, 1, 3, 5, 6, 50, 105, len(stream) - 1):
        assert parse_client_hello_records(stream[:end]) is None, end
    assert parse_client_hello_records(stream) is not None


def test_records_with_application_data_after_the_hello() -> None:
    stream = tls_records(HELLO) + b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x05hello"
    result = parse_client_hello_records(stream)
    assert result is not None and result.sni == "split.example"


@pytest.mark.parametrize(
    "stream",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x17\x03\x03\x00\x10" + bytes(16),  # application data first
        b"\x16\x03\x03\x00\x04\x02\x00\x00\x00",  # ServerHello
        b"\x16\x02\x00\x00\x04",  # SSL 2 style version
        b"\x16\x03\x01\x00\x00",  # empty record
        b"\x16\x03\x01\x50\x00" + bytes(10),  # record over the limit
        tls_records(HELLO, 100)[:210] + b"\x15\x03\x01\x00\x02\x02\x28",  # alert mid-hello
        b"\x16\x03\x01\x00\x04\x01\x01\x00\x01",  # ClientHello over 64 KiB
    ],
)
def test_records_that_are_not_a_client_hello(stream: bytes) -> None:
    with pytest.raises(TlsError):
        parse_client_hello_records(stream)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (tls_records(HELLO), True),
        (b"\x16", True),
        (b"\x16\x03\x01", True),
        (b"\x16\x03\x01\x02\x00\x02", False),
        (b"\x16\x05", False),
        (b"\x17\x03\x03", False),
        (b"", False),
    ],
)
def test_looks_like_client_hello(data: bytes, expected: bool) -> None:
    assert looks_like_client_hello(data) is expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=700))
def test_fuzz_only_tls_error(data: bytes) -> None:
    with contextlib.suppress(TlsError):
        parse_client_hello(data)
    with contextlib.suppress(TlsError):
        parse_client_hello_records(data)
    with contextlib.suppress(TlsError):
        parse_client_hello(b"\x01" + len(data).to_bytes(3, "big") + data)
    looks_like_client_hello(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_fuzz_damaged_hello_only_tls_error(position: int, flip: int) -> None:
    damaged = bytearray(tls_records(HELLO, 200))
    damaged[position % len(damaged)] ^= flip
    with contextlib.suppress(TlsError):
        parse_client_hello_records(bytes(damaged))


# --- cross-check with tshark ----------------------------------------------------------


def _pcap_tcp(payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
    ip = (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, bytes((10, 0, 0, 2)), bytes((10, 0, 0, 1)),
        )
        + tcp
    )  # fmt: skip
    frame = bytes(6) + bytes((2, 0, 0, 0, 0, 1)) + b"\x08\x00" + ip
    record = struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1) + record


@pytest.mark.parametrize("ech", [False, True])
def test_tshark_dissects_built_hello(tmp_path: Path, ech: bool) -> None:
    hello = client_hello("tshark.example.net", ("h2", "http/1.1"), ech=ech, padding_to=517)
    path = tmp_path / "hello.pcap"
    path.write_bytes(_pcap_tcp(tls_records(hello)))
    [(sni, alpn)] = tshark.fields(
        path, "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str"
    )
    ours = parse_client_hello(hello)
    assert sni == ours.sni
    assert tuple(alpn.split(",")) == ours.alpn
