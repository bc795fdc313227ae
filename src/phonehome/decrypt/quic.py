"""One QUIC connection decrypted from its datagrams and a key log (RFC 9000, 9001, 9369).

Initial packets open with keys anyone can derive (``protocols/quic.py`` holds that
derivation, reused here for both sides); they carry the ClientHello, whose random finds the
connection's secrets in the key log, and the ServerHello, which says the cipher suite.
From those secrets come the Handshake keys (EncryptedExtensions: the ALPN the server chose)
and the 1-RTT keys, with labels ``quic key``/``quic iv``/``quic hp`` (``quicv2 ...`` for
version 2), and the next generation at each key phase change (``quic ku``). 0-RTT packets
open with ``CLIENT_EARLY_TRAFFIC_SECRET``. Header protection is AES-ECB or ChaCha20 over a
sample of the ciphertext, as the suite says.

Short headers do not say how long their destination connection id is: it is one of the
ids the receiving side issued, learnt from its long headers' source ids and its
NEW_CONNECTION_ID frames. STREAM data is put back in offset order per stream and
direction (retransmissions dropped, early pieces held, bounded) and handed out as
:class:`StreamPiece` s, each with the time and frame of the packet that carried it.

Nothing raises on bad data: problems are (kind, frame, detail) for the caller to count.
"""

from __future__ import annotations

import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from phonehome.decrypt import hello as hs
from phonehome.decrypt.ciphers import (
    CHACHA20,
    SUITES,
    Suite,
    aead_for,
    suite_name,
    tag_len,
)
from phonehome.decrypt.keylog import (
    CLIENT_EARLY_TRAFFIC_SECRET,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_TRAFFIC_SECRET_0,
    ClientSecrets,
    KeyLog,
    Secret,
)
from phonehome.decrypt.quic_frames import (
    CRYPTO,
    NEW_CID,
    RESET,
    STREAM,
    Reassembly,
    varint,
    walk_frames,
)
from phonehome.decrypt.schedule import HASH_LEN, hkdf_expand_label, next_traffic_secret
from phonehome.decrypt.wire import (
    HANDSHAKE,
    INITIAL,
    MAX_CID,
    RETRY,
    VERSIONS,
    ZERO_RTT,
    QuicVersion,
    TlsError,
    hkdf_extract,
)

SAMPLE_LEN: Final = 16
HOLD_LIMIT: Final = 64 << 10
"""Packet bytes held per direction until the ServerHello says the cipher suite."""
MAX_STREAMS: Final = 1024
"""Streams reassembled at once per connection; more are counted and skipped."""
MAX_FINISHED: Final = 4096
"""Ended stream ids remembered, so their late retransmissions do not open them again."""
MAX_CRYPTO: Final = 128 << 10
"""CRYPTO bytes read per level (Initial, Handshake): the hellos and EncryptedExtensions
are at the start; certificates after them are not needed."""
WRONG_AFTER: Final = 8
"""Packets of a level that no key opens, before any did, for the key to be called wrong
(a few can be other traffic on the same addresses, or stateless resets)."""
MAX_PROBLEMS: Final = 64

# Levels (packet number spaces): 0-RTT and 1-RTT share the application space.
_INITIAL: Final = 0
_HANDSHAKE: Final = 1
_APP: Final = 2

# Connection status (as for TLS)
PENDING: Final = "pending"
DECRYPTED: Final = "decrypted"
KEYS_MISSING: Final = "keys_missing"
WRONG_KEY: Final = "wrong_key"
UNSUPPORTED: Final = "unsupported"
INCOMPLETE: Final = "incomplete"


class StreamPiece:
    """Bytes of one stream in offset order, from one packet. ``fin``: the stream ended
    here; ``reset``: the sender abandoned it (RESET_STREAM), nothing more will come."""

    __slots__ = ("data", "fin", "frame", "from_client", "offset", "reset", "stream_id", "time")

    def __init__(
        self, from_client: bool, stream_id: int, offset: int, data: bytes, fin: bool,
        time: float, frame: int, reset: bool = False,
    ) -> None:  # fmt: skip
        self.from_client = from_client
        self.stream_id = stream_id
        self.offset = offset
        self.data = data
        self.fin = fin
        self.time = time
        self.frame = frame
        self.reset = reset

    def __repr__(self) -> str:
        side = "client" if self.from_client else "server"
        flags = " fin" if self.fin else ""
        return (
            f"StreamPiece({side}, stream {self.stream_id}@{self.offset}, {len(self.data)}{flags})"
        )


