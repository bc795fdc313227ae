"""Helpers shared by the mobile-protocol tests: sessions, fields of a content, tshark."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from phonehome.cli import main
from phonehome.context import Context
from phonehome.model import Content, Endpoint, Field, FlowKey, Message
from phonehome.protocols.base import Parsed
from phonehome.protocols.registry import message_fields
from phonehome.protocols.udp import UdpSession
from tests.tshark import fields as tshark_fields

DEVICE = Endpoint("10.0.0.1", 40000)
SERVER = Endpoint("10.0.0.2", 5060)


def udp(
    data: bytes, client_port: int = 40000, server_port: int = 5060
) -> tuple[Context, list[Parsed]]:
    """One datagram from the client through a fresh UDP session."""
    ctx = Context()
    session = UdpSession(ctx, 0, client_port, server_port)
    return ctx, session.data(True, data, 1.0, 1)


def only(parsed: list[Parsed]) -> Content:
    assert len(parsed) == 1, parsed
    return parsed[0].content


def fields(content: Content, protocol: str, transport: str = "udp") -> list[Field]:
    flow = FlowKey(transport, DEVICE, SERVER)  # type: ignore[arg-type]
    msg = Message(1.0, 0, 1, 1, flow, DEVICE, SERVER, "out", protocol, "cleartext", content)
    return list(message_fields(msg))


def by_where(found: list[Field]) -> dict[str, list[Field]]:
    out: dict[str, list[Field]] = {}
    for f in found:
        out.setdefault(f.where, []).append(f)
    return out


def tshark(path: Path, display_filter: str, *names: str) -> list[list[str]]:
    """Frame number and ``names`` of each frame tshark shows under ``display_filter``."""
    return tshark_fields(path, "frame.number", *names, display_filter=display_filter)


def flows_jsonl(path: Path, *extra: str) -> list[dict[str, object]]:
    res = CliRunner().invoke(main, ["flows", "--format", "jsonl", *extra, str(path)])
    assert res.exit_code == 0, res.output
    return [json.loads(x) for x in res.stdout.splitlines()]
