"""Raw payloads: the bytes of a TCP stream or UDP flow that no protocol claimed.

Identifiers often travel in home-made protocols, so these are searched like any other
content (``tcp.payload`` / ``udp.payload``); the sessions coalesce and bound them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from phonehome.extract.engine import Budget, expand
from phonehome.extract.text import to_text
from phonehome.model.field import Field
from phonehome.model.message import Content, Message, RawPayload
from phonehome.protocols.base import Protocol


class RawProtocol(Protocol):
    """Not recognised by content: the fallback of both sessions, named by transport."""

    def __init__(self) -> None:
        super().__init__("raw", (RawPayload,))

    def message_name(self, content: Content, transport: str) -> str:
        return transport

    def columns(self, content: Content) -> dict[str, Any]:
        assert isinstance(content, RawPayload)
        return {"length": len(content.data), "truncated": content.truncated}

    def summary(self, content: Content) -> str:
        assert isinstance(content, RawPayload)
        return f"{len(content.data)} bytes{' (truncated)' if content.truncated else ''}"

    def fields(self, message: Message, budget: Budget) -> Iterator[Field]:
        content = message.content
        assert isinstance(content, RawPayload)
        part = f"{message.flow.transport}.payload"
        return expand(budget, part, "", (), None, (), to_text(content.data), content.data)


RAW: Final = RawProtocol()
