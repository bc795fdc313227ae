"""TLS 1.3 connections carrying HTTP/2, sealed for real, with the key log that opens them.

What a phone's HTTPS looks like in a capture when the user has the session keys
(PCAPdroid's TLS decryption mode, ``SSLKEYLOGFILE``, friTap): a ClientHello and ServerHello
in the clear, then records protected with AES-128-GCM under keys derived (RFC 8446 7.3)
from traffic secrets that the simulator draws at random and writes as an NSS key log
(``CLIENT_HANDSHAKE_TRAFFIC_SECRET`` ... ``SERVER_TRAFFIC_SECRET_0``). No key exchange
happens: nothing needs one, since a key log gives the secrets directly — to phonehome as
to Wireshark, which reads these connections like real ones. The server's flight has
EncryptedExtensions (ALPN ``h2``), a self-signed Ed25519 certificate (deterministic, so a
seed still gives byte-identical files), CertificateVerify and Finished.

HTTP/2 (RFC 9113) inside: the client preface and SETTINGS, one stream per request with
HEADERS (HPACK, :class:`HpackEncoder`: the dynamic table is used, as real encoders do,
so a connection's second request is mostly table references) and DATA; the server's
SETTINGS, its acknowledgements and one response per stream.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import struct
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phonehome.decrypt.schedule import traffic_keys
from phonehome.protocols.hpack_decoder import ENTRY_OVERHEAD, STATIC_TABLE
from phonehome.protocols.http2 import PREFACE
from phonehome.simulate import tls_build

SUITE_AES_128_GCM_SHA256 = 0x1301
MAX_FRAGMENT = 16384
HEADER_TABLE_SIZE = 4096
"""HPACK's default table size (SETTINGS_HEADER_TABLE_SIZE is not changed)."""

CT_CHANGE_CIPHER_SPEC = 20
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23


# -- HPACK (RFC 7541) -------------------------------------------------------------------


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(value: bytes) -> bytes:
    return _integer(len(value), 7, 0) + value  # no Huffman coding


_STATIC_FIELDS = {(n, v): i for i, (n, v) in enumerate(STATIC_TABLE, 1)}
_STATIC_NAMES: dict[bytes, int] = {}
for _i, (_name, _) in enumerate(STATIC_TABLE, 1):
    _STATIC_NAMES.setdefault(_name, _i)


class HpackEncoder:
    """Header blocks for one direction: exact static/dynamic matches as indexed fields,
    everything else as literals with incremental indexing (the table is then used by the
    next request, as browsers' and OkHttp's encoders do)."""

    def __init__(self, max_size: int = HEADER_TABLE_SIZE) -> None:
        self.max_size = max_size
        self.size = 0
        self.table: list[tuple[bytes, bytes]] = []  # newest first (index 62 is table[0])

    def encode(self, fields: Sequence[tuple[str, str]]) -> bytes:
        out = bytearray()
        for name_text, value_text in fields:
            name, value = name_text.encode(), value_text.encode()
            index = _STATIC_FIELDS.get((name, value))
            if index is None and (name, value) in self.table:
                index = len(STATIC_TABLE) + 1 + self.table.index((name, value))
            if index is not None:
                out += _integer(index, 7, 0x80)
                continue
            name_index = _STATIC_NAMES.get(name, 0)
            out += _integer(name_index, 6, 0x40)
            if not name_index:
                out += _string(name)
            out += _string(value)
            self._add(name, value)
        return bytes(out)

    def _add(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + ENTRY_OVERHEAD
        while self.table and self.size + size > self.max_size:
            old_name, old_value = self.table.pop()
            self.size -= len(old_name) + len(old_value) + ENTRY_OVERHEAD
        if size <= self.max_size:
            self.table.insert(0, (name, value))
            self.size += size


# -- HTTP/2 frames (RFC 9113 4-6) ---------------------------------------------------------

H2_DATA, H2_HEADERS, H2_SETTINGS, H2_WINDOW_UPDATE = 0x0, 0x1, 0x4, 0x8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
H2_MAX_FRAME = 16384


def h2_frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes((ftype, flags))
        + stream.to_bytes(4, "big")
        + (payload)
    )


def h2_settings(pairs: Sequence[tuple[int, int]] = ()) -> bytes:
    return h2_frame(H2_SETTINGS, 0, 0, b"".join(struct.pack("!HI", k, v) for k, v in pairs))


def h2_message(stream: int, block: bytes, body: bytes) -> bytes:
    """HEADERS (ending the stream when there is no body) and DATA frames."""
    if not body:
        return h2_frame(H2_HEADERS, END_HEADERS | END_STREAM, stream, block)
    out = [h2_frame(H2_HEADERS, END_HEADERS, stream, block)]
    for start in range(0, len(body), H2_MAX_FRAME):
        last = start + H2_MAX_FRAME >= len(body)
        out.append(
            h2_frame(H2_DATA, END_STREAM if last else 0, stream, body[start : start + H2_MAX_FRAME])
        )
    return b"".join(out)


# -- TLS 1.3 --------------------------------------------------------------------------------


