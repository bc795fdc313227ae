"""One TLS 1.2/1.3 connection decrypted from its two TCP byte streams and a key log.

The flow table hands each direction's bytes in order (its reassembly policy decides about
retransmissions and overlaps); :class:`TlsDecryptor` cuts them into records, reads the
handshake while it is in the clear, and once the key log gives the connection's secrets it
opens every record and hands back the application data with the time and frame where its
record started. A record that does not authenticate is counted (``tls.decrypt_failed``)
and the connection goes on; the first record under a new key decides which of the key
log's candidates is right, and when none is, the direction stops with one problem instead
of one per record.

TLS 1.2 (RFC 5246): the key block comes from the logged master secret (``CLIENT_RANDOM``)
and both randoms, so RSA and (EC)DHE exchanges, full and resumed handshakes (session ID or
ticket) are all alike; ChangeCipherSpec turns each direction's protection on, and a
renegotiation's new randoms give the keys of its ChangeCipherSpec.

TLS 1.3 (RFC 8446): the server's records after ServerHello and the client's after its
hello are protected with the handshake traffic secrets, then after each side's Finished
with the application traffic secrets, renewed at each KeyUpdate. 0-RTT data is read with
``CLIENT_EARLY_TRAFFIC_SECRET``; early data the server rejected, and handshake records when
a key log holds only the application secrets, are skipped until a record opens.

Memory per connection: one partial record per direction (at most 5 + 2^14 + 2048 bytes),
the handshake messages still needed, and client records that came before the ServerHello
(bounded by :data:`HOLD_LIMIT`).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from phonehome.decrypt import hello as hs
from phonehome.decrypt.ciphers import (
    SUITES,
    RecordCipher,
    Suite,
    suite_name,
    tls12_ciphers,
    tls13_cipher,
)
from phonehome.decrypt.keylog import (
    CLIENT_EARLY_TRAFFIC_SECRET,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_RANDOM,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_TRAFFIC_SECRET_0,
    ClientSecrets,
    KeyLog,
    Secret,
)
from phonehome.decrypt.schedule import HASH_LEN, key_block12, next_traffic_secret, traffic_keys
from phonehome.decrypt.wire import TlsError, version_name

CT_CHANGE_CIPHER_SPEC: Final = 20
CT_ALERT: Final = 21
CT_HANDSHAKE: Final = 22
CT_APPLICATION_DATA: Final = 23
CT_HEARTBEAT: Final = 24

TLS12: Final = 0x0303
TLS13: Final = 0x0304

MAX_RECORD: Final = (1 << 14) + 2048
"""Largest TLSCiphertext fragment (RFC 5246 6.2.3); a bigger length means the stream is
not (or no longer) TLS."""
HOLD_LIMIT: Final = 64 << 10
"""Client record bytes held until the ServerHello says how to open them (TLS 1.3 early
data sent with the ClientHello)."""
MAX_SKIPPED: Final = 32
"""Records of a direction skipped without a key that opens them (rejected early data,
handshake records without handshake secrets) before the key is called wrong."""
MAX_PROBLEMS: Final = 64
"""Problems held between two :meth:`TlsDecryptor.take_problems` calls."""

# Status of a connection, from the best its directions reached.
PENDING: Final = "pending"
"""No verdict yet (handshake not seen to the point where keys are needed)."""
DECRYPTED: Final = "decrypted"
"""At least one record was opened."""
KEYS_MISSING: Final = "keys_missing"
WRONG_KEY: Final = "wrong_key"
UNSUPPORTED: Final = "unsupported"
NOT_TLS: Final = "not_tls"
INCOMPLETE: Final = "incomplete"
"""Bytes were lost (capture gap) before any record could be opened."""

# TLS 1.3 key stages of a direction
_CLEAR: Final = 0
_EARLY: Final = 1
_HANDSHAKE: Final = 2
_APPLICATION: Final = 3

Problem = tuple[str, int | None, str]
"""(anomaly kind, frame or None, detail): what the caller counts in ``ctx.anomalies``."""


class Piece:
    """Application data of one record (or of several, when joined), where it started."""

    __slots__ = ("data", "frame", "from_client", "time")

    def __init__(self, from_client: bool, data: bytes, time: float, frame: int) -> None:
        self.from_client = from_client
        self.data = data
        self.time = time
        self.frame = frame

    def __repr__(self) -> str:
        side = "client" if self.from_client else "server"
        return f"Piece({side}, {len(self.data)} bytes, frame {self.frame})"


class _Direction:
    """The record layer of one direction."""

    __slots__ = (
        "base",
        "buf",
        "candidates",
        "cipher",
        "confirmed",
        "from_client",
        "handshake",
        "held",
        "held_size",
        "marks",
        "need",
        "opened",
        "secret",
        "seq",
        "skipped",
        "skipped_frame",
        "stage",
        "stopped",
    )

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.buf = bytearray()
        """The unfinished record at the end of what was fed."""
        self.need = 0
        """Bytes ``buf`` must reach before another record can be complete."""
        self.base = 0
        self.marks: list[tuple[int, float, int]] = []
        self.cipher: RecordCipher | None = None
        self.candidates: list[tuple[RecordCipher, Secret]] = []
        """Keys to try on the first record under a new key, until one opens it."""
        self.confirmed = False
        self.seq = 0
        self.stage = _CLEAR
        self.secret: Secret | None = None
        self.handshake = hs.HandshakeReader()
        self.held: list[tuple[bytes, bytes, float, int]] = []
        self.held_size = 0
        self.skipped = 0
        self.skipped_frame: int | None = None
        self.opened = 0
        self.stopped = False


class TlsDecryptor:
    """Decrypts one TLS connection; fed like a :class:`~phonehome.protocols.base.Session`.

    After each call, :meth:`take_problems` gives what to count as anomalies. ``done``
    becomes True when nothing more can come out (no keys, wrong key, not TLS), so the
    caller can stop delivering bytes. ``version``, ``suite``, ``alpn`` and ``key_source``
    are filled in as the handshake goes.
    """

    __slots__ = (
        "_client",
        "_ems",
        "_entry",
        "_etm",
        "_key_blocks",
        "_keylog",
        "_problems",
        "_server",
        "_suite",
        "_verdict",
        "alpn",
        "client_random",
        "early_accepted",
        "early_offered",
        "key_source",
        "key_updates",
        "offered_alpn",
        "resumed",
        "server_random",
        "session_id",
        "suite",
        "version",
    )

    def __init__(self, keylog: KeyLog) -> None:
        self._keylog = keylog
        self._client = _Direction(True)
        self._server = _Direction(False)
        self._problems: list[Problem] = []
        self._entry: ClientSecrets | None = None
        self._suite: Suite | None = None
        self._etm = False
        self._ems = False
        self._key_blocks: dict[bytes, list[tuple[RecordCipher, RecordCipher, Secret]]] = {}
        self._verdict = PENDING
        self.client_random = b""
        self.server_random = b""
        self.session_id = b""
        self.version = ""
        """``TLS 1.2`` or ``TLS 1.3`` once the ServerHello is read."""
        self.suite = ""
        """The cipher suite's IANA name (hex when unknown)."""
        self.alpn: str | None = None
        """The application protocol the server chose (ServerHello in 1.2, EncryptedExtensions
        in 1.3); None when none was negotiated or it could not be read."""
        self.offered_alpn: tuple[str, ...] = ()
        self.early_offered = False
        self.early_accepted = False
        self.resumed = False
        """TLS 1.2: the server took up the client's session id or ticket (abbreviated
        handshake); TLS 1.3 resumption does not show in the clear."""
        self.key_source: str | None = None
        """``file`` or ``dsb``: where the key that opened the first record came from."""
        self.key_updates = 0
        """TLS 1.3 KeyUpdate messages followed, both directions."""

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
    def records(self) -> int:
        """Records opened so far, both directions."""
        return self._client.opened + self._server.opened

    def take_problems(self) -> list[Problem]:
        out = self._problems
        self._problems = []
        return out

    def data(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Piece]:
        d = self._client if from_client else self._server
        out: list[Piece] = []
        if d.stopped or not data:
            return out
        d.marks.append((d.base + len(d.buf), time, frame))
        if d.buf:
            d.buf += data
            if len(d.buf) < d.need:
                return out  # a record arriving in many segments: no copy per segment
            src = bytes(d.buf)
        else:
            src = data
        pos = self._records(d, src, out)
        d.buf = bytearray(src[pos:])
        d.need = _needed(d.buf)
        d.base += pos
        marks = d.marks
        i = bisect_right(marks, d.base, key=_offset) - 1
        if i > 0:
            del marks[:i]
        return out

    def gap(self, from_client: bool, size: int) -> None:
        """Bytes lost in one direction: record boundaries and sequence numbers are gone, so
        the direction stops (``tls.gap``)."""
        d = self._client if from_client else self._server
        if d.stopped:
            return
        side = "client" if from_client else "server"
        self._problem("tls.gap", None, f"{size} bytes of the {side} stream lost; the rest of "
                      "it is not decrypted")  # fmt: skip
        if not d.opened and self._verdict == PENDING:
            self._verdict = INCOMPLETE
        self._stop(d)

    def close(self) -> list[Piece]:
        """End of the connection: say why held or skipped records were never opened."""
        for d in (self._client, self._server):
            if d.held and not d.stopped:
                self._problem("tls.keys_missing", d.held[0][3], "records sent before a "
                              "ServerHello that never came")  # fmt: skip
                if self._verdict == PENDING:
                    self._verdict = INCOMPLETE
            if d.skipped and not d.confirmed and not d.stopped:
                self._wrong_key(d, d.skipped_frame)
            d.held = []
            d.stopped = True
        return []

    # -- records -----------------------------------------------------------------------

    def _records(self, d: _Direction, src: bytes, out: list[Piece]) -> int:
        pos = 0
        n = len(src)
        view = memoryview(src)
        while n - pos >= 5 and not d.stopped:
            ctype = src[pos]
            length = (src[pos + 3] << 8) | src[pos + 4]
            if not CT_CHANGE_CIPHER_SPEC <= ctype <= CT_HEARTBEAT or src[pos + 1] != 3:
                self._not_tls(d, pos, f"record header {bytes(src[pos : pos + 5]).hex()}")
                break
            if length > MAX_RECORD:
                self._not_tls(d, pos, f"record of {length} bytes")
                break
            end = pos + 5 + length
            if end > n:
                break
            time, frame = _where(d, d.base + pos)
            self._record(d, src[pos : pos + 5], view[pos + 5 : end], time, frame, out)
            pos = end
        if d.stopped:
            return n
        return pos

    def _record(
        self,
        d: _Direction,
        header: bytes,
        fragment: memoryview,
        time: float,
        frame: int,
        out: list[Piece],
    ) -> None:
        ctype = header[0]
        if d.stage != _CLEAR:
            # TLS 1.3 protects everything as application data (a ChangeCipherSpec is only
            # for middleboxes); TLS 1.2 protects every record type, even a renegotiation's
            # ChangeCipherSpec.
            if ctype == CT_APPLICATION_DATA or not self._tls13:
                self._open(d, header, fragment, time, frame, out)
            return
        if ctype == CT_HANDSHAKE:
            self._handshake(d, bytes(fragment), frame, out)
        elif ctype == CT_CHANGE_CIPHER_SPEC:
            if self._suite is not None and not self._tls13:
                self._start12(d, frame)
        elif ctype == CT_APPLICATION_DATA:
            if self._suite is None and d.from_client and self.client_random:
                # TLS 1.3 early data sent with the ClientHello: wait for the ServerHello.
                if d.held_size + len(fragment) <= HOLD_LIMIT:
                    d.held.append((header, bytes(fragment), time, frame))
                    d.held_size += len(fragment)
                else:
                    self._problem("tls.hold_limit", frame, "early data over the hold limit")
            elif self._verdict == PENDING:
                self._problem("tls.unexpected_record", frame, "application data before the "
                              "handshake set keys")  # fmt: skip

    @property
    def _tls13(self) -> bool:
        return self.version == "TLS 1.3"

    def _open(
        self,
        d: _Direction,
        header: bytes,
        fragment: memoryview,
        time: float,
        frame: int,
        out: list[Piece],
    ) -> None:
        result: tuple[int, bytes] | None = None
        if d.confirmed and d.cipher is not None:
            result = d.cipher.open(header, fragment, d.seq)
            if result is None:
                side = "client" if d.from_client else "server"
                self._problem("tls.decrypt_failed", frame, f"{side} record {d.seq} does not "
                              "authenticate")  # fmt: skip
                d.seq += 1
                return
        else:
            result = self._first_record(d, header, fragment, frame)
            if result is None:
                return
        d.seq += 1
        d.opened += 1
        inner, plain = result
        if inner == CT_APPLICATION_DATA:
            if plain:
                out.append(Piece(d.from_client, plain, time, frame))
        elif inner == CT_HANDSHAKE:
            self._handshake(d, plain, frame, out)
        elif inner == CT_CHANGE_CIPHER_SPEC and not self._tls13:
            self._start12(d, frame)  # the end of a renegotiation
        elif inner == 0:
            self._problem("tls.bad_record", frame, "TLS 1.3 record without a content type")

    def _first_record(
        self, d: _Direction, header: bytes, fragment: memoryview, frame: int
    ) -> tuple[int, bytes] | None:
        """Open the first record under a new key with each candidate; in TLS 1.3 also with
        the next stage's keys (early data rejected, handshake secrets not logged)."""
        for cipher, secret in d.candidates:
            result = cipher.open(header, fragment, d.seq)
            if result is not None:
                self._confirm(d, cipher, secret)
                return result
        if self._tls13 and d.stage in (_EARLY, _HANDSHAKE):
            tried = bool(d.candidates)
            later = (_HANDSHAKE, _APPLICATION) if d.stage == _EARLY else (_APPLICATION,)
            for stage in later:
                candidates = self._candidates13(d, stage)
                tried = tried or bool(candidates)
                for cipher, secret in candidates:
                    result = cipher.open(header, fragment, 0)
                    if result is not None:
                        self._set_stage(d, stage, candidates)
                        self._confirm(d, cipher, secret)
                        return result
            # A record no key opens before any did: early data the server rejected (its
            # secret may not be logged), or a handshake record whose secret was not
            # logged. Skip it, up to a point; with every secret there, the key is wrong.
            skippable = (d.from_client and self.early_offered) or (
                d.stage == _HANDSHAKE and not (d.candidates)
            )
            if skippable and tried and d.skipped < MAX_SKIPPED:
                if not d.skipped:
                    d.skipped_frame = frame
                d.skipped += 1
                return None
        self._wrong_key(d, frame)
        return None

    def _confirm(self, d: _Direction, cipher: RecordCipher, secret: Secret) -> None:
        if d.skipped and d.from_client and self.early_offered:
            detail = f"{d.skipped} early data records not read: no "
            detail += "CLIENT_EARLY_TRAFFIC_SECRET opens them"
            self._problem("tls.keys_missing", d.skipped_frame, detail)
        d.cipher = cipher
        d.secret = secret
        d.confirmed = True
        d.candidates = []
        if self.key_source is None:
            self.key_source = secret.source

    def _wrong_key(self, d: _Direction, frame: int | None) -> None:
        side = "client" if d.from_client else "server"
        label = _stage_label(d.stage, d.from_client) if self._tls13 else CLIENT_RANDOM
        if not d.candidates and self._tls13 and d.stage == _HANDSHAKE and d.skipped:
            detail = f"no {side} record opens with the key log's secrets"
        else:
            detail = f"the key log's {label} does not open the {side}'s first record"
        self._problem("tls.decrypt_failed", frame, detail + " (wrong or stale key?)")
        if not d.opened and self._verdict == PENDING:
            self._verdict = WRONG_KEY
        self._stop(d)

    # -- handshake -------------------------------------------------------------------

    def _handshake(self, d: _Direction, data: bytes, frame: int, out: list[Piece]) -> None:
        try:
            messages = d.handshake.feed(data)
        except TlsError as e:
            self._problem("tls.bad_handshake", frame, str(e))
            return
        for msg_type, body in messages:
            try:
                self._message(d, msg_type, body, frame, out)
            except TlsError as e:
                self._problem("tls.bad_handshake", frame, str(e))
            if d.stopped:
                return

    def _message(
        self, d: _Direction, msg_type: int, body: bytes, frame: int, out: list[Piece]
    ) -> None:
        if msg_type == hs.CLIENT_HELLO and d.from_client:
            ch = hs.parse_client_hello(body)
            if self.client_random and ch.random != self.client_random and d.stage == _CLEAR:
                self._problem("tls.bad_handshake", frame, "second ClientHello with a new random")
            self.client_random = ch.random
            self.session_id = ch.session_id
            self.offered_alpn = ch.alpn
            self.early_offered = ch.early_data
            self._entry = None
        elif msg_type == hs.SERVER_HELLO and not d.from_client:
            self._server_hello(hs.parse_server_hello(body), frame, out)
        elif msg_type == hs.ENCRYPTED_EXTENSIONS and not d.from_client:
            self.alpn, self.early_accepted = hs.parse_encrypted_extensions(body)
        elif msg_type == hs.FINISHED and self._tls13 and d.stage == _HANDSHAKE:
            self._set_stage(d, _APPLICATION, self._candidates13(d, _APPLICATION))
        elif msg_type == hs.END_OF_EARLY_DATA and d.stage == _EARLY:
            self._set_stage(d, _HANDSHAKE, self._candidates13(d, _HANDSHAKE))
        elif msg_type == hs.KEY_UPDATE and self._tls13 and d.stage == _APPLICATION:
            self._key_update(d)

    def _server_hello(self, sh: hs.ServerHelloKeys, frame: int, out: list[Piece]) -> None:
        if sh.retry:
            return  # HelloRetryRequest: the real ServerHello follows the second ClientHello
        if not self.client_random:
            self._problem("tls.keys_missing", frame, "ServerHello without a ClientHello")
            self._verdict = INCOMPLETE
            self._stop_both()
            return
        renegotiation = self._suite is not None
        self.server_random = sh.random
        self.version = version_name(sh.version)
        self.suite = suite_name(sh.suite)
        suite = SUITES.get(sh.suite)
        if sh.version not in (TLS12, TLS13):
            self._unsupported(frame, f"{self.version} is not decrypted")
            return
        if suite is None or suite.tls13 != (sh.version == TLS13):
            self._unsupported(frame, f"cipher suite {self.suite} with {self.version}")
            return
        self._suite = suite
        self._etm = sh.etm
        self._ems = sh.ems
        if sh.version == TLS12:
            if sh.alpn is not None or not renegotiation:
                self.alpn = sh.alpn
            self.resumed = bool(self.session_id) and sh.session_id == self.session_id
            return
        self.alpn = None
        client, server = self._client, self._server
        self._set_stage(server, _HANDSHAKE, self._candidates13(server, _HANDSHAKE))
        if self.early_offered and self._secrets(CLIENT_EARLY_TRAFFIC_SECRET, 0):
            self._set_stage(client, _EARLY, self._candidates13(client, _EARLY))
        else:
            self._set_stage(client, _HANDSHAKE, self._candidates13(client, _HANDSHAKE))
        self._check_keys()
        # Early data held back for want of the suite can be opened now.
        held, client.held, client.held_size = client.held, [], 0
        for header, fragment, time, held_frame in held:
            if client.stopped:
                break
            self._open(client, header, memoryview(fragment), time, held_frame, out)

    def _unsupported(self, frame: int, detail: str) -> None:
        self._problem("tls.unsupported", frame, detail)
        self._verdict = UNSUPPORTED
        self._stop_both()

    def _secrets(self, label: str, hash_len: int) -> tuple[Secret, ...]:
        entry = self._entry
        if entry is None:
            entry = self._entry = self._keylog.lookup(self.client_random)
        if entry is None:
            return ()
        found = entry.get(label)
        if hash_len:
            found = tuple(s for s in found if len(s.value) == hash_len)
        return found

    def _check_keys(self) -> None:
        """TLS 1.3 right after ServerHello: with no secret at all for this connection the
        verdict is in (and the caller can stop feeding it)."""
        if self._client.candidates or self._server.candidates:
            return
        if self._candidates13(self._client, _APPLICATION) or self._candidates13(
            self._server, _APPLICATION
        ):
            return
        self._missing("no TLS 1.3 traffic secrets")

    def _missing(self, what: str) -> None:
        self._problem("tls.keys_missing", None, f"{what} for client random "
                      f"{self.client_random[:4].hex()}... in the key log")  # fmt: skip
        if self._verdict == PENDING:
            self._verdict = KEYS_MISSING
        self._stop_both()

    # -- TLS 1.3 keys --------------------------------------------------------------------

    def _candidates13(self, d: _Direction, stage: int) -> list[tuple[RecordCipher, Secret]]:
        suite = self._suite
        if suite is None:
            return []
        label = _stage_label(stage, d.from_client)
        out: list[tuple[RecordCipher, Secret]] = []
        for secret in self._secrets(label, HASH_LEN[suite.hash]):
            key, iv = traffic_keys(secret.value, suite.key_len, 12, suite.hash)
            out.append((tls13_cipher(suite, key, iv), secret))
        return out

    def _set_stage(
        self, d: _Direction, stage: int, candidates: list[tuple[RecordCipher, Secret]]
    ) -> None:
        d.stage = stage
        d.seq = 0
        d.confirmed = False
        d.candidates = candidates
        d.cipher = None
        d.skipped = 0
        d.handshake.clear()

    def _key_update(self, d: _Direction) -> None:
        suite, secret = self._suite, d.secret
        if suite is None or secret is None:
            return
        value = next_traffic_secret(secret.value, suite.hash)
        key, iv = traffic_keys(value, suite.key_len, 12, suite.hash)
        d.secret = Secret(secret.label, value, secret.source)
        d.cipher = tls13_cipher(suite, key, iv)
        d.seq = 0
        self.key_updates += 1

    # -- TLS 1.2 keys --------------------------------------------------------------------

    def _start12(self, d: _Direction, frame: int) -> None:
        """ChangeCipherSpec: this direction's records are protected from the next on, with
        the keys of the latest ServerHello (a renegotiation's, after one)."""
        suite = self._suite
        assert suite is not None
        randoms = self.client_random + self.server_random
        blocks = self._key_blocks.get(randoms)
        if blocks is None:
            blocks = []
            for secret in self._secrets(CLIENT_RANDOM, 48):
                block = key_block12(
                    secret.value, self.server_random, self.client_random,
                    suite.mac_len, suite.key_len, suite.fixed_iv_len, suite.hash,
                )  # fmt: skip
                c, s = tls12_ciphers(suite, block, self._etm)
                blocks.append((c, s, secret))
            if not blocks:
                self._missing("no CLIENT_RANDOM line")
                return
            self._key_blocks = {randoms: blocks}
        candidates = [(c if d.from_client else s, secret) for c, s, secret in blocks]
        self._set_stage(d, _APPLICATION, candidates)

    # -- plumbing ------------------------------------------------------------------------

    def _not_tls(self, d: _Direction, pos: int, detail: str) -> None:
        side = "client" if d.from_client else "server"
        _, frame = _where(d, d.base + pos)
        self._problem("tls.bad_record", frame, f"{side}: {detail}")
        if not d.opened and self._verdict == PENDING:
            self._verdict = NOT_TLS
        self._stop(d)

    def _stop(self, d: _Direction) -> None:
        d.stopped = True
        d.buf = bytearray()
        d.held = []
        d.candidates = []
        d.marks = []

    def _stop_both(self) -> None:
        self._stop(self._client)
        self._stop(self._server)

    def _problem(self, kind: str, frame: int | None, detail: str) -> None:
        if len(self._problems) < MAX_PROBLEMS:
            self._problems.append((kind, frame, detail))


def _needed(buf: bytearray) -> int:
    if len(buf) < 5:
        return 5
    return 5 + ((buf[3] << 8) | buf[4])


def _offset(mark: tuple[int, float, int]) -> int:
    return mark[0]


def _where(d: _Direction, offset: int) -> tuple[float, int]:
    marks = d.marks
    i = bisect_right(marks, offset, key=_offset) - 1
    if i < 0:
        return (marks[0][1], marks[0][2]) if marks else (0.0, 0)
    _, time, frame = marks[i]
    return time, frame


def _stage_label(stage: int, from_client: bool) -> str:
    if stage == _EARLY:
        return CLIENT_EARLY_TRAFFIC_SECRET
    if stage == _HANDSHAKE:
        return CLIENT_HANDSHAKE_TRAFFIC_SECRET if from_client else SERVER_HANDSHAKE_TRAFFIC_SECRET
    return CLIENT_TRAFFIC_SECRET_0 if from_client else SERVER_TRAFFIC_SECRET_0
