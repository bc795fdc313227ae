"""QUIC client Initial packets (RFC 9000, RFC 9001 section 5, RFC 9369 for v2).

Initial packets are encrypted, but with keys anyone can derive from the destination
connection id in the clear, so the TLS ClientHello inside (server name, ALPN) is as
visible as over TCP. This module removes that protection and reassembles the CRYPTO
stream, which browsers spread over several packets and frames in random order.

Nothing here raises on bad data: problems are reported through
:attr:`QuicInitialTracker.problem` for the session to count as anomalies.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phonehome.context import DECRYPTED, INCOMPLETE, KEYS_MISSING, UNSUPPORTED, WRONG_KEY
from phonehome.decrypt.wire import HANDSHAKE as HANDSHAKE
from phonehome.decrypt.wire import INITIAL as INITIAL
from phonehome.decrypt.wire import MAX_CID as MAX_CID
from phonehome.decrypt.wire import RETRY as RETRY
from phonehome.decrypt.wire import VERSION_1 as VERSION_1
from phonehome.decrypt.wire import VERSION_2 as VERSION_2
from phonehome.decrypt.wire import VERSIONS as VERSIONS
from phonehome.decrypt.wire import ZERO_RTT as ZERO_RTT
from phonehome.decrypt.wire import QuicVersion as QuicVersion
from phonehome.decrypt.wire import TlsError
from phonehome.decrypt.wire import hkdf_extract as hkdf_extract
from phonehome.extract.engine import Budget
from phonehome.extract.names import labels
from phonehome.model.field import Field
from phonehome.model.message import Content, Decryption, Message, QuicInitial
from phonehome.protocols.base import Parsed, Protocol, UdpApp, UdpHost
from phonehome.protocols.http3 import Http3Connection
from phonehome.protocols.tls import HANDSHAKE_CLIENT_HELLO, parse_client_hello

if TYPE_CHECKING:
    from phonehome.decrypt.quic import QuicDecryptor, StreamPiece

MAX_INITIAL_PACKETS = 8
"""Client Initial packets examined per connection before giving up on the hello."""
MAX_DATAGRAMS = 32
"""Client datagrams examined per connection before giving up on the hello."""
MAX_CRYPTO = 65536
"""CRYPTO stream bytes accepted: a ClientHello is far smaller."""
MAX_PENDING = 64
"""Out-of-order CRYPTO pieces held while waiting for the gap before them."""
TAG_LEN = 16
SAMPLE_LEN = 16


def hkdf_expand_label(secret: bytes, label: bytes, length: int, context: bytes = b"") -> bytes:
    """TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1), the derivation QUIC reuses."""
    full_label = b"tls13 " + label
    info = (
        length.to_bytes(2, "big")
        + bytes((len(full_label),))
        + full_label
        + bytes((len(context),))
        + context
    )
    return hkdf_expand(secret, info, length)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869 2.3) with SHA-256, as one-shot HMACs.

    Every derivation here is at most 32 bytes, so one HMAC. cryptography's HKDFExpand
    gives the same bytes (tests/test_protocols_quic.py checks) but builds Python-level
    objects per call: ~6 % of ``flows`` on the QUIC-heavy stress corpus, for five
    derivations per connection."""
    if length > 255 * 32:
        raise ValueError("HKDF-Expand: length over 255 blocks")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), "sha256")
        out += block
        counter += 1
    return out[:length]


class InitialKeys:
    """Packet protection for one direction of Initial packets: AEAD key/IV and HP key."""

    __slots__ = ("_hp_encryptor", "aead", "hp", "iv", "key")

    def __init__(self, key: bytes, iv: bytes, hp: bytes) -> None:
        self.key = key
        self.iv = iv
        self.hp = hp
        self.aead = AESGCM(key)
        # ECB has no chaining, so one encryptor serves every 16-byte sample.
        self._hp_encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()

    def mask(self, sample: bytes) -> bytes:
        """Header protection mask (RFC 9001 5.4.3): 5 bytes of AES-ECB(hp, sample)."""
        return self._hp_encryptor.update(sample)[:5]

    def nonce(self, packet_number: int) -> bytes:
        """The AEAD nonce: the IV XOR the packet number, left-padded (RFC 9001 5.3)."""
        n = len(self.iv)
        return (int.from_bytes(self.iv, "big") ^ packet_number).to_bytes(n, "big")


