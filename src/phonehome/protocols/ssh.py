"""SSH (RFC 4253): the identification string and KEXINIT, the cleartext part of a session.

Each side opens with ``SSH-2.0-<software> <comments>`` and a KEXINIT packet listing its
algorithms; everything after the key exchange is encrypted. The identification names the
software (an IoT device's firmware build shows here); the algorithm lists are protocol
vocabulary (``curve25519-sha256@libssh.org`` is an RFC 4250 ``name@domain`` algorithm
name, not an e-mail address), so they are shown by ``flows`` but never walked for
identifiers. Once both sides' KEXINIT are read, the flow is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget, expand
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.protocols.base import Parsed, Protocol, TcpApp, TcpHost

MAX_LINE: Final = 255
"""Longest identification line (RFC 4253 4.2, CR LF included)."""
MAX_PRE_LINES: Final = 32
"""Lines a server may send before its identification (RFC 4253 4.2 allows some)."""
MAX_PACKET: Final = 35000
"""Largest binary packet an implementation must accept (RFC 4253 6.1)."""
MSG_KEXINIT: Final = 20
NAME_LISTS: Final = 10
"""kex, host key, cipher c2s/s2c, MAC c2s/s2c, compression c2s/s2c, language c2s/s2c."""


class SshHello(Record):
    """One side's identification and the algorithms its KEXINIT offered."""

    FIELDS = ("ident", "kex", "host_key", "ciphers", "macs", "complete")
    __slots__ = FIELDS

    ident: Final[str]
    """The identification line without CR LF, e.g. ``SSH-2.0-OpenSSH_9.6 Ubuntu-3``."""
    kex: Final[tuple[str, ...]]
    host_key: Final[tuple[str, ...]]
    ciphers: Final[tuple[str, ...]]
    """Offered for this side's direction of sending."""
    macs: Final[tuple[str, ...]]
    complete: Final[bool]
    """False when the KEXINIT was missing or damaged (only the identification is known)."""

    def __init__(
        self,
        ident: str,
        kex: tuple[str, ...] = (),
        host_key: tuple[str, ...] = (),
        ciphers: tuple[str, ...] = (),
        macs: tuple[str, ...] = (),
        complete: bool = False,
    ) -> None:
        self.ident = ident
        self.kex = kex
        self.host_key = host_key
        self.ciphers = ciphers
        self.macs = macs
        self.complete = complete


class _Side:
    __slots__ = ("buf", "ident", "lines", "start")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.ident: str | None = None
        self.lines = 0
        self.start = (0.0, 0)


class SshApp(TcpApp):
    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        super().__init__(protocol, host)
        self._sides = [_Side(), _Side()]  # [server, client]
        self._finished = [False, False]

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        side = self._sides[from_client]
        if side.ident is None and not side.buf:
            side.start = (time, frame)  # the message is stamped where its identification began
        side.buf += data[: max(0, MAX_PACKET + 4 - len(side.buf))]
        if side.ident is None and not self._identification(from_client, side, out):
            return
        if len(side.buf) < 5:
            return
        size = int.from_bytes(side.buf[:4], "big")
        if size < 5 or size > MAX_PACKET:
            self._problem("ssh.bad_packet", f"packet length {size}", frame)
            self._end(from_client, SshHello(side.ident or ""), side, out)
            return
        if len(side.buf) < 4 + size:
            return
        hello = _kexinit(side.ident or "", bytes(side.buf[4 : 4 + size]))
        if hello is None:
            self._problem("ssh.bad_kexinit", "first packet is not a readable KEXINIT", frame)
            hello = SshHello(side.ident or "")
        self._end(from_client, hello, side, out)

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        side = self._sides[from_client]
        if side.ident is not None:
            self._end(from_client, SshHello(side.ident), side, out)
        else:
            self.host.to_raw(from_client, None, out)

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        side = self._sides[from_client]
        if self._finished[from_client]:
            return
        if side.ident is not None:
            self._end(from_client, SshHello(side.ident), side, out)
        elif side.buf:
            rest = (bytes(side.buf), side.start[0], side.start[1])
            side.buf.clear()
            self.host.to_raw(from_client, rest, out)

    def _identification(self, from_client: bool, side: _Side, out: list[Parsed]) -> bool:
        """Read lines up to ``SSH-...``; False while more bytes are needed (or gave up)."""
        while True:
            end = side.buf.find(b"\n", 0, MAX_LINE + 1)
            if end < 0:
                if len(side.buf) > MAX_LINE:
                    self._give_up(from_client, side, "identification line too long", out)
                return False
            line = bytes(side.buf[:end]).rstrip(b"\r")
            del side.buf[: end + 1]
            if line.startswith(b"SSH-"):
                side.ident = line.decode("utf-8", "replace")
                return True
            side.lines += 1
            if from_client or side.lines > MAX_PRE_LINES:
                self._give_up(from_client, side, "no identification line", out)
                return False

    def _give_up(self, from_client: bool, side: _Side, why: str, out: list[Parsed]) -> None:
        self._problem("ssh.bad_identification", why, None)
        rest = (bytes(side.buf), side.start[0], side.start[1]) if side.buf else None
        side.buf.clear()
        self.host.to_raw(from_client, rest, out)

    def _end(self, from_client: bool, hello: SshHello, side: _Side, out: list[Parsed]) -> None:
        out.append(Parsed(from_client, side.start[0], side.start[1], hello))
        side.buf.clear()
        self._finished[from_client] = True
        self.host.skip(from_client)
        if self._finished[0] and self._finished[1]:
            self.host.done = True  # the key exchange and all after it are encrypted

    def _problem(self, kind: str, detail: str, frame: int | None) -> None:
        self.host.ctx.anomalies.add(kind, self.host.input, frame, detail)


def _kexinit(ident: str, packet: bytes) -> SshHello | None:
    """The algorithm lists of a KEXINIT packet (RFC 4253 7.1), or None if it is not one."""
    padding = packet[0]
    payload = packet[1 : len(packet) - padding]
    if not payload or payload[0] != MSG_KEXINIT or len(payload) < 17:
        return None
    pos = 17  # message code + 16-byte cookie
    lists: list[tuple[str, ...]] = []
    for _ in range(NAME_LISTS):
        if pos + 4 > len(payload):
            return None
        n = int.from_bytes(payload[pos : pos + 4], "big")
        pos += 4
        if pos + n > len(payload):
            return None
        text = payload[pos : pos + n].decode("ascii", "replace")
        lists.append(tuple(text.split(",")) if text else ())
        pos += n
    return SshHello(ident, lists[0], lists[1], lists[2], lists[4], True)


class SshProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__("ssh", (SshHello,))

    def tcp_client(self, head: bytes) -> bool:
        return head.startswith(b"SSH-")

    def tcp_server(self, head: bytes) -> bool:
        return head.startswith(b"SSH-")

    def tcp_app(self, host: TcpHost) -> TcpApp:
        return SshApp(self, host)

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, SshHello)
        return {"ssh_ident": content.ident, "kex": list(content.kex)}

    def summary(self, content: Content) -> str:
        assert isinstance(content, SshHello)
        kex = ",".join(content.kex[:2]) + (",..." if len(content.kex) > 2 else "")
        return f"{content.ident} kex={kex or '?'}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        """Only the identification: software version and comments are free text; the
        algorithm lists are protocol vocabulary."""
        content = message.content
        assert isinstance(content, SshHello)
        return expand(budget, "ssh.ident", "", (), None, (), content.ident)


SSH: Final = SshProtocol()