class HeaderProtection:
    """RFC 9001 5.4: AES-ECB (5.4.3) or ChaCha20 (5.4.4) over the 16-byte sample."""

    __slots__ = ("_ecb", "_key")

    def __init__(self, cipher: str, key: bytes) -> None:
        self._key = key
        self._ecb: CipherContext | None = None
        if cipher != CHACHA20:
            self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def mask(self, sample: bytes) -> bytes:
        if self._ecb is not None:
            return self._ecb.update(sample)[:5]
        # The sample's first 4 bytes are the block counter, the other 12 the nonce: in that
        # order they are cryptography's 16-byte ChaCha20 "nonce".
        encryptor = Cipher(algorithms.ChaCha20(self._key, sample), mode=None).encryptor()
        return encryptor.update(b"\x00" * 5)


class PacketKeys:
    """Packet protection of one direction at one level and key phase."""

    __slots__ = ("_aead", "_iv", "hp", "secret", "tag")

    def __init__(self, suite: Suite, key: bytes, iv: bytes, hp: HeaderProtection,
                 secret: Secret | None) -> None:  # fmt: skip
        self._aead = aead_for(suite.cipher, key)
        self._iv = int.from_bytes(iv, "big")
        self.hp = hp
        self.secret = secret
        self.tag = tag_len(suite.cipher)

    def open(self, packet_number: int, payload: bytes | memoryview, aad: bytes) -> bytes | None:
        nonce = (self._iv ^ packet_number).to_bytes(12, "big")
        try:
            return self._aead.decrypt(nonce, payload, aad)
        except InvalidTag:
            return None


def _prefix(version: QuicVersion) -> bytes:
    return b"quicv2 " if version.name == "v2" else b"quic "


def packet_keys(
    suite: Suite, secret: bytes, version: QuicVersion, hp: HeaderProtection | None = None,
    source: Secret | None = None,
) -> PacketKeys:  # fmt: skip
    """Keys from a traffic secret (RFC 9001 5.1; RFC 9369 3.3.2 for v2's labels). A key
    update keeps the header protection key (RFC 9001 6), hence ``hp``."""
    prefix = _prefix(version)
    key = hkdf_expand_label(secret, prefix + b"key", suite.key_len, suite.hash)
    iv = hkdf_expand_label(secret, prefix + b"iv", 12, suite.hash)
    if hp is None:
        hp_key = hkdf_expand_label(secret, prefix + b"hp", suite.key_len, suite.hash)
        hp = HeaderProtection(suite.cipher, hp_key)
    return PacketKeys(suite, key, iv, hp, source)


def initial_keys(dcid: bytes, version: QuicVersion, server: bool) -> PacketKeys:
    """Initial packet protection (RFC 9001 5.2), either side."""
    initial = hkdf_extract(version.salt, dcid)
    label = b"server in" if server else b"client in"
    secret = hkdf_expand_label(initial, label, 32, "sha256")
    return packet_keys(SUITES[0x1301], secret, version)


def decode_packet_number(truncated: int, pn_len: int, largest: int) -> int:
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


class _AppKeys:
    """1-RTT keys of one direction across key phases (RFC 9001 6)."""

    __slots__ = ("cur", "first_pn", "phase", "prev", "secret", "suite", "version")

    def __init__(self, keys: PacketKeys, secret: bytes, suite: Suite, version: QuicVersion) -> None:
        self.cur = keys
        self.secret = secret
        self.phase = 0
        self.first_pn = 0
        self.prev: PacketKeys | None = None
        self.suite = suite
        self.version = version

    def next_keys(self) -> tuple[PacketKeys, bytes]:
        label = b"quicv2 ku" if self.version.name == "v2" else b"quic ku"
        secret = next_traffic_secret(self.secret, self.suite.hash, label)
        return packet_keys(self.suite, secret, self.version, self.cur.hp, self.cur.secret), secret