class Sealer:
    """One direction's record protection under one traffic secret (RFC 8446 5.2)."""

    def __init__(self, secret: bytes) -> None:
        key, iv = traffic_keys(secret, 16, 12, "sha256")
        self._aead = AESGCM(key)
        self._iv = int.from_bytes(iv, "big")
        self.seq = 0

    def seal(self, content_type: int, data: bytes) -> bytes:
        out = []
        for start in range(0, max(len(data), 1), MAX_FRAGMENT):
            inner = data[start : start + MAX_FRAGMENT] + bytes((content_type,))
            header = bytes((CT_APPLICATION_DATA, 3, 3)) + (len(inner) + 16).to_bytes(2, "big")
            nonce = (self._iv ^ self.seq).to_bytes(12, "big")
            out.append(header + self._aead.encrypt(nonce, inner, header))
            self.seq += 1
        return b"".join(out)


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes((msg_type,)) + _vec(body, 3)


def _record(content_type: int, data: bytes) -> bytes:
    return bytes((content_type, 3, 3)) + _vec(data, 2)


def certificate_der(name: str) -> bytes:
    """A self-signed Ed25519 certificate for ``name``; Ed25519 signatures are deterministic,
    so the same name always gives the same bytes."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(b"serial" + name.encode()).digest()[:8]))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


class Connection:
    """The byte streams of one TLS 1.3 + HTTP/2 connection and its key log lines.

    ``client_flight``/``server_flight`` are the handshake; :meth:`request` and
    :meth:`response` give each side's records for one exchange (HPACK state and record
    sequence numbers carry over, as on a real connection).
    """

    def __init__(self, rng: random.Random, sni: str, certificate: bytes) -> None:
        secrets = [rng.randbytes(32) for _ in range(4)]
        hello = bytearray(tls_build.client_hello(sni, ("h2", "http/1.1")))
        hello[6:38] = self.client_random = rng.randbytes(32)
        session_id = bytes(hello[39:71])
        self.client_flight = tls_build.tls_records(bytes(hello))
        self._secrets = secrets
        key_share = b"\x00\x1d" + _vec(rng.randbytes(32), 2)
        extensions = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HH", 51, len(key_share))
        server_hello = (
            b"\x03\x03" + rng.randbytes(32) + _vec(session_id, 1)
            + struct.pack("!HB", SUITE_AES_128_GCM_SHA256, 0) + _vec(extensions + key_share, 2)
        )  # fmt: skip
        server_hs = Sealer(secrets[1])
        alpn = _vec(_vec(b"h2", 1), 2)
        encrypted_extensions = _vec(struct.pack("!HH", 16, len(alpn)) + alpn, 2)
        cert_entry = _vec(certificate, 3) + b"\x00\x00"
        flight = (
            _handshake(8, encrypted_extensions)
            + _handshake(11, b"\x00" + _vec(cert_entry, 3))
            + _handshake(15, b"\x08\x07" + _vec(rng.randbytes(64), 2))  # ed25519
            + _handshake(20, rng.randbytes(32))
        )
        self.server_flight = (
            _record(CT_HANDSHAKE, _handshake(2, server_hello))
            + _record(CT_CHANGE_CIPHER_SPEC, b"\x01")
            + server_hs.seal(CT_HANDSHAKE, flight)
        )
        client_hs = Sealer(secrets[0])
        self.client_finished = _record(CT_CHANGE_CIPHER_SPEC, b"\x01") + client_hs.seal(
            CT_HANDSHAKE, _handshake(20, rng.randbytes(32))
        )
        self._client = Sealer(secrets[2])
        self._server = Sealer(secrets[3])
        self._client_hpack = HpackEncoder()
        self._server_hpack = HpackEncoder()
        self._stream = 1
        self._client_started = False
        self._server_started = False

    def keylog(self) -> bytes:
        """The connection's NSS key log lines."""
        random_hex = self.client_random.hex()
        labels = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                  "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")  # fmt: skip
        return b"".join(
            f"{label} {random_hex} {secret.hex()}\n".encode()
            for label, secret in zip(labels, self._secrets, strict=True)
        )

    def request(self, headers: Sequence[tuple[str, str]], body: bytes) -> tuple[bytes, int]:
        """The client's records of one request (the preface before the first), and its
        stream id."""
        stream = self._stream
        self._stream += 2
        data = b""
        if not self._client_started:
            self._client_started = True
            data = PREFACE + h2_settings([(2, 0), (4, 6291456)])  # no push, OkHttp's window
        block = self._client_hpack.encode(headers)
        data += h2_message(stream, block, body)
        return self._client.seal(CT_APPLICATION_DATA, data), stream

    def response(self, stream: int, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
        """The server's records of one response (its SETTINGS and the ACK of the client's
        before the first)."""
        data = b""
        if not self._server_started:
            self._server_started = True
            data = h2_settings([(3, 100)]) + h2_frame(H2_SETTINGS, ACK, 0, b"")
        data += h2_message(stream, self._server_hpack.encode(headers), body)
        return self._server.seal(CT_APPLICATION_DATA, data)
