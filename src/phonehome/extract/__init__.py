"""Field extraction: every place of an outgoing message where data can hide.

:func:`fields` turns one message into :class:`~phonehome.model.field.Field` records, each
with its place (``where``), the decoders that produced it (``encoding``), its key and its
sibling key/value pairs. The grammar of ``where`` and the encoding names are part of the
public JSON output: see ``docs/fields.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

from phonehome.extract.engine import Budget, expand
from phonehome.extract.http import request_fields
from phonehome.extract.text import to_text
from phonehome.model.anomaly import Anomalies
from phonehome.model.field import Field
from phonehome.model.message import (
    DnsMessage,
    HttpRequest,
    Message,
    MqttMessage,
    QuicInitial,
    RawPayload,
    TlsClientHello,
)

__all__ = ["fields"]


def fields(message: Message, anomalies: Anomalies | None = None) -> Iterator[Field]:
    """Fields of an outgoing message; responses and DNS answers give none.

    The caller decides direction; this never raises on message content. ``anomalies``,
    when given, receives one ``extract.*`` record per bound that cut this message.
    """
    budget = Budget(anomalies, message.input, message.frame)
    content = message.content
    if isinstance(content, HttpRequest):
        yield from request_fields(content, budget)
    elif isinstance(content, DnsMessage):
        if not content.response:
            for name, _ in content.questions:
                yield from _labels(budget, "dns.qname", name, "label")
    elif isinstance(content, MqttMessage):
        yield from _mqtt(budget, content)
    elif isinstance(content, TlsClientHello):
        if content.sni:
            yield from _labels(budget, "tls.sni", content.sni, "label")
    elif isinstance(content, QuicInitial):
        if content.hello is not None and content.hello.sni:
            yield from _labels(budget, "quic.sni", content.hello.sni, "label")
    elif isinstance(content, RawPayload):
        part = f"{message.flow.transport}.payload"
        yield from expand(budget, part, "", (), None, (), to_text(content.data), content.data)


def _labels(budget: Budget, part: str, name: str, unit: str, sep: str = ".") -> Iterator[Field]:
    """A name as a whole and each label/level on its own (data hides in single labels)."""
    name = name.rstrip(sep) if sep == "." else name
    yield from expand(budget, part, "", (), None, (), name)
    for i, label in enumerate(label for label in name.split(sep) if label):
        yield from expand(budget, part, f"{unit}[{i}]", (), None, (), label)


def _mqtt(budget: Budget, msg: MqttMessage) -> Iterator[Field]:
    for part, value in (
        ("mqtt.client_id", msg.client_id),
        ("mqtt.username", msg.username),
    ):
        if value:
            yield from expand(budget, part, "", (), None, (), value)
    if msg.password:
        yield from expand(
            budget, "mqtt.password", "", (), None, (), to_text(msg.password), msg.password
        )
    if msg.topic:
        yield from _labels(budget, "mqtt.topic", msg.topic, "level", "/")
    if msg.payload:
        yield from expand(
            budget, "mqtt.payload", "", (), None, (), to_text(msg.payload), msg.payload
        )
    if msg.will_topic:
        yield from expand(budget, "mqtt.will_topic", "", (), None, (), msg.will_topic)
    if msg.will_payload:
        yield from expand(
            budget,
            "mqtt.will_payload",
            "",
            (),
            None,
            (),
            to_text(msg.will_payload),
            msg.will_payload,
        )
