"""Every decrypted test capture against tshark with the same key log: the same HTTP/1.1
requests and responses (frame, method, URI, header lines, bodies), the same HTTP/2 header
fields and DATA per direction, and for QUIC the same bytes on every stream (tshark 4.0 does
not decode QPACK, so HTTP/3 is compared on stream bytes and DATA frames)."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome.decrypt.quic import QuicDecryptor, StreamPiece
from phonehome.model.message import HttpRequest, HttpResponse
from tests import tshark as wireshark
from tests.builders_tls import DATA, decrypt_capture, flow_chunks, keylog_of
from tests.needs import needs

pytestmark = needs(tools=["tshark"])

AGG = "\x1f"
"""What tshark puts between several values of one field (none of the captures has it)."""

HTTP1 = sorted(p.stem for p in DATA.glob("tls*-http11.pcap"))
HTTP2 = ["tls13-aes128gcm-h2", "tls12-ecdhe-aes128gcm-h2", "h2c-prior-knowledge", "h2c-upgrade"]
HTTP3 = sorted(p.stem for p in DATA.glob("h3-*.pcap"))


def tshark(
    capture: Path, display: str, fields: list[str], decode_as: dict[str, str] | None = None
) -> list[list[str]]:
    """tshark's fields, given the capture's key log when it has one."""
    keys = capture.with_suffix(".keys")
    prefs = {"tls.keylog_file": str(keys)} if keys.exists() else {}
    return wireshark.fields(capture, *fields, display_filter=display, prefs=prefs,
                            decode_as=decode_as, aggregator=AGG)  # fmt: skip


def first_port(capture: Path) -> tuple[str, str]:
    """(client port, server port) from the first packet."""
    (row,) = tshark(capture, "frame.number == 1", ["tcp.srcport", "udp.srcport", "tcp.dstport",
                                                   "udp.dstport"])  # fmt: skip
    return row[0] or row[1], row[2] or row[3]


@pytest.mark.parametrize("name", HTTP1)
def test_http11_over_tls_agrees_with_tshark(name: str) -> None:
    capture = DATA / f"{name}.pcap"
    ours = decrypt_capture(capture, [capture.with_suffix(".keys")])
    theirs = tshark(capture, "http.request", ["frame.number", "http.request.method",
                                              "http.request.uri", "http.request.line",
                                              "http.file_data"])  # fmt: skip
    requests = [(p.frame, p.content) for p in ours.messages if isinstance(p.content, HttpRequest)]
    assert len(requests) == len(theirs) > 0
    for (frame, request), (t_frame, method, uri, lines, body) in zip(requests, theirs, strict=True):
        assert (frame, request.method, request.target) == (int(t_frame), method, uri)
        assert [f"{k}: {v}" for k, v in request.headers] == [
            x.removesuffix("\\r\\n")
            for x in lines.split(AGG)  # tshark shows CRLF escaped
        ]
        assert request.body.decode() == body
    responses = [p.content for p in ours.messages if isinstance(p.content, HttpResponse)]
    theirs = tshark(capture, "http.response", ["http.response.code", "http.file_data"])
    assert [(r.status, r.body.decode()) for r in responses] == [(int(c), b) for c, b in theirs]


def h2_fields(
    capture: Path,
) -> tuple[dict[str, list[tuple[str, str]]], dict[tuple[str, str], bytes]]:
    """tshark's HTTP/2 view: header fields per sending port, in order, and DATA bytes per
    (sending port, stream)."""
    client, server = first_port(capture)
    extra = {f"tcp.port=={server}": "http2"} if "prior" in capture.name else None
    headers: dict[str, list[tuple[str, str]]] = {client: [], server: []}
    fields = ["tcp.srcport", "http2.header.name", "http2.header.value"]
    for port, names, values in tshark(capture, "http2.type == 1", fields, extra):
        headers[port] += list(zip(names.split(AGG), values.split(AGG), strict=True))
    data: dict[tuple[str, str], bytes] = {}
    for port, streams, types, payloads in tshark(capture, "http2.type == 0", ["tcp.srcport",
                                                 "http2.streamid", "http2.type",
                                                 "http2.data.data"], extra):  # fmt: skip
        chunks = iter(payloads.split(AGG))
        for stream, ftype in zip(streams.split(AGG), types.split(AGG), strict=True):
            if ftype == "0":
                key = (port, stream)
                data[key] = data.get(key, b"") + bytes.fromhex(next(chunks).replace(":", ""))
    return headers, data


@pytest.mark.parametrize("name", HTTP2)
def test_http2_agrees_with_tshark(name: str) -> None:
    capture = DATA / f"{name}.pcap"
    keys = capture.with_suffix(".keys")
    ours = decrypt_capture(capture, [keys] if keys.exists() else [])
    headers, data = h2_fields(capture)
    client, server = first_port(capture)
    for port, from_client in ((client, True), (server, False)):
        mine = [m for c, m in ours.http() if c == from_client and m.version == "HTTP/2"]
        assert [h for m in mine for h in m.headers] == headers[port]
        bodies = [body for (p, _), body in sorted(data.items(), key=lambda kv: int(kv[0][1]))
                  if p == port]  # fmt: skip
        # tshark undoes content-encoding as we do (http2.decompress_body).
        assert [m.body for m in mine if m.body] == bodies
        assert any(m.encodings == ("gzip",) for m in mine) == ("h2c" in name and not from_client)


def quic_streams(name: str) -> dict[tuple[bool, int], bytes]:
    dec = QuicDecryptor(keylog_of(DATA / f"{name}.keys"))
    (chunks,) = flow_chunks(DATA / f"{name}.pcap")
    pieces: list[StreamPiece] = []
    for c, d, t, f in chunks:
        pieces += dec.datagram(c, d, t, f)
    pieces += dec.close()
    out: dict[tuple[bool, int], bytes] = {}
    for p in pieces:
        out[(p.from_client, p.stream_id)] = out.get((p.from_client, p.stream_id), b"") + p.data
    return out


@pytest.mark.parametrize("name", HTTP3)
def test_quic_stream_bytes_agree_with_tshark(name: str) -> None:
    capture = DATA / f"{name}.pcap"
    client, _ = first_port(capture)
    theirs: dict[tuple[bool, int], bytes] = {}
    fields = ["udp.srcport", "quic.stream.stream_id", "quic.stream_data"]
    for port, streams, payloads in tshark(capture, "quic.stream_data", fields):
        for stream, payload in zip(streams.split(AGG), payloads.split(AGG), strict=True):
            key = (port == client, int(stream))
            theirs[key] = theirs.get(key, b"") + bytes.fromhex(payload.replace(":", ""))
    assert quic_streams(name) == theirs
    # And the HTTP/3 DATA frames tshark finds are the bodies we read.
    ours = decrypt_capture(capture, [capture.with_suffix(".keys")])
    bodies = []
    for types, payloads in tshark(
        capture, "http3.frame_type == 0", ["http3.frame_type", "http3.frame_payload"]
    ):
        for t, p in zip(types.split(AGG), payloads.split(AGG), strict=True):
            if t == "0":
                bodies.append(bytes.fromhex(p))
    bodies.sort()
    assert sorted(m.body for _, m in ours.http()) == bodies
