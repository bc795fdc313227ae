"""Field extraction: every place of an outgoing message where data can hide.

:func:`fields` turns one message into :class:`~phonehome.model.field.Field` records, each
with its place (``where``), the decoders that produced it (``encoding``), its key and its
sibling key/value pairs. The grammar of ``where`` and the encoding names are part of the
public JSON output: see ``docs/fields.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

from phonehome.extract.engine import MAX_DECODED, MAX_FIELDS, Budget, expand
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

MAX_NAME_MEMO = 255
"""Longest name (DNS, SNI, MQTT topic) whose expansion is remembered: a DNS name's limit."""
MAX_NAME_FIELDS = 32
MAX_NAME_TEXT = 2048
"""A remembered expansion has at most this many fields and characters (1,024 names are
remembered: a few MB at most)."""


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
    """A name as a whole and each label/level on its own (data hides in single labels).

    The same few hundred names come back all through a capture, so a name's expansion is
    remembered. It is replayed only when this message's budget has room for all of it:
    then expanding again would give exactly the same fields and notes (an expansion that
    a per-message bound cut used up a whole budget, so it never has room)."""
    done = _expanded_name(part, name, unit, sep) if len(name) <= MAX_NAME_MEMO else None
    if (
        done is None
        or budget.fields + len(done.fields) > MAX_FIELDS
        or budget.decoded + done.decoded > MAX_DECODED
    ):
        yield from _expand_labels(budget, part, name, unit, sep)
        return
    budget.fields += len(done.fields)
    budget.decoded += done.decoded
    for kind, detail in done.notes:
        budget.note(kind, detail)
    yield from done.fields


def _expand_labels(budget: Budget, part: str, name: str, unit: str, sep: str) -> Iterator[Field]:
    name = name.rstrip(sep) if sep == "." else name
    yield from expand(budget, part, "", (), None, (), name)
    for i, label in enumerate(label for label in name.split(sep) if label):
        yield from expand(budget, part, f"{unit}[{i}]", (), None, (), label)


class _Expansion(NamedTuple):
    fields: tuple[Field, ...]
    decoded: int
    notes: tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def _expanded_name(part: str, name: str, unit: str, sep: str) -> _Expansion | None:
    """The fields of a name expanded on an empty budget; None (not remembered) when they
    are many or long: an 84-character name can inflate to 20,000 fields."""
    budget = Budget(None, 0, 0)
    fields: list[Field] = []
    size = 0
    for f in _expand_labels(budget, part, name, unit, sep):
        fields.append(f)
        size += len(f.text)
        if len(fields) > MAX_NAME_FIELDS or size > MAX_NAME_TEXT:
            return None
    return _Expansion(tuple(fields), budget.decoded, tuple(budget.noted.items()))


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