def client_initial_keys(dcid: bytes, version: int = VERSION_1) -> InitialKeys:
    """Client Initial keys from the original destination connection id (RFC 9001 5.2).

    Raises KeyError for a version this module does not know.
    """
    v = VERSIONS[version]
    initial_secret = hkdf_extract(v.salt, dcid)
    client_secret = hkdf_expand_label(initial_secret, b"client in", 32)
    return InitialKeys(
        hkdf_expand_label(client_secret, v.key_label, 16),
        hkdf_expand_label(client_secret, v.iv_label, 12),
        hkdf_expand_label(client_secret, v.hp_label, 16),
    )


def encode_varint(value: int) -> bytes:
    """RFC 9000 16 variable-length integer, shortest form."""
    if value < 0x40:
        return value.to_bytes(1, "big")
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    if value < 0x4000000000000000:
        return (value | 0xC000000000000000).to_bytes(8, "big")
    raise ValueError(f"{value} does not fit a QUIC varint")


class _Truncated(Exception):
    """Internal: a field ran past the end of the buffer."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise _Truncated
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise _Truncated
    value = first & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[pos + i]
    return value, pos + size


class _LongHeader:
    """A long header as read before header protection is removed."""

    __slots__ = ("dcid", "end", "pn_offset", "ptype", "start", "version")

    def __init__(
        self, start: int, version: QuicVersion, ptype: int, dcid: bytes, pn_offset: int, end: int
    ) -> None:
        self.start = start
        self.version = version
        self.ptype = ptype
        self.dcid = dcid
        self.pn_offset = pn_offset
        self.end = end


def _long_header(data: bytes, pos: int) -> _LongHeader | None:
    """The long header packet at ``pos`` of a datagram, or None when there is none that
    can be walked (short header, unknown version, Retry, truncated)."""
    n = len(data)
    if pos + 7 > n:
        return None
    first = data[pos]
    if first & 0xC0 != 0xC0:
        return None
    (number,) = struct.unpack_from("!I", data, pos + 1)
    version = VERSIONS.get(number)
    if version is None:
        return None
    ptype = version.packet_type(first)
    if ptype == RETRY:
        return None
    dcil = data[pos + 5]
    p = pos + 6
    if dcil > MAX_CID or p + dcil >= n:
        return None
    dcid = data[p : p + dcil]
    p += dcil
    scil = data[p]
    p += 1 + scil
    if scil > MAX_CID or p > n:
        return None
    try:
        if ptype == INITIAL:
            token_len, p = _varint(data, p)
            p += token_len
        length, p = _varint(data, p)
    except _Truncated:
        return None
    end = p + length
    if end > n or length < 1:
        return None
    return _LongHeader(pos, version, ptype, dcid, p, end)


def looks_like_quic_initial(datagram: bytes) -> bool:
    """A long header Initial of QUIC v1 or v2 whose header fits the datagram."""
    header = _long_header(datagram, 0)
    return header is not None and header.ptype == INITIAL


def _decode_packet_number(truncated: int, pn_len: int, largest: int) -> int:
    """RFC 9000 A.3: the full packet number closest to the next expected one."""
    expected = largest + 1
    window = 1 << (pn_len * 8)
    half = window // 2
    candidate = (expected & ~(window - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - window:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


def open_packet(
    data: bytes, header: _LongHeader, keys: InitialKeys, largest_pn: int = -1
) -> tuple[int, bytes] | None:
    """Remove header protection and decrypt; (packet number, plaintext) or None."""
    sample_at = header.pn_offset + 4
    if sample_at + SAMPLE_LEN > header.end:
        return None
    mask = keys.mask(data[sample_at : sample_at + SAMPLE_LEN])
    first = data[header.start] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn_end = header.pn_offset + pn_len
    pn_bytes = bytes(
        b ^ m for b, m in zip(data[header.pn_offset : pn_end], mask[1 : 1 + pn_len], strict=True)
    )
    if header.end - pn_end < TAG_LEN:
        return None
    packet_number = _decode_packet_number(int.from_bytes(pn_bytes, "big"), pn_len, largest_pn)
    aad = bytes((first,)) + data[header.start + 1 : header.pn_offset] + pn_bytes
    try:
        plaintext = keys.aead.decrypt(keys.nonce(packet_number), data[pn_end : header.end], aad)
    except InvalidTag:
        return None
    return packet_number, plaintext


def crypto_frames(plaintext: bytes) -> tuple[list[tuple[int, bytes]], str | None]:
    """CRYPTO frame (offset, data) pieces of an Initial payload, and a problem if any.

    Initial packets may only hold PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE
    (RFC 9000 12.4); anything else ends the walk with a problem.
    """
    pieces: list[tuple[int, bytes]] = []
    pos = 0
    n = len(plaintext)
    try:
        while pos < n:
            frame_type = plaintext[pos]
            pos += 1
            if frame_type == 0x00:
                rest = plaintext[pos:].lstrip(b"\x00")
                pos = n - len(rest)
            elif frame_type == 0x01:
                continue
            elif frame_type in (0x02, 0x03):
                _largest, pos = _varint(plaintext, pos)
                _delay, pos = _varint(plaintext, pos)
                ranges, pos = _varint(plaintext, pos)
                _first, pos = _varint(plaintext, pos)
                for _ in range(2 * ranges + (3 if frame_type == 0x03 else 0)):
                    _value, pos = _varint(plaintext, pos)
            elif frame_type == 0x06:
                offset, pos = _varint(plaintext, pos)
                length, pos = _varint(plaintext, pos)
                if pos + length > n:
                    return pieces, "CRYPTO frame runs past the packet"
                pieces.append((offset, plaintext[pos : pos + length]))
                pos += length
            elif frame_type == 0x1C:
                return pieces, None
            else:
                return pieces, f"frame type 0x{frame_type:02x} in an Initial packet"
    except _Truncated:
        return pieces, "truncated frame"
    return pieces, None


class QuicInitialTracker:
    """Follows the client side of one QUIC connection until its ClientHello is read.

    Fed every client datagram of a UDP flow. Returns one :class:`QuicInitial` when the
    hello is complete (or, with ``hello=None``, when it cannot be completed), then sets
    ``done``. After each :meth:`feed`, ``problem`` holds an anomaly ``(kind, detail)``
    or None; ``decrypted`` counts the Initial packets that could be opened (zero means
    the flow only looked like QUIC).
    """

    __slots__ = (
        "_datagrams",
        "_keys",
        "_largest_pn",
        "_odcid",
        "_packets",
        "_pending",
        "_stream",
        "_version",
        "decrypted",
        "done",
        "problem",
    )

    def __init__(self) -> None:
        self.done = False
        self.problem: tuple[str, str] | None = None
        self._version: QuicVersion | None = None
        self._odcid = b""
        self._keys: dict[tuple[int, bytes], InitialKeys] = {}
        self._largest_pn = -1
        self._datagrams = 0
        self._packets = 0
        self.decrypted = 0
        self._stream = bytearray()
        self._pending: dict[int, bytes] = {}

    def feed(self, datagram: bytes) -> QuicInitial | None:
        self.problem = None
        if self.done:
            return None
        self._datagrams += 1
        pos = 0
        while pos < len(datagram):
            header = _long_header(datagram, pos)
            if header is None:
                break  # short header, Retry, unknown version or junk after the packets
            pos = header.end
            if header.ptype != INITIAL:
                continue  # coalesced 0-RTT / Handshake packet: not readable, skip it
            result = self._initial(datagram, header)
            if result is not None or self.done:
                return result
        if self._datagrams >= MAX_DATAGRAMS or self._packets >= MAX_INITIAL_PACKETS:
            return self._give_up("quic.incomplete_hello", "no complete ClientHello")
        return None

    def _initial(self, datagram: bytes, header: _LongHeader) -> QuicInitial | None:
        if self._version is None or header.version is not self._version:
            # First packet, or the client started over with another version.
            self._version = header.version
            self._odcid = header.dcid
            self._largest_pn = -1
            self._stream.clear()
            self._pending.clear()
        self._packets += 1
        opened = self._open(datagram, header)
        if opened is None:
            self.problem = (
                "quic.decrypt_failed",
                f"{header.version.name} Initial, dcid {header.dcid.hex()}",
            )
            return None
        packet_number, plaintext = opened
        self.decrypted += 1
        self._largest_pn = max(self._largest_pn, packet_number)
        pieces, frame_problem = crypto_frames(plaintext)
        if frame_problem is not None:
            self.problem = ("quic.bad_frame", frame_problem)
        for offset, data in pieces:
            if offset + len(data) > MAX_CRYPTO:
                return self._give_up("quic.crypto_too_large", f"CRYPTO data at {offset}")
            self._add(offset, data)
        return self._hello()

    def _open(self, datagram: bytes, header: _LongHeader) -> tuple[int, bytes] | None:
        """Keys come from the first Initial's dcid; after a Retry the client derives new
        ones from the dcid it was given, which is then the packet's own dcid."""
        assert self._version is not None
        for dcid in dict.fromkeys((self._odcid, header.dcid)):
            cache_key = (self._version.number, dcid)
            keys = self._keys.get(cache_key)
            if keys is None:
                if len(self._keys) >= 4:
                    self._keys.clear()
                keys = client_initial_keys(dcid, self._version.number)
                self._keys[cache_key] = keys
            opened = open_packet(datagram, header, keys, self._largest_pn)
            if opened is not None:
                return opened
        return None

    def _add(self, offset: int, data: bytes) -> None:
        have = len(self._stream)
        if offset > have:
            if len(self._pending) < MAX_PENDING and len(data) > len(self._pending.get(offset, b"")):
                self._pending[offset] = data
            return
        if offset + len(data) > have:
            self._stream += data[have - offset :]
        # Pieces that arrived early may now join the contiguous prefix.
        progress = True
        while progress and self._pending:
            progress = False
            for start in sorted(self._pending):
                if start > len(self._stream):
                    break
                piece = self._pending.pop(start)
                have = len(self._stream)
                if start + len(piece) > have:
                    self._stream += piece[have - start :]
                progress = True

    def _hello(self) -> QuicInitial | None:
        stream = self._stream
        if len(stream) < 4:
            return None
        if stream[0] != HANDSHAKE_CLIENT_HELLO:
            return self._give_up("quic.not_client_hello", f"handshake type {stream[0]}")
        length = int.from_bytes(stream[1:4], "big")
        if 4 + length > MAX_CRYPTO:
            return self._give_up("quic.crypto_too_large", f"ClientHello of {length} bytes")
        if len(stream) < 4 + length:
            return None
        assert self._version is not None
        self.done = True
        try:
            hello = parse_client_hello(bytes(stream[: 4 + length]))
        except TlsError as exc:
            self.problem = ("quic.bad_client_hello", str(exc))
            return QuicInitial(self._version.name, self._odcid.hex(), None)
        return QuicInitial(self._version.name, self._odcid.hex(), hello)

    def _give_up(self, kind: str, detail: str) -> QuicInitial | None:
        self.done = True
        self.problem = (kind, detail)
        if self.decrypted and self._version is not None:
            return QuicInitial(self._version.name, self._odcid.hex(), None)
        return None


