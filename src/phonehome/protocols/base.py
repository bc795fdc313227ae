"""The contracts between the flow table, the TCP/UDP sessions and each protocol.

The flow table (``phonehome.net``) reassembles each TCP direction and hands contiguous
bytes to the flow's :class:`Session`; for UDP it hands each datagram. The session
recognises the protocol by content (any port) through the registry
(:mod:`phonehome.protocols.registry`), and each registered :class:`Protocol` says, in its
own module, everything else about itself: how it is recognised, the per-connection
:class:`TcpApp` or per-datagram parse that turns bytes into content records, the name a
message of it carries, the host it names, its ``flows`` columns and summary, and the
fields extraction walks — as a Zeek protocol folder keeps its record, state and signature
together. Nothing here raises on bad data: problems are anomalies in the context, and a
parser that cannot go on hands its bytes back to the session as raw payload.

``Parsed`` and ``Session`` (what the flow table hands over and drives) are the flow
table's own contract, in :mod:`phonehome.net.contracts`; they are re-exported here.

The classes are plain base classes rather than ``typing.Protocol`` interfaces: compiled
with mypyc (see :mod:`phonehome.native`), a call through a native base class is a vtable
call, through a structural interface a generic Python call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from phonehome.context import Context
from phonehome.extract.engine import Budget
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, Record
from phonehome.net.contracts import Parsed, Session

__all__ = [
    "Parsed",
    "Protocol",
    "Rest",
    "Session",
    "TcpApp",
    "TcpHost",
    "UdpApp",
    "UdpHost",
]


Rest = tuple[bytes, float, int]
"""Unparsed bytes a parser hands back, with the time and frame where they started."""


class TcpHost:
    """What a TCP connection offers the protocol handling it (implemented by
    :class:`phonehome.protocols.tcp.TcpSession`)."""

    ctx: Context
    input: int
    done: bool
    server: str
    """The server's address as text (empty when unknown)."""
    device_is_client: bool
    """The device is the client end (what it sends is the client side)."""

    def to_raw(
        self, from_client: bool, rest: Rest | None, out: list[Parsed], resumable: bool = True
    ) -> None:
        """This direction is no longer the protocol's: ``rest`` and all that follows is
        raw payload (the parser stopped on malformed data, or lost its framing). Not
        ``resumable``: the protocol failed here, so a later segment that looks like the
        start of one of its messages is not taken as a new start."""
        raise NotImplementedError

    def flush_raw(self, from_client: bool, out: list[Parsed]) -> None:
        """Emit the raw bytes this direction has collected so far as one payload."""
        raise NotImplementedError

    def is_raw(self, from_client: bool) -> bool:
        raise NotImplementedError

    def app_of(self, from_client: bool) -> TcpApp | None:
        """The app parsing this direction now, if any."""
        raise NotImplementedError

    def skip(self, from_client: bool) -> None:
        """Nothing more to parse in this direction (encrypted): its bytes are dropped."""
        raise NotImplementedError

    def attach(self, from_client: bool, app: TcpApp, out: list[Parsed]) -> None:
        """Hand this direction (say, the server side a capture started in the middle of)
        to ``app`` too."""
        raise NotImplementedError

    def reopen(self, rests: list[tuple[bool, Rest | None]], out: list[Parsed]) -> None:
        """The protocol switched (CONNECT accepted, Upgrade): every direction is
        recognised afresh, starting with the given unparsed bytes."""
        raise NotImplementedError

    def nested(self, alpn: str | None = None) -> Session:
        """A fresh session for the byte streams carried inside this connection (the
        plaintext of a decrypted TLS connection). The protocol registered for ``alpn``
        (:attr:`Protocol.alpn`) takes both directions from their first byte, as the
        negotiation decided; without one, content decides as on any TCP connection."""
        raise NotImplementedError


class TcpApp:
    """One protocol on one TCP connection: the state of both directions.

    Created by :meth:`Protocol.tcp_app` when a direction is recognised; the other
    direction follows it when :meth:`follows` says so, or is skipped.
    """

    def __init__(self, protocol: Protocol, host: TcpHost) -> None:
        self.protocol = protocol
        self.host = host

    def start(self, from_client: bool, out: list[Parsed]) -> None:
        """This direction was just handed to the app (before its first bytes)."""

    def follows(self, from_client: bool) -> bool:
        """Whether the app parses this direction too, once the other one chose it."""
        return True

    def data(
        self, from_client: bool, data: bytes, time: float, frame: int, out: list[Parsed]
    ) -> None:
        raise NotImplementedError

    def gap(self, from_client: bool, size: int, out: list[Parsed]) -> None:
        """Bytes of this direction were lost; by default the framing is lost for good."""
        raise NotImplementedError

    def finish(self, from_client: bool, out: list[Parsed]) -> None:
        """The connection ended: emit what this direction has pending, or hand it back
        as raw (:meth:`TcpHost.to_raw`)."""
        raise NotImplementedError


