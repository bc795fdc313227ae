"""A scan skips the HTTP bodies the device receives, and only those.

It searches what the device sent (docs/detectors.md), so the parser is told not to copy
and decompress what it received (``Context.received_bodies``). Which side that is
depends on which end is the device: a device serving HTTP sends responses.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse
from phonehome.pipeline import iter_messages, open_all
from tests.builders_net import ACK, FIN, PSH, SYN, ether, ipv4, pcap, tcp

IMEI = "352071026884283"
PHONE = bytes([192, 168, 1, 10])
REMOTE = bytes([93, 184, 216, 34])


def exchange(client: bytes, server: bytes, request: bytes, response: bytes) -> bytes:
    """One TCP connection (handshake, one request, one response, FIN) as a pcap file."""
    cport, sport = 40000, 80
    cseq, sseq = 1000, 5000

    def c2s(flags: int, seq: int, ack: int, payload: bytes = b"") -> bytes:
        return ether(ipv4(tcp(cport, sport, seq, ack, flags, payload), src=client, dst=server))

    def s2c(flags: int, seq: int, ack: int, payload: bytes = b"") -> bytes:
        return ether(ipv4(tcp(sport, cport, seq, ack, flags, payload), src=server, dst=client))

    c, s = cseq + 1, sseq + 1
    frames = [
        c2s(SYN, cseq, 0),
        s2c(SYN | ACK, sseq, c),
        c2s(ACK, c, s),
        c2s(PSH | ACK, c, s, request),
        s2c(PSH | ACK, s, c + len(request), response),
        c2s(FIN | ACK, c + len(request), s + len(response)),
        s2c(FIN | ACK, s + len(response), c + len(request) + 1),
    ]
    return pcap(frames, 1)


REQUEST = b"GET /config HTTP/1.1\r\nHost: example.com\r\n\r\n"
BODY = f'{{"imei": "{IMEI}"}}'.encode()
GZIPPED = gzip.compress(BODY)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    + f"Content-Length: {len(GZIPPED)}\r\n\r\n".encode()
    + GZIPPED
)


def messages(path: Path, received_bodies: bool) -> list[object]:
    ctx = Context()
    ctx.received_bodies = received_bodies
    return [m.content for m in iter_messages(open_all([str(path)]), ctx, None)]


def test_the_phone_s_received_response_body_is_skipped_unread(tmp_path: Path) -> None:
    path = tmp_path / "phone.pcap"
    path.write_bytes(exchange(PHONE, REMOTE, REQUEST, RESPONSE))
    kept = messages(path, True)
    skipped = messages(path, False)
    [resp] = [m for m in kept if isinstance(m, HttpResponse)]
    assert resp.body == BODY and resp.encodings == ("gzip",)
    [resp] = [m for m in skipped if isinstance(m, HttpResponse)]
    assert resp.status == 200 and resp.body == b"" and resp.body_truncated
    assert [m for m in kept if isinstance(m, HttpRequest)] == [
        m for m in skipped if isinstance(m, HttpRequest)
    ]


def test_a_device_serving_http_keeps_the_bodies_it_sends(tmp_path: Path) -> None:
    """The device is the server here: its responses are what it sent."""
    path = tmp_path / "server.pcap"
    # only the server end is local: phonehome takes it for the device
    path.write_bytes(exchange(REMOTE, PHONE, REQUEST, RESPONSE))
    [resp] = [m for m in messages(path, False) if isinstance(m, HttpResponse)]
    assert resp.body == BODY and not resp.body_truncated


DESCRIPTION = (
    '<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
    f"<friendlyName>Living room camera</friendlyName><serialNumber>{IMEI}</serialNumber>"
    "</device></root>"
).encode()
UPNP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nServer: Linux UPnP/1.0 cam/2.1\r\n"
    + f"X-Device-Id: {IMEI}\r\nContent-Length: {len(DESCRIPTION)}\r\n\r\n".encode()
    + DESCRIPTION
)


def _scan(path: Path, tmp_path: Path) -> list[dict[str, object]]:
    import json

    from click.testing import CliRunner

    from phonehome.cli import main

    profile = tmp_path / "device.toml"
    profile.write_text(f'name = "cam"\nimei = "{IMEI}"\n')
    result = CliRunner().invoke(
        main, ["scan", "--no-store", "--format", "json", "--device", str(profile), str(path)],
        env={"PHONEHOME_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    findings: list[dict[str, object]] = json.loads(result.output)["findings"]
    return findings


def test_what_a_device_serving_http_sends_is_searched(tmp_path: Path) -> None:
    """A camera (the local end, so the device) answers a description request from
    outside: its serial number in the body and a header went to the asking client."""
    path = tmp_path / "camera.pcap"
    request = b"GET /description.xml HTTP/1.1\r\nHost: 192.168.1.10\r\n\r\n"
    path.write_bytes(exchange(REMOTE, PHONE, request, UPNP_RESPONSE))
    found = {(f["where"], f["host"]) for f in _scan(path, tmp_path)}
    assert found == {
        ("http.response.header:X-Device-Id", "93.184.216.34"),
        ("http.response.body:/root/device/serialNumber", "93.184.216.34"),
    }


def test_what_the_phone_receives_is_not_searched(tmp_path: Path) -> None:
    path = tmp_path / "phone.pcap"
    request = b"GET /description.xml HTTP/1.1\r\nHost: cam.example\r\n\r\n"
    path.write_bytes(exchange(PHONE, REMOTE, request, UPNP_RESPONSE))
    assert _scan(path, tmp_path) == []
