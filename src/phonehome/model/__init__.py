"""Typed records passed between the stages.

Below the message level (frames, packets) the classes are slotted and mutable for speed;
from the message level on they are frozen dataclasses.
"""

from phonehome.model.anomaly import Anomalies, Anomaly
from phonehome.model.field import Field, Match, Occurrence
from phonehome.model.frame import Frame, Packet
from phonehome.model.message import (
    AppLabel,
    Content,
    DnsAnswer,
    DnsMessage,
    Endpoint,
    FlowKey,
    HttpRequest,
    HttpResponse,
    Message,
    MqttMessage,
    QuicInitial,
    RawPayload,
    TlsClientHello,
)

__all__ = [
    "Anomalies",
    "Anomaly",
    "AppLabel",
    "Content",
    "DnsAnswer",
    "DnsMessage",
    "Endpoint",
    "Field",
    "FlowKey",
    "Frame",
    "HttpRequest",
    "HttpResponse",
    "Match",
    "Message",
    "MqttMessage",
    "Occurrence",
    "Packet",
    "QuicInitial",
    "RawPayload",
    "TlsClientHello",
]
