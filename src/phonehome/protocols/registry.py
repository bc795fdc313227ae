"""The protocols phonehome understands: one registration line each.

Order matters where it says so: a TCP stream's first client bytes are offered to
:data:`TCP` in turn (the first that recognises them takes the connection); a UDP datagram
to :data:`UDP`'s per-datagram parsers, then to the protocols that follow a whole flow.
Everything else about a protocol is in its own module (see
:class:`phonehome.protocols.base.Protocol` and docs/architecture.md, "How to add a
protocol").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from phonehome.extract.engine import Budget
from phonehome.model.anomaly import Anomalies
from phonehome.model.field import Field
from phonehome.model.message import Content, Message
from phonehome.protocols.base import Protocol
from phonehome.protocols.diameter import DIAMETER
from phonehome.protocols.dns import DNS
from phonehome.protocols.eapol import EAPOL
from phonehome.protocols.gtp import GTPV1, GTPV2
from phonehome.protocols.http import HTTP
from phonehome.protocols.http2 import HTTP2
from phonehome.protocols.ike import ESP, IKE
from phonehome.protocols.mqtt import MQTT
from phonehome.protocols.quic import QUIC
from phonehome.protocols.radius import RADIUS
from phonehome.protocols.raw import RAW
from phonehome.protocols.sip import SIP
from phonehome.protocols.smtp import SMTP
from phonehome.protocols.ssh import SSH
from phonehome.protocols.tls import TLS

TCP: Final[tuple[Protocol, ...]] = (SIP, HTTP2, HTTP, TLS, MQTT, SMTP, DNS, SSH, DIAMETER)
"""Recognised on TCP, in this order (HTTP/2's preface before HTTP/1's request line;
SMTP's EHLO and greeting before DNS's length-prefixed header, which text can look like)."""
UDP: Final[tuple[Protocol, ...]] = (DNS, SIP, GTPV2, GTPV1, RADIUS, IKE, ESP, QUIC)
"""Recognised on UDP, in this order."""
OTHER: Final[tuple[Protocol, ...]] = (RAW, EAPOL)
"""Protocols no session recognises, whose content other sources or fallbacks make (EAPOL:
the link layer, beside IP)."""

_BY_CONTENT: Final[dict[type, Protocol]] = {t: p for p in (*TCP, *UDP, *OTHER) for t in p.contents}


def protocol_of(content: Content) -> Protocol:
    """The registered protocol whose parsers make this kind of content."""
    return _BY_CONTENT[type(content)]


def message_fields(message: Message, anomalies: Anomalies | None = None) -> Iterator[Field]:
    """Fields of an outgoing message (docs/fields.md); DNS answers give none, and an HTTP
    response gives its headers and body (sent by a device that serves HTTP).

    The caller decides direction (a scan asks only for what the device sent); this never
    raises on message content. ``anomalies``, when given, receives one ``extract.*``
    record per bound that cut this message.
    """
    budget = Budget(anomalies, message.input, message.frame)
    return _BY_CONTENT[type(message.content)].fields(message, budget)