# -- the flow and the registry entry ------------------------------------------------------


class QuicApp(UdpApp):
    """A QUIC flow: followed until the client's Initial gave its ClientHello, then done
    (the flow table drops the encrypted rest cheaply) — unless the run's key log has the
    connection's secrets: then every datagram of both sides is decrypted
    (:class:`phonehome.decrypt.quic.QuicDecryptor`) and the streams go to HTTP/3
    (:class:`phonehome.protocols.http3.Http3Connection`), its messages marked with the
    connection's :class:`Decryption`. The QUIC client is the side whose Initial started
    the flow, which is not always the flow table's client (it orients UDP by ports)."""

    def __init__(self, host: UdpHost) -> None:
        super().__init__(host)
        self._tracker = QuicInitialTracker()
        self._client_side: bool | None = None
        """The flow table's ``from_client`` of the QUIC client's datagrams."""
        self._quic: QuicDecryptor | None = None
        self._h3: Http3Connection | None = None
        self._layer: Decryption | None = None
        self._server_name = ""
        self._counted = False
        ctx = host.ctx
        keylog = ctx.keylog
        if keylog is not None and len(keylog) > 0:
            from phonehome.decrypt.quic import QuicDecryptor

            self._quic = QuicDecryptor(keylog)

    def datagram(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        client_side = self._client_side
        if client_side is None:
            client_side = self._client_side = from_client  # the datagram that started it
        out: list[Parsed] = []
        quic = self._quic
        if quic is not None:
            self._decrypt(quic.datagram(from_client, data, time, frame), out)
        if from_client != client_side:
            return out  # server Initial/Handshake packets: nothing the device sent
        host = self.host
        tracker = self._tracker
        if tracker.done:
            return out
        initial = tracker.feed(data)
        if tracker.problem is not None:
            kind, detail = tracker.problem
            host.ctx.anomalies.add(kind, host.input, frame, detail)
        if initial is not None:
            out.append(Parsed(client_side, time, frame, initial))
            hello = initial.hello
            self._server_name = (hello.sni if hello is not None else None) or (
                host.server if client_side else host.client
            )
            self._after_hello()
            return out
        if tracker.decrypted == 0:
            # It looked like QUIC but nothing opened: keep the bytes as any UDP payload,
            # and once the tracker gives up, treat the flow as ordinary UDP again.
            if tracker.done:
                self.released = True
            out.extend(host.raw(from_client, data, time, frame))
        return out

    def close(self) -> list[Parsed]:
        quic = self._quic
        out: list[Parsed] = []
        if quic is None or self._counted:
            return out
        self._decrypt(quic.close(), out)
        h3 = self._h3
        if h3 is not None:
            self._h3 = None
            self._mark(h3.close(), quic, out)
        if self._tracker.done and self._server_name:
            self._count(_VERDICT.get(quic.status, INCOMPLETE))
        return out

    # -- decryption -------------------------------------------------------------------

    def _after_hello(self) -> None:
        """The hello is read: go on only if the key log has (or may get) the keys."""
        quic = self._quic
        ctx = self.host.ctx
        keylog = ctx.keylog
        if quic is None or keylog is None:
            self._count(KEYS_MISSING)
            self.done = True
            return
        random = quic.client_random
        if random and ctx.keylog_final and keylog.lookup(random) is None:
            self._count(KEYS_MISSING)
            self._quic = None
            self.done = True
        elif quic.done:
            self.done = True

    def _decrypt(self, pieces: list[StreamPiece], out: list[Parsed]) -> None:
        quic = self._quic
        assert quic is not None
        host = self.host
        for kind, frame, detail in quic.take_problems():
            host.ctx.anomalies.add(kind, host.input, frame, detail)
        if pieces and (quic.alpn is None or quic.alpn.startswith("h3")):
            h3 = self._h3
            if h3 is None:
                h3 = self._h3 = Http3Connection(host.ctx, host.input)
            for piece in pieces:
                got = h3.stream_data(
                    piece.from_client, piece.stream_id, piece.data, piece.fin, piece.time,
                    piece.frame, piece.reset,
                )  # fmt: skip
                if got:
                    self._mark(got, quic, out)
        if quic.done and self._tracker.done:
            self.done = True

    def _mark(self, parsed: list[Parsed], quic: QuicDecryptor, out: list[Parsed]) -> None:
        """HTTP/3 messages, turned to the flow table's orientation and marked decrypted."""
        layer = self._layer
        if layer is None:
            layer = self._layer = Decryption(
                "quic", f"QUIC {quic.version}", quic.suite, quic.key_source or "file", quic.alpn
            )
        flipped = quic.flipped
        for p in parsed:
            if flipped:
                p.from_client = not p.from_client
            p.layer = layer
            out.append(p)

    def _count(self, verdict: str) -> None:
        if not self._counted:
            self._counted = True
            self.host.ctx.coverage.add("quic", verdict, self._server_name)


_VERDICT: Final = {
    "decrypted": DECRYPTED,
    "keys_missing": KEYS_MISSING,
    "wrong_key": WRONG_KEY,
    "unsupported": UNSUPPORTED,
}


class QuicProtocol(Protocol):
    """QUIC v1/v2 on UDP: the client Initial's ClientHello (RFC 9001 section 5)."""

    def __init__(self) -> None:
        super().__init__("quic", (QuicInitial,), encrypted=True)

    def udp_start(self, data: bytes, from_client: bool) -> bool:
        # Either side: a flow between two unregistered ports may be oriented the other way
        # round by the flow table; the Initial says who the QUIC client is.
        return looks_like_quic_initial(data)

    def udp_app(self, host: UdpHost) -> UdpApp:
        return QuicApp(host)

    def host(self, content: Content) -> str | None:
        assert isinstance(content, QuicInitial)
        hello = content.hello
        return hello.sni if hello is not None and hello.sni else None

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, QuicInitial)
        h = content.hello
        return {
            "quic_version": content.version,
            "dcid": content.dcid,
            "sni": h.sni if h else None,
            "alpn": list(h.alpn) if h else [],
        }

    def summary(self, content: Content) -> str:
        assert isinstance(content, QuicInitial)
        sni = content.hello.sni if content.hello else None
        return f"Initial {content.version} sni={sni}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, QuicInitial)
        if content.hello is not None and content.hello.sni:
            return labels(budget, "quic.sni", content.hello.sni, "label")
        return iter(())


QUIC: Final = QuicProtocol()
