"""Application-protocol bytes for simulated traffic: HTTP/1.1, DNS, MQTT 3.1.1, NTP and
the server side of a TLS 1.3 handshake, plus exchanges that put them on a :class:`Lan`.

Builders return exactly what goes on the wire so that tests can compare the scanner's
view with what was sent. The client side of TLS and QUIC lives in ``tls_build`` and
``quic_build``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from phonehome.simulate.packets import Lan

# --- HTTP/1.1 -------------------------------------------------------------------------


def http_request(
    method: str, target: str, host: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """A request; adds Content-Length for a body unless the caller chose chunked."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    names = {k.lower() for k, _ in headers}
    if (
        (body or method in ("POST", "PUT"))
        and "transfer-encoding" not in names
        and "content-length" not in names
    ):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def http_response(
    status: int, reason: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    names = {k.lower() for k, _ in headers}
    if "transfer-encoding" not in names and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 64) -> bytes:
    """Transfer-Encoding: chunked framing with fixed-size chunks and no trailers."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


# --- DNS ----------------------------------------------------------------------------

QTYPE_A = 1
QTYPE_AAAA = 28
QTYPE_CNAME = 5


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def dns_query(txid: int, name: str, qtype: int = QTYPE_A) -> bytes:
    # flags 0x0100: standard query, recursion desired
    return (
        struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0)
        + dns_name(name)
        + struct.pack("!HH", qtype, 1)
    )


def dns_response(
    txid: int, name: str, qtype: int, answers: Sequence[bytes], ttl: int = 300
) -> bytes:
    """A response whose answers all point back at the question name (pointer 0xC00C)."""
    head = struct.pack("!HHHHHH", txid, 0x8180, 1, len(answers), 0, 0)
    question = dns_name(name) + struct.pack("!HH", qtype, 1)
    records = b"".join(
        struct.pack("!HHHIH", 0xC00C, QTYPE_A if len(a) == 4 else QTYPE_AAAA, 1, ttl, len(a)) + a
        for a in answers
    )
    return head + question + records


def dns_response_cname(
    txid: int, name: str, cname: str, answers: Sequence[bytes], ttl: int = 300
) -> bytes:
    """An A/AAAA response through a CNAME: ``name`` CNAME ``cname``, then ``cname``'s
    addresses (the shape CDNs answer with)."""
    qtype = QTYPE_AAAA if answers and len(answers[0]) == 16 else QTYPE_A
    head = struct.pack("!HHHHHH", txid, 0x8180, 1, 1 + len(answers), 0, 0)
    question = dns_name(name) + struct.pack("!HH", qtype, 1)
    target = dns_name(cname)
    alias = struct.pack("!HHHIH", 0xC00C, QTYPE_CNAME, 1, ttl, len(target)) + target
    at = len(head) + len(question) + 12  # offset of the CNAME's target name
    records = b"".join(
        struct.pack("!HHHIH", 0xC000 | at, qtype, 1, ttl, len(a)) + a for a in answers
    )
    return head + question + alias + records


# --- MQTT 3.1.1 ---------------------------------------------------------------------


def _mqtt_remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def mqtt_connect(client_id: str, keepalive: int = 60, username: str | None = None) -> bytes:
    flags = 0x02 | (0x80 if username is not None else 0)  # clean session (+ username)
    body = _mqtt_str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    body += _mqtt_str(client_id)
    if username is not None:
        body += _mqtt_str(username)
    return b"\x10" + _mqtt_remaining_length(len(body)) + body


def mqtt_connack() -> bytes:
    return b"\x20\x02\x00\x00"


def mqtt_publish(topic: str, payload: bytes) -> bytes:
    """QoS 0 PUBLISH (no packet identifier)."""
    body = _mqtt_str(topic) + payload
    return b"\x30" + _mqtt_remaining_length(len(body)) + body


def mqtt_disconnect() -> bytes:
    return b"\xe0\x00"


# --- NTP ----------------------------------------------------------------------------

_NTP_EPOCH_OFFSET = 2_208_988_800


def _ntp_time(t_us: int) -> bytes:
    sec, usec = divmod(t_us, 1_000_000)
    return struct.pack("!II", sec + _NTP_EPOCH_OFFSET, (usec << 32) // 1_000_000)


def ntp_request(t_us: int) -> bytes:
    """SNTP v4 client request, as Android sends it: only the transmit timestamp set."""
    return bytes([0x23]) + b"\0" * 39 + _ntp_time(t_us)


def ntp_response(request_t_us: int, t_us: int) -> bytes:
    head = struct.pack("!BBbbII", 0x24, 2, 3, -23, 0x00000120, 0x00000450) + b"\xd8\xef\x23\x0c"
    return head + _ntp_time(t_us - 1_000_000) + _ntp_time(request_t_us) + _ntp_time(t_us) * 2


# --- TLS (server side only; the ClientHello comes from tls_build) -------------------


def tls_server_flight(
    random32: bytes, session_id: bytes, key_share: bytes, app_data: Sequence[int] = (1200,)
) -> bytes:
    """ServerHello (TLS 1.3, x25519) + ChangeCipherSpec + opaque application-data records.

    The encrypted records carry filler bytes: without keys no dissector can tell, and the
    scanner only needs to see that the flow is encrypted.
    """
    exts = struct.pack("!HHH", 0x002B, 2, 0x0304)  # supported_versions: TLS 1.3
    exts += struct.pack("!HHHH", 0x0033, 4 + len(key_share), 0x001D, len(key_share)) + key_share
    body = struct.pack("!H", 0x0303) + random32 + bytes([len(session_id)]) + session_id
    body += struct.pack("!HB", 0x1301, 0) + struct.pack("!H", len(exts)) + exts
    hello = b"\x02" + len(body).to_bytes(3, "big") + body
    out = b"\x16\x03\x03" + struct.pack("!H", len(hello)) + hello
    out += b"\x14\x03\x03\x00\x01\x01"
    for n in app_data:
        out += application_data(n, random32)
    return out


def application_data(n: int, seed: bytes = b"\x5a") -> bytes:
    """One TLS application-data record of ``n`` opaque bytes."""
    filler = (seed * (n // max(len(seed), 1) + 1))[:n]
    return b"\x17\x03\x03" + struct.pack("!H", n) + filler


# --- exchanges ----------------------------------------------------------------------


class Exchange(NamedTuple):
    """Frame references of one request/response exchange and the clock after it."""

    request: list[int]
    response: list[int]
    t_us: int


def dns_exchange(
    lan: Lan,
    t_us: int,
    name: str,
    answers: Sequence[bytes],
    *,
    txid: int,
    qtype: int = QTYPE_A,
    rtt_us: int = 12_000,
    v6: bool = False,
) -> Exchange:
    """A query to the router's resolver and its answer (over IPv6 when ``v6``)."""
    resolver = lan.router6.ip if v6 else lan.router4.ip
    port = lan.ephemeral_port()
    q = lan.udp(t_us, True, resolver, 53, port, dns_query(txid, name, qtype))
    r = lan.udp(t_us + rtt_us, False, resolver, 53, port, dns_response(txid, name, qtype, answers))
    return Exchange([q], [r], t_us + rtt_us + 500)


def tcp_exchange(
    lan: Lan,
    t_us: int,
    ip: bytes,
    port: int,
    request: bytes,
    response: bytes,
    *,
    rtt_us: int = 30_000,
    server_us: int = 15_000,
    isn: tuple[int, int] = (1, 1),
) -> Exchange:
    """Connect, send one request, receive one response, close (the client closes)."""
    conn = lan.tcp(t_us, ip, port, rtt_us=rtt_us, isn=isn)
    conn.open()
    req = conn.send(request, from_client=True)
    conn.wait(server_us)
    resp = conn.send(response, from_client=False) if response else []
    conn.wait(2_000)
    conn.close()
    return Exchange(req, resp, conn.t_us)