class UdpHost:
    """What a UDP flow offers the protocol handling a datagram. The ports are hints
    only (GTP-C and GTP-U share a header; the port tells their echo messages apart)."""

    ctx: Context
    input: int
    client_port: int
    server_port: int
    client: str
    server: str
    """The two ends' addresses as text, in the flow table's orientation (empty when
    unknown)."""

    def raw(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        """The datagram as raw payload (bounded per direction of the flow)."""
        raise NotImplementedError


class UdpApp:
    """A protocol that follows a UDP flow once it started (QUIC): gets every datagram.

    ``done`` tells the session (and through it the flow table) to drop the rest of the
    flow; ``released`` that the flow turned out not to be this protocol's: the session
    forgets the app and treats later datagrams as any other."""

    def __init__(self, host: UdpHost) -> None:
        self.host = host
        self.done = False
        self.released = False

    def datagram(self, from_client: bool, data: bytes, time: float, frame: int) -> list[Parsed]:
        raise NotImplementedError

    def close(self) -> list[Parsed]:
        """The flow ended (or the session was done): flush what is pending."""
        return []


class Protocol:
    """A protocol's registry entry (:mod:`phonehome.protocols.registry`).

    ``name`` is what messages of it carry (``Message.protocol``); ``contents`` the record
    types its parsers produce, by which a message finds its way back here for its host,
    ``flows`` columns, summary and fields. A protocol may be recognised on TCP
    (:meth:`tcp_client`/:meth:`tcp_server` + :meth:`tcp_app`), on UDP per datagram
    (:meth:`udp_datagram`) or per flow (:meth:`udp_start` + :meth:`udp_app`), or only
    carry content other inputs produce (HAR, mitmproxy).
    """

    def __init__(
        self,
        name: str,
        contents: tuple[type[Record], ...] = (),
        *,
        encrypted: bool = False,
        alpn: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.contents = contents
        self.encrypted = encrypted
        """Messages of it are ``encrypted`` (only metadata visible), else ``cleartext``."""
        self.alpn = alpn
        """Its TLS ALPN protocol ids (RFC 7301 registry): a decrypted connection that
        negotiated one of them is this protocol's from the first byte."""

    # -- recognition -------------------------------------------------------------------

    def tcp_client(self, head: bytes) -> bool:
        """The first bytes (up to 64) a TCP client sent are this protocol's."""
        return False

    def tcp_server(self, head: bytes) -> bool:
        """The first bytes of a server that spoke first (or whose client was not seen)."""
        return False

    def tcp_resume(self, data: bytes) -> bool:
        """A client segment on a raw stream starts a message of this protocol: the
        capture began mid-stream, and what came first was the tail of something."""
        return False

    def tcp_app(self, host: TcpHost) -> TcpApp:
        raise NotImplementedError(self.name)

    def udp_datagram(
        self, host: UdpHost, from_client: bool, data: bytes, time: float, frame: int
    ) -> list[Parsed] | None:
        """A datagram parsed on its own (DNS): what it gave, or None when not this
        protocol's. A malformed one it claims is counted and returned as raw."""
        return None

    def udp_start(self, data: bytes, from_client: bool) -> bool:
        """This datagram opens a flow this protocol follows from now on."""
        return False

    def udp_app(self, host: UdpHost) -> UdpApp:
        raise NotImplementedError(self.name)

    # -- the message level -------------------------------------------------------------

    def message_name(self, content: Content, transport: str) -> str:
        """``Message.protocol`` of a message with this content."""
        return self.name

    def host(self, content: Content) -> str | None:
        """The remote side's name this content gives (HTTP Host, SNI), if any."""
        return None

    def columns(self, content: Content) -> dict[str, Any]:
        """The protocol's own keys in a ``flows --format jsonl`` line."""
        raise NotImplementedError(self.name)

    def summary(self, content: Content) -> str:
        """The protocol's part of a ``flows`` text line."""
        raise NotImplementedError(self.name)

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        """The places of an outgoing message where data can hide (docs/fields.md)."""
        return iter(())