class _Side:
    """What one direction sent."""

    __slots__ = (
        "app",
        "app_candidates",
        "cids",
        "crypto",
        "early",
        "failures",
        "from_client",
        "handshake",
        "handshake_keys",
        "held",
        "held_size",
        "largest",
        "opened",
        "readers",
        "stopped",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.largest = [-1, -1, -1]
        self.handshake_keys: list[PacketKeys] = []
        """Candidates until one opens a packet, then that one alone."""
        self.handshake = False  # handshake keys confirmed
        self.app: _AppKeys | None = None
        self.app_candidates: list[PacketKeys] = []
        self.early: list[PacketKeys] = []
        self.crypto = [Reassembly(), Reassembly()]
        self.readers = [hs.HandshakeReader(), hs.HandshakeReader()]
        self.cids: dict[bytes, None] = {}
        """Connection ids this side issued (its long headers' source ids, its
        NEW_CONNECTION_ID frames): the other side's short headers carry one of them."""
        self.held: list[tuple[bytes, int, float, int]] = []
        self.held_size = 0
        self.failures = [0, 0, 0]
        self.opened = 0
        self.stopped = False


class QuicDecryptor:
    """Decrypts one QUIC connection; fed each datagram of the UDP flow in capture order."""

    __slots__ = (
        "_client",
        "_entry",
        "_finished",
        "_flipped",
        "_initial_dcid",
        "_initial_keys",
        "_keylog",
        "_out",
        "_problems",
        "_server",
        "_streams",
        "_suite",
        "_verdict",
        "_version",
        "alpn",
        "client_random",
        "key_source",
        "key_updates",
        "offered_alpn",
        "streams_dropped",
        "suite",
        "version",
    )

    def __init__(self, keylog: KeyLog) -> None:
        self._keylog = keylog
        self._client = _Side(True)
        self._server = _Side(False)
        self._entry: ClientSecrets | None = None
        self._initial_dcid: bytes | None = None
        self._flipped = False
        self._initial_keys: dict[tuple[int, bool], PacketKeys] = {}
        self._version: QuicVersion | None = None
        self._suite: Suite | None = None
        self._streams: dict[tuple[bool, int], Reassembly] = {}
        self._finished: dict[tuple[bool, int], None] = {}
        self._out: list[StreamPiece] = []
        self._problems: list[tuple[str, int | None, str]] = []
        self._verdict = PENDING
        self.version = ""
        """``v1`` or ``v2``: the version of the server's packets (after any compatible
        version negotiation), else the client's."""
        self.suite = ""
        self.alpn: str | None = None
        self.offered_alpn: tuple[str, ...] = ()
        self.client_random = b""
        self.key_source: str | None = None
        self.key_updates = 0
        """Key phase changes followed (RFC 9001 6), both directions."""
        self.streams_dropped = 0

    # -- public ------------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self._client.opened or self._server.opened:
            return DECRYPTED
        return self._verdict

    @property
    def done(self) -> bool:
        return self._client.stopped and self._server.stopped

    @property
    def packets(self) -> int:
        """Handshake, 0-RTT and 1-RTT packets opened (Initial ones are not counted: anyone
        can open them)."""
        return self._client.opened + self._server.opened

    def take_problems(self) -> list[tuple[str, int | None, str]]:
        out = self._problems
        self._problems = []
        return out

    @property
    def flipped(self) -> bool:
        """The side the caller calls the server sent the first Initial: it is the QUIC
        client (a UDP flow's orientation comes from ports, not from who spoke first)."""
        return self._flipped

    def datagram(
        self, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[StreamPiece]:
        """One datagram; ``from_client`` in the caller's orientation. The pieces returned
        say ``from_client`` in QUIC's: True for what the QUIC client sent (see
        :attr:`flipped`)."""
        if (
            self._initial_dcid is None
            and not self._flipped
            and not from_client
            and data
            and data[0] & 0x80
            and _is_initial(data)
        ):
            self._flipped = True
        side = self._server if from_client == self._flipped else self._client
        if not side.stopped:
            self._datagram(side, data, time, frame)
        out = self._out
        self._out = []
        return out

    def close(self) -> list[StreamPiece]:
        """End of the flow: held packets the ServerHello never came for are tried with every
        suite their secret's length allows; the rest is reported."""
        if self._suite is None and (self._client.held or self._server.held):
            self._guess_suite()
        for side in (self._client, self._server):
            if side.held:
                self._problem("quic.keys_missing", side.held[0][3], f"{len(side.held)} "
                              "packets never opened (no ServerHello, or no key)")  # fmt: skip
                if self._verdict == PENDING:
                    self._verdict = INCOMPLETE if self._suite is None else KEYS_MISSING
                side.held = []
            for level in (_HANDSHAKE, _APP):
                if side.failures[level] and not side.opened and not side.stopped:
                    self._wrong_key(side, level, None)
            side.stopped = True
        for (from_client, stream_id), stream in self._streams.items():
            if stream.pending:
                self._problem("quic.stream_gap", None, f"stream {stream_id} of the "
                              f"{_who(from_client)}: data after a hole never filled")  # fmt: skip
        self._streams.clear()
        out = self._out
        self._out = []
        return out

    # -- datagrams and packets -----------------------------------------------------------

    def _datagram(self, side: _Side, data: bytes, time: float, frame: int) -> None:
        pos = 0
        n = len(data)
        while pos < n and not side.stopped:
            first = data[pos]
            if not first & 0x80:
                # A short header takes the rest of the datagram. Without the fixed bit
                # (RFC 9000 17.3.1) it is padding after coalesced packets, not a packet.
                if first & 0x40:
                    self._short(side, data, pos, time, frame)
                return
            if pos + 7 > n:
                return
            (number,) = struct.unpack_from("!I", data, pos + 1)
            version = VERSIONS.get(number)
            if version is None:
                return  # version negotiation, an unknown version, or junk after the packets
            p = pos + 6
            dcil = data[pos + 5]
            if dcil > MAX_CID or p + dcil >= n:
                return
            dcid = data[p : p + dcil]
            p += dcil
            scil = data[p]
            scid = data[p + 1 : p + 1 + scil]
            p += 1 + scil
            if scil > MAX_CID or p > n:
                return
            ptype = version.packet_type(first)
            if ptype == RETRY:
                if not side.from_client:
                    # The client's next Initials go to (and derive their keys from) this id.
                    self._initial_dcid = bytes(scid)
                    self._initial_keys.clear()
                return
            try:
                if ptype == INITIAL:
                    token_len, p = varint(data, p)
                    p += token_len
                length, p = varint(data, p)
            except ValueError:
                return
            end = p + length
            if end > n or length < 1:
                self._problem("quic.bad_packet", frame, "long header packet longer than its "
                              "datagram")  # fmt: skip
                return
            if scid and len(side.cids) < 64:
                side.cids[bytes(scid)] = None
            if ptype == HANDSHAKE and dcid:
                # Handshake packets go to an id the receiver issued (its Initial's source
                # id), which its peer's short headers then carry.
                receiver = self._server if side.from_client else self._client
                if len(receiver.cids) < 64:
                    receiver.cids[bytes(dcid)] = None
            if not side.from_client or self._version is None:
                self._version = version
                self.version = version.name
            if ptype == INITIAL:
                if side.from_client and self._initial_dcid is None:
                    self._initial_dcid = bytes(dcid)
                self._initial(side, data, pos, p, end, version, time, frame)
            elif ptype == HANDSHAKE:
                self._handshake(side, data, pos, p, end, time, frame)
            elif ptype == ZERO_RTT and side.from_client:
                self._zero_rtt(side, data[pos:end], p - pos, time, frame)
            pos = end

    def _unmask(
        self, data: bytes, start: int, pn_offset: int, end: int, hp: HeaderProtection,
        short: bool,
    ) -> tuple[int, int, bytes] | None:  # fmt: skip
        """(first byte, packet number length, packet number bytes) once header protection
        is removed; None when the packet is too short for a sample."""
        sample_at = pn_offset + 4
        if sample_at + SAMPLE_LEN > end:
            return None
        mask = hp.mask(data[sample_at : sample_at + SAMPLE_LEN])
        first = data[start] ^ (mask[0] & (0x1F if short else 0x0F))
        pn_len = (first & 0x03) + 1
        pn_end = pn_offset + pn_len
        value = int.from_bytes(data[pn_offset:pn_end], "big") ^ int.from_bytes(
            mask[1 : 1 + pn_len], "big"
        )
        return first, pn_len, value.to_bytes(pn_len, "big")

    def _open(
        self, side: _Side, level: int, data: bytes, start: int, pn_offset: int, end: int,
        keys: PacketKeys, unmasked: tuple[int, int, bytes],
    ) -> tuple[int, bytes] | None:  # fmt: skip
        first, pn_len, pn_bytes = unmasked
        if end - pn_offset - pn_len < keys.tag:
            return None
        number = decode_packet_number(int.from_bytes(pn_bytes, "big"), pn_len, side.largest[level])
        aad = bytes((first,)) + data[start + 1 : pn_offset] + pn_bytes
        payload = keys.open(number, memoryview(data)[pn_offset + pn_len : end], aad)
        if payload is None:
            return None
        if number > side.largest[level]:
            side.largest[level] = number
        return number, payload

    def _initial(
        self, side: _Side, data: bytes, start: int, pn_offset: int, end: int,
        version: QuicVersion, time: float, frame: int,
    ) -> None:  # fmt: skip
        dcid = self._initial_dcid
        if dcid is None:
            return  # a server Initial before any client one: its keys cannot be known
        keys = self._initial_keys.get((version.number, side.from_client))
        if keys is None:
            keys = initial_keys(dcid, version, not side.from_client)
            self._initial_keys[(version.number, side.from_client)] = keys
        unmasked = self._unmask(data, start, pn_offset, end, keys.hp, False)
        opened = None if unmasked is None else self._open(
            side, _INITIAL, data, start, pn_offset, end, keys, unmasked
        )  # fmt: skip
        if opened is None:
            return  # Initial packets are not what this module is for: protocols/quic counts
        self._payload(side, _INITIAL, opened[1], time, frame)

    def _handshake(
        self, side: _Side, data: bytes, start: int, pn_offset: int, end: int, time: float,
        frame: int,
    ) -> None:  # fmt: skip
        if not side.handshake_keys:
            return  # no suite yet or no handshake secret: only the ALPN is lost
        for keys in list(side.handshake_keys):
            unmasked = self._unmask(data, start, pn_offset, end, keys.hp, False)
            if unmasked is None:
                return
            opened = self._open(side, _HANDSHAKE, data, start, pn_offset, end, keys, unmasked)
            if opened is not None:
                side.handshake_keys = [keys]
                side.handshake = True
                self._opened(side, keys)
                self._payload(side, _HANDSHAKE, opened[1], time, frame)
                return
        self._failed(side, _HANDSHAKE, frame)

    def _zero_rtt(
        self, side: _Side, packet: bytes, pn_offset: int, time: float, frame: int
    ) -> None:
        if self._suite is None:
            self._hold(side, packet, -pn_offset, time, frame)
            return
        for keys in side.early:
            unmasked = self._unmask(packet, 0, pn_offset, len(packet), keys.hp, False)
            if unmasked is None:
                return
            opened = self._open(side, _APP, packet, 0, pn_offset, len(packet), keys, unmasked)
            if opened is not None:
                side.early = [keys]
                self._opened(side, keys)
                self._payload(side, _APP, opened[1], time, frame)
                return
        if side.early:
            self._problem("quic.decrypt_failed", frame, "0-RTT packet does not open with "
                          "CLIENT_EARLY_TRAFFIC_SECRET")  # fmt: skip
        elif self._entry is not None or self._secrets(CLIENT_TRAFFIC_SECRET_0):
            self._problem("quic.keys_missing", frame, "0-RTT packet without "
                          "CLIENT_EARLY_TRAFFIC_SECRET in the key log")  # fmt: skip

    def _short(self, side: _Side, data: bytes, pos: int, time: float, frame: int) -> None:
        packet = bytes(data[pos:]) if pos else data
        if side.app is None and not side.app_candidates:
            if self._suite is None:
                self._hold(side, packet, 0, time, frame)
            elif not side.stopped:
                label = CLIENT_TRAFFIC_SECRET_0 if side.from_client else SERVER_TRAFFIC_SECRET_0
                self._problem("quic.keys_missing", frame, f"no {label} in the key log")
                side.stopped = True
            return
        receiver = self._server if side.from_client else self._client
        lengths = _dcid_lengths(packet, receiver.cids)
        if side.app is None:
            # Until a packet opens, the receiver's ids may all have been missed (lost
            # long headers): any length is possible.
            lengths += [n for n in _LIKELY_CID_LENGTHS if n not in lengths]
        for dcil in lengths:
            if self._short_with(side, packet, 1 + dcil, time, frame):
                if len(receiver.cids) < 64:
                    receiver.cids[bytes(packet[1 : 1 + dcil])] = None
                return
        self._failed(side, _APP, frame)

    def _short_with(self, side: _Side, packet: bytes, pn_offset: int, time: float,
                    frame: int) -> bool:  # fmt: skip
        end = len(packet)
        app = side.app
        if app is None:
            for keys in side.app_candidates:
                unmasked = self._unmask(packet, 0, pn_offset, end, keys.hp, True)
                if unmasked is None:
                    return False
                if unmasked[0] & 0x04:
                    continue  # the first generation is key phase 0
                opened = self._open(side, _APP, packet, 0, pn_offset, end, keys, unmasked)
                if opened is not None:
                    assert self._suite is not None and self._version is not None
                    secret = keys.secret.value if keys.secret is not None else b""
                    side.app = _AppKeys(keys, secret, self._suite, self._version)
                    side.app_candidates = []
                    self._opened(side, keys)
                    self._payload(side, _APP, opened[1], time, frame)
                    return True
            return False
        unmasked = self._unmask(packet, 0, pn_offset, end, app.cur.hp, True)
        if unmasked is None:
            return False
        phase = (unmasked[0] >> 2) & 1
        if phase == app.phase:
            opened = self._open(side, _APP, packet, 0, pn_offset, end, app.cur, unmasked)
        else:
            number = decode_packet_number(int.from_bytes(unmasked[2], "big"), unmasked[1],
                                          side.largest[_APP])  # fmt: skip
            if app.prev is not None and number < app.first_pn:
                opened = self._open(side, _APP, packet, 0, pn_offset, end, app.prev, unmasked)
            else:
                keys, secret = app.next_keys()
                opened = self._open(side, _APP, packet, 0, pn_offset, end, keys, unmasked)
                if opened is not None:
                    app.prev, app.cur, app.secret = app.cur, keys, secret
                    app.phase = phase
                    app.first_pn = opened[0]
                    self.key_updates += 1
        if opened is None:
            return False
        side.opened += 1
        self._payload(side, _APP, opened[1], time, frame)
        return True

    # -- payloads ----------------------------------------------------------------------

    def _payload(self, side: _Side, level: int, payload: bytes, time: float, frame: int) -> None:
        events, problem = walk_frames(payload)
        if problem is not None:
            self._problem("quic.bad_frame", frame, problem)
        for ev in events:
            kind = ev.kind
            if kind == STREAM:
                if level == _APP:
                    self._stream(side, ev.stream_id, ev.offset, ev.data, ev.fin, time, frame)
            elif kind == CRYPTO:
                if level < _APP:
                    self._crypto(side, level, ev.offset, ev.data, time, frame)
            elif kind == RESET:
                key = (side.from_client, ev.stream_id)
                if self._streams.pop(key, None) is not None:
                    self._end_stream(key)
                    self._out.append(StreamPiece(side.from_client, ev.stream_id, ev.offset, b"",
                                                 True, time, frame, True))  # fmt: skip
            elif kind == NEW_CID and len(side.cids) < 64:
                side.cids[ev.data] = None

    def _stream(self, side: _Side, stream_id: int, offset: int, data: bytes, fin: bool,
                time: float, frame: int) -> None:  # fmt: skip
        key = (side.from_client, stream_id)
        stream = self._streams.get(key)
        if stream is None:
            if key in self._finished:
                return  # a retransmission of a stream that ended
            if len(self._streams) >= MAX_STREAMS:
                self.streams_dropped += 1
                self._problem("quic.too_many_streams", frame, f"stream {stream_id} skipped")
                return
            stream = self._streams[key] = Reassembly()
        had_overflow = stream.overflow
        for piece in stream.add(offset, data, fin, time, frame):
            self._out.append(StreamPiece(side.from_client, stream_id, piece.offset, piece.data,
                                         piece.fin, piece.time, piece.frame))  # fmt: skip
        if stream.overflow and not had_overflow:
            self._problem("quic.reassembly_limit", frame, f"stream {stream_id}: out-of-order "
                          "data over the limit dropped")  # fmt: skip
        if stream.finished:
            del self._streams[key]
            self._end_stream(key)

    def _end_stream(self, key: tuple[bool, int]) -> None:
        self._finished[key] = None
        if len(self._finished) > MAX_FINISHED:
            del self._finished[next(iter(self._finished))]

    def _crypto(self, side: _Side, level: int, offset: int, data: bytes, time: float,
                frame: int) -> None:  # fmt: skip
        if offset + len(data) > MAX_CRYPTO:
            return
        for piece in side.crypto[level].add(offset, data, False, time, frame):
            try:
                messages = side.readers[level].feed(piece.data)
            except TlsError as e:
                self._problem("quic.bad_handshake", frame, str(e))
                continue
            for msg_type, body in messages:
                try:
                    self._message(side, msg_type, body, frame)
                except TlsError as e:
                    self._problem("quic.bad_handshake", frame, str(e))

    def _message(self, side: _Side, msg_type: int, body: bytes, frame: int) -> None:
        if msg_type == hs.CLIENT_HELLO and side.from_client:
            ch = hs.parse_client_hello(body)
            self.client_random = ch.random
            self.offered_alpn = ch.alpn
            self._entry = None
        elif msg_type == hs.SERVER_HELLO and not side.from_client:
            sh = hs.parse_server_hello(body)
            if not sh.retry:
                self._server_hello(sh, frame)
        elif msg_type == hs.ENCRYPTED_EXTENSIONS and not side.from_client:
            self.alpn = hs.parse_encrypted_extensions(body)[0]

    def _server_hello(self, sh: hs.ServerHelloKeys, frame: int) -> None:
        self.suite = suite_name(sh.suite)
        suite = SUITES.get(sh.suite)
        if suite is None or not suite.tls13:
            self._problem("quic.unsupported", frame, f"cipher suite {self.suite}")
            self._verdict = UNSUPPORTED
            self._client.stopped = self._server.stopped = True
            return
        if not self.client_random:
            self._problem("quic.keys_missing", frame, "ServerHello without a ClientHello")
            self._verdict = INCOMPLETE
            return
        self._suite = suite
        self._install(suite)

    def _install(self, suite: Suite) -> None:
        """Keys for every level from the key log, once the suite is known."""
        version = self._version
        assert version is not None
        size = HASH_LEN[suite.hash]

        def keys(label: str) -> list[PacketKeys]:
            return [
                packet_keys(suite, s.value, version, source=s)
                for s in self._secrets(label)
                if len(s.value) == size
            ]

        client, server = self._client, self._server
        client.handshake_keys = keys(CLIENT_HANDSHAKE_TRAFFIC_SECRET)
        server.handshake_keys = keys(SERVER_HANDSHAKE_TRAFFIC_SECRET)
        client.app_candidates = keys(CLIENT_TRAFFIC_SECRET_0)
        server.app_candidates = keys(SERVER_TRAFFIC_SECRET_0)
        client.early = keys(CLIENT_EARLY_TRAFFIC_SECRET)
        if not (client.app_candidates or server.app_candidates or client.handshake_keys
                or server.handshake_keys):  # fmt: skip
            self._problem("quic.keys_missing", None, "no traffic secrets for client random "
                          f"{self.client_random[:4].hex()}... in the key log")  # fmt: skip
            if self._verdict == PENDING:
                self._verdict = KEYS_MISSING
            client.stopped = server.stopped = True
            return
        for side in (client, server):
            held, side.held, side.held_size = side.held, [], 0
            for packet, pn_offset, time, frame in held:
                if pn_offset < 0:
                    self._zero_rtt(side, packet, -pn_offset, time, frame)
                else:
                    self._short(side, packet, 0, time, frame)

    def _guess_suite(self) -> None:
        """No ServerHello was captured: try each suite the secrets' length allows on the
        held packets; a suite that opens nothing leaves no trace."""
        if self._version is None or not self.client_random:
            return
        sides = (self._client, self._server)
        held = [list(side.held) for side in sides]
        verdict, problems = self._verdict, len(self._problems)
        for number in (0x1301, 0x1303, 0x1302):
            suite = SUITES[number]
            self._suite = suite
            for side, packets in zip(sides, held, strict=True):
                side.held, side.stopped, side.failures = list(packets), False, [0, 0, 0]
            self._install(suite)
            if self._client.opened or self._server.opened:
                self.suite = suite.name
                return
            self._verdict = verdict
            del self._problems[problems:]
        self._suite = None
        for side, packets in zip(sides, held, strict=True):
            side.held, side.stopped = packets, False

    def _hold(self, side: _Side, packet: bytes, pn_offset: int, time: float, frame: int) -> None:
        if side.held_size + len(packet) > HOLD_LIMIT:
            return
        side.held.append((packet, pn_offset, time, frame))
        side.held_size += len(packet)

    # -- keys and verdicts ---------------------------------------------------------------

    def _secrets(self, label: str) -> tuple[Secret, ...]:
        if not self.client_random:
            return ()
        entry = self._entry
        if entry is None:
            entry = self._entry = self._keylog.lookup(self.client_random)
        return () if entry is None else entry.get(label)

    def _opened(self, side: _Side, keys: PacketKeys) -> None:
        side.opened += 1
        side.failures = [0, 0, 0]
        if self.key_source is None and keys.secret is not None:
            self.key_source = keys.secret.source

    def _failed(self, side: _Side, level: int, frame: int) -> None:
        side.failures[level] += 1
        confirmed = side.handshake if level == _HANDSHAKE else side.app is not None
        if confirmed:
            self._problem("quic.decrypt_failed", frame, f"{_LEVELS[level]} packet of the "
                          f"{_who(side.from_client)} does not authenticate")  # fmt: skip
        elif side.failures[level] >= WRONG_AFTER:
            self._wrong_key(side, level, frame)

    def _wrong_key(self, side: _Side, level: int, frame: int | None) -> None:
        label = _LABELS[(level, side.from_client)]
        self._problem("quic.decrypt_failed", frame, f"the key log's {label} does not open the "
                      f"{_who(side.from_client)}'s {_LEVELS[level]} packets (wrong or stale "
                      "key?)")  # fmt: skip
        if not side.opened and self._verdict == PENDING:
            self._verdict = WRONG_KEY
        side.stopped = True
        side.held = []

    def _problem(self, kind: str, frame: int | None, detail: str) -> None:
        if len(self._problems) < MAX_PROBLEMS:
            self._problems.append((kind, frame, detail))


_LIKELY_CID_LENGTHS: Final = (8, 0, 16, 20, 4, 5, 12, 18, *range(1, 21))
"""Connection id lengths to try when none is known, common ones first (8: aioquic,
Chrome, quic-go; 0: some clients; 16, 20: some servers)."""
_LEVELS: Final = {_INITIAL: "Initial", _HANDSHAKE: "Handshake", _APP: "1-RTT"}
_LABELS: Final = {
    (_HANDSHAKE, True): CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    (_HANDSHAKE, False): SERVER_HANDSHAKE_TRAFFIC_SECRET,
    (_APP, True): CLIENT_TRAFFIC_SECRET_0,
    (_APP, False): SERVER_TRAFFIC_SECRET_0,
}


def _is_initial(data: bytes) -> bool:
    if len(data) < 7:
        return False
    version = VERSIONS.get(int.from_bytes(data[1:5], "big"))
    return version is not None and version.packet_type(data[0]) == INITIAL


def _who(from_client: bool) -> str:
    return "client" if from_client else "server"


def _dcid_lengths(packet: bytes, cids: dict[bytes, None]) -> list[int]:
    """Destination connection id lengths to try on a short header: the length of a known id
    the packet starts with first, then the other known lengths (zero when none is known)."""
    lengths: list[int] = []
    for cid in cids:
        if packet[1 : 1 + len(cid)] == cid and len(cid) not in lengths:
            lengths.insert(0, len(cid))
    for cid in cids:
        if len(cid) not in lengths:
            lengths.append(len(cid))
    if not lengths:
        lengths.append(0)
    return lengths
