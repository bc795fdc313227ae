"""One fuzz target per parser entry point: bytes in, and only the documented refusal out.

Every target takes the fuzzer's bytes and drives one entry point the way phonehome does
(readers are iterated to the end, stream parsers are fed in pieces and finished). The
project's rule is that stages never raise on bad data, so the only exceptions a target
lets through silently are the ones its entry point documents (``InputError`` for a file
that is not a capture, ``DnsError``/``TlsError``/``DexError`` where a caller catches
them); anything else is a finding and libFuzzer saves the input.

Targets are plain functions so that ``tests/test_fuzz_regressions.py`` replays every
saved crash and the seed corpus without atheris.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from phonehome.context import Context
from phonehome.decrypt.wpa import WifiKeys
from phonehome.errors import InputError

if TYPE_CHECKING:
    from phonehome.decrypt.keylog import KeyLog
    from phonehome.detect import Engine
    from phonehome.protocols.base import Parsed

_TMP = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


class Target(NamedTuple):
    run: Callable[[bytes], None]
    allowed: tuple[type[BaseException], ...]
    """Exceptions that are the entry point's documented answer to bad input."""
    share: float = 1.0
    """The part of ``run_all --runs`` this target runs: below 1 for a target whose one
    execution costs a hundred of the others' (CI's fuzzing time stays bounded)."""


def _scratch(data: bytes, suffix: str) -> Path:
    """A private file holding ``data`` (entry points that take a path)."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=_TMP)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


def _pieces(data: bytes) -> list[bytes]:
    """Split a stream where the fuzzer says: byte 0 is the piece size (1-256)."""
    if not data:
        return []
    size = data[0] + 1
    body = data[1:]
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


# --- capture readers ---------------------------------------------------------------------


def pcap(data: bytes) -> None:
    from phonehome.ingest import pcap as reader

    for _ in reader.read(io.BytesIO(data), 0, Context(), "fuzz.pcap"):
        pass


def pcapng(data: bytes) -> None:
    from phonehome.ingest import pcapng as reader

    for _ in reader.read(io.BytesIO(data), 0, Context(), "fuzz.pcapng"):
        pass


_LINKTYPES = (1, 101, 113, 276, 0, 228, 229, 127, 105)
"""Ethernet, raw IP, Linux SLL, SLL2, BSD null, raw IPv4, raw IPv6, 802.11 with radiotap,
bare 802.11 (appended last: the seeds' first byte keeps naming the same link type)."""


def netstack(data: bytes) -> None:
    """Frames of a link type through the whole packet path (link, IP, TCP reassembly,
    flow table, every protocol parser), then extraction and detection of what the
    device sent: the scan's loop. Byte 0 picks the link type; then 2-byte lengths."""
    from phonehome.ingest import open_capture
    from phonehome.pipeline import iter_messages
    from phonehome.protocols.registry import message_fields as fields

    if not data:
        return
    linktype = _LINKTYPES[data[0] % len(_LINKTYPES)]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    pos, ts = 1, 1_700_000_000
    while pos + 2 <= len(data):
        (n,) = struct.unpack_from(">H", data, pos)
        frame = data[pos + 2 : pos + 2 + n]
        pos += 2 + n
        ts += 1
        out.append(struct.pack("<IIII", ts, 0, len(frame), len(frame)) + frame)
    path = _scratch(b"".join(out), ".pcap")
    try:
        ctx = Context()
        # the WPA seed's network (handshakes, CCMP), and a passphrase whose SSID beacons
        # tell (the management frame path)
        ctx.wifi = WifiKeys(_wifi_pmk(), passphrases=[b"correct horse battery"])
        engine = _engine()
        for msg in iter_messages([open_capture(str(path))], ctx):
            if msg.direction == "out":
                for f in fields(msg, ctx.anomalies):
                    engine.scan(f)
    finally:
        path.unlink()


_WIFI_PMK: list[bytes] = []


def _wifi_pmk() -> list[bytes]:
    """The key of the WPA seed's network (tests/builders_wifi.py), derived once: 4,096
    PBKDF2 rounds per run would be most of a small input's time."""
    if not _WIFI_PMK:
        from phonehome.decrypt.wpa import pmk_of

        _WIFI_PMK.append(pmk_of("correct horse battery:HomeNet"))
    return _WIFI_PMK


CARRIERS: tuple[tuple[str, int], ...] = (
    ("udp", 2152),  # GTP-U
    ("udp", 4789),  # VXLAN
    ("udp", 6081),  # Geneve
    ("udp", 5247),  # CAPWAP data
    ("udp", 3544),  # Teredo
    ("ip", 47),  # GRE (PPTP, ERSPAN)
    ("ip", 4),  # IPv4 in IP
    ("ip", 41),  # IPv6 in IP
    ("eth", 0x8847),  # MPLS
    ("eth", 0x8864),  # PPPoE session
)
"""What a tunnel body rides in: a UDP port, an IP protocol or an EtherType."""
_A4, _B4 = bytes([10, 20, 0, 2]), bytes([10, 20, 0, 1])
_A6, _B6 = bytes(15) + b"\x02", bytes(15) + b"\x01"
_MAC_A, _MAC_B = bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000b2")


def tunnel_frame(carrier: int, ipv6: bool, reverse: bool, body: bytes) -> bytes:
    """An Ethernet frame carrying ``body`` as the payload of carrier ``carrier`` (index
    into the carriers), outer IPv4 or IPv6, in one direction or the other; every outer
    length is right, so what varies is the tunnel header and what it carries."""
    kind, value = CARRIERS[carrier]
    smac, dmac = (_MAC_B, _MAC_A) if reverse else (_MAC_A, _MAC_B)
    if kind == "eth":
        return dmac + smac + struct.pack(">H", value) + body
    if kind == "udp":
        ports = (value, 40000) if reverse else (40000, value)
        if value == 2152:
            ports = (value, value)
        body = struct.pack(">HHHH", *ports, 8 + len(body), 0) + body
        proto = 17
    else:
        proto = value
    if ipv6:
        src, dst = (_B6, _A6) if reverse else (_A6, _B6)
        ip = struct.pack(">IHBB", 0x60000000, len(body), proto, 64) + src + dst
        return dmac + smac + b"\x86\xdd" + ip + body
    src, dst = (_B4, _A4) if reverse else (_A4, _B4)
    ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0) + src + dst
    return dmac + smac + b"\x08\x00" + ip + body


def tunnel_capture(data: bytes) -> bytes:
    """The classic pcap the ``tunnel`` target reads: byte 0 picks the carrier and the
    outer IP version; then 2-byte lengths whose top bit is the direction, each body
    wrapped by :func:`tunnel_frame`."""
    carrier = data[0] % len(CARRIERS)
    ipv6 = bool(data[0] // len(CARRIERS) & 1)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    pos, ts = 1, 1_700_000_000
    while pos + 2 <= len(data):
        (n,) = struct.unpack_from(">H", data, pos)
        body = data[pos + 2 : pos + 2 + (n & 0x7FFF)]
        pos += 2 + (n & 0x7FFF)
        ts += 1
        frame = tunnel_frame(carrier, ipv6, bool(n & 0x8000), body)
        out.append(struct.pack("<IIII", ts, 0, len(frame), len(frame)) + frame)
    return b"".join(out)


def tunnel(data: bytes) -> None:
    """Tunnel bodies through the packet path: decapsulation (nested too), the flow
    table's keys per tunnel stack and their reverse binding, then the messages as
    ``flows --format jsonl`` prints them (with their tunnel); the input is read as
    :func:`tunnel_capture` says.

    Differential as well: the capture is read with the flow table's done filter (which
    reads GTP-U G-PDUs itself) and without it, and the two readings must be the same
    messages, anomalies and counters; a difference is raised as a finding."""
    from phonehome.flowlist import to_json
    from phonehome.ingest import open_capture
    from phonehome.net.contracts import Session
    from phonehome.net.flows import Flow, FlowTable
    from phonehome.pipeline import iter_messages

    if not data:
        return
    path = _scratch(tunnel_capture(data), ".pcap")

    def read(filtered: bool) -> tuple[list[str], dict[str, int], object]:
        def table(ctx: Context, factory: Callable[[Flow], Session]) -> FlowTable:
            return FlowTable(ctx, factory, use_done_filter=filtered)

        ctx = Context()
        lines = [
            to_json(m) for m in iter_messages([open_capture(str(path))], ctx, table_factory=table)
        ]
        return lines, dict(ctx.anomalies.counts), ctx.stats

    try:
        with_filter = read(True)
        without = read(False)
    finally:
        path.unlink()
    if with_filter != without:
        raise AssertionError(f"done filter changed the reading: {with_filter} != {without}")


_ENGINE: list[Engine] = []


def _engine() -> Engine:
    """One engine for every run (building its matcher per input would be most of the
    time); a profile, so the known-value detector runs too."""
    from phonehome.detect import Engine
    from phonehome.model.profile import DeviceProfile

    if not _ENGINE:
        profile = DeviceProfile(
            values={"imei": ("359123456789012",), "mac": ("a4:77:33:12:34:56",)}
        )
        _ENGINE.append(Engine(profile))
    return _ENGINE[0]


def har(data: bytes) -> None:
    from phonehome.ingest import har as reader

    for _ in reader.read(io.BytesIO(data), 0, Context(), "fuzz.har"):
        pass


def mitm(data: bytes) -> None:
    from phonehome.ingest import mitm as reader

    for _ in reader.read(io.BytesIO(data), 0, Context(), "fuzz.mitm"):
        pass


def gz(data: bytes) -> None:
    """Any input through the registry: gzip undone (bounded), format sniffed, read."""
    from phonehome.ingest import open_capture

    path = _scratch(data, ".in")
    try:
        cap = open_capture(str(path))
        ctx = Context()
        if cap.format.kind == "frames":
            for _ in cap.frames(ctx):
                pass
        else:
            for _ in cap.messages(ctx):
                pass
        cap.close()
    finally:
        path.unlink()


# --- protocol parsers --------------------------------------------------------------------


def http(data: bytes) -> None:
    """One direction of an HTTP/1.x connection, fed in pieces (bit 0 of byte 0: side)."""
    from phonehome.protocols.http import HttpStreamParser

    if not data:
        return
    parser = HttpStreamParser(bool(data[0] & 1), Context(), 0)
    if not parser.is_request:
        parser.expect("GET")
        parser.expect("HEAD")
    for i, piece in enumerate(_pieces(data[1:])):
        parser.feed(piece, float(i), i + 1)
        if parser.stopped or parser.tunnel:
            parser.take_rest()
            break
    parser.finish()


def dns(data: bytes) -> None:
    from phonehome.protocols import dns as parser

    parser.parse_lenient(data)
    parser.parse_if_dns(data)
    parser.split_tcp(data)
    parser.parse(data)  # DnsError allowed: the strict parser's documented answer


def tls(data: bytes) -> None:
    from phonehome.protocols import tls as parser

    parser.looks_like_client_hello(data)
    parser.parse_client_hello_records(data)
    parser.parse_client_hello(data)  # TlsError allowed


def quic(data: bytes) -> None:
    """Client datagrams of one flow (2-byte lengths) through the Initial tracker, and
    the CRYPTO frame parser on the bytes as if decrypted."""
    from phonehome.protocols.quic import QuicInitialTracker, crypto_frames, looks_like_quic_initial

    crypto_frames(data)
    tracker = QuicInitialTracker()
    pos = 0
    while pos + 2 <= len(data) and not tracker.done:
        (n,) = struct.unpack_from(">H", data, pos)
        datagram = data[pos + 2 : pos + 2 + n]
        pos += 2 + n
        looks_like_quic_initial(datagram)
        tracker.feed(datagram)


def mqtt(data: bytes) -> None:
    from phonehome.protocols.mqtt import MqttStreamParser

    parser = MqttStreamParser(Context(), 0)
    for i, piece in enumerate(_pieces(data)):
        parser.feed(piece, float(i), i + 1)
        if parser.stopped:
            break


def _mobile(data: bytes, server_port: int, tcp: bool) -> list[Parsed]:
    """Datagrams (2-byte lengths) or stream pieces through a session on the protocol's
    port, then what a scan asks of every message: host, ``flows`` columns and summary,
    fields and the detectors. Byte 0's low bit: the client or the server side."""
    from phonehome.model import Endpoint, FlowKey, Message
    from phonehome.protocols.registry import message_fields, protocol_of
    from phonehome.protocols.tcp import TcpSession
    from phonehome.protocols.udp import UdpSession

    if not data:
        return []
    ctx = Context()
    from_client = not data[0] & 1
    out: list[Parsed] = []
    if tcp:
        stream = TcpSession(ctx, 0, server_port)
        for i, piece in enumerate(_pieces(data[1:])):
            out += stream.data(from_client, piece, float(i), i + 1)
        out += stream.close()
    else:
        session = UdpSession(ctx, 0, 40000, server_port)
        pos, i = 1, 0
        while pos + 2 <= len(data):
            (n,) = struct.unpack_from(">H", data, pos)
            i += 1
            out += session.data(from_client, data[pos + 2 : pos + 2 + n], float(i), i)
            pos += 2 + n
        out += session.close()
    device, server = Endpoint("10.0.0.1", 40000), Endpoint("10.0.0.2", server_port)
    flow = FlowKey("tcp" if tcp else "udp", device, server)
    engine = _engine()
    for p in out:
        protocol = protocol_of(p.content)
        protocol.host(p.content)
        protocol.columns(p.content)
        protocol.summary(p.content)
        name = protocol.message_name(p.content, flow.transport)
        msg = Message(
            p.time, 0, p.frame, 1, flow, device, server, "out", name, "cleartext", p.content
        )
        for f in message_fields(msg, ctx.anomalies):
            engine.scan(f)
    return out


_ROUTES: dict[str, tuple[int, bool]] = {
    "sip_udp": (5060, False),
    "sip_tcp": (5060, True),
    "diameter": (3868, True),
    "gtpv2": (2123, False),
    "gtpv1": (2123, False),  # shares the port with v2; the version bits choose the parser
    "radius": (1812, False),  # and the EAP it carries (EAP-Message, EAP-SIM/AKA)
    "ike": (500, False),
    "smtp": (25, True),
}
"""Server port and transport (TCP?) of each mobile-protocol target."""


def mobile(name: str, data: bytes) -> list[Parsed]:
    """What target ``name`` parsed from ``data`` (IKE: on 4500 behind the non-ESP marker,
    ESP otherwise, when bit 1 of byte 0 is set)."""
    port, tcp = _ROUTES[name]
    if name == "ike" and data[:1] and data[0] & 2:
        port = 4500
    return _mobile(data, port, tcp)


def sip_udp(data: bytes) -> None:
    mobile("sip_udp", data)


def sip_tcp(data: bytes) -> None:
    mobile("sip_tcp", data)


def diameter(data: bytes) -> None:
    mobile("diameter", data)


def gtpv2(data: bytes) -> None:
    mobile("gtpv2", data)


def gtpv1(data: bytes) -> None:
    mobile("gtpv1", data)


def radius(data: bytes) -> None:
    mobile("radius", data)


def ike(data: bytes) -> None:
    mobile("ike", data)


def smtp(data: bytes) -> None:
    mobile("smtp", data)


def eap(data: bytes) -> None:
    """An EAP packet as any carrier hands it over, and its identity fields; the same
    bytes as an EAPOL PDU (802.1X on the link) and its message's fields."""
    from phonehome.extract.engine import Budget
    from phonehome.model.anomaly import Anomalies
    from phonehome.protocols import eapol
    from phonehome.protocols.eap import identity_fields, parse
    from phonehome.protocols.registry import message_fields

    packet, _ = parse(data)
    if packet is not None:
        list(identity_fields(Budget(None, 0, 1), "eap", "EAP-Message", packet))
    msg = eapol.message(data, 1.0, 0, 1, b"\x02" * 6, None, Anomalies())
    if msg is not None:
        list(message_fields(msg))


def threegpp(data: bytes) -> None:
    """The 3GPP encodings: TBCD, PLMN, ULI (GTPv1/v2) and P-Access-Network-Info."""
    from phonehome.protocols import threegpp as enc

    enc.tbcd(data)
    enc.plmn(data)
    enc.uli_v2(data)
    enc.uli_v1(data)
    text = data.decode("latin-1")
    access, _, rest = text.partition(";")
    params = dict(p.partition("=")[::2] for p in rest.split(";"))
    enc.pani_locations(access.strip(), params)


# --- what is inside messages ---------------------------------------------------------------

_CONTENT_TYPES = (
    "text/plain",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/octet-stream",
    "application/x-protobuf",
)
_CODINGS = ((), ("gzip",), ("deflate",), ("br",), ("gzip", "br"), ("identity",))


def decoders(data: bytes) -> None:
    """A request body (byte 0: content type and coding) through Content-Encoding, every
    structure and decoder of the extractor, and the detectors."""
    from phonehome.model import Endpoint, FlowKey, HttpRequest, Message
    from phonehome.protocols.bodies import decode_body
    from phonehome.protocols.registry import message_fields as fields

    if not data:
        return
    ctype = _CONTENT_TYPES[data[0] % len(_CONTENT_TYPES)]
    codings = list(_CODINGS[(data[0] >> 4) % len(_CODINGS)])
    body, removed, truncated = decode_body(data[1:], codings, max_size=1 << 20)
    client, server = Endpoint("10.0.0.2", 40000), Endpoint("93.184.216.34", 80)
    request = HttpRequest(
        "POST",
        "/c?" + data[1:64].decode("latin-1"),
        "HTTP/1.1",
        (("Host", "t.example"), ("Content-Type", ctype), ("Cookie", "id=" + body[:32].hex())),
        body,
        truncated,
        removed,
    )
    flow = FlowKey("tcp", client, server)
    msg = Message(
        0.0, 0, 1, 1, flow, client, server, "out", "http", "cleartext", request, host="t.example"
    )
    ctx = Context()
    engine = _engine()
    for f in fields(msg, ctx.anomalies):
        engine.scan(f)


# --- static analysis -----------------------------------------------------------------------


def axml(data: bytes) -> None:
    from phonehome.static.manifest import parse_manifest

    parse_manifest(data).to_dict()


def _apk_with(name: str, data: bytes) -> None:
    from phonehome.static.apk import analyze_apk

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name, data)
    path = _scratch(buf.getvalue(), ".apk")
    try:
        analyze_apk(path).to_dict()
    finally:
        path.unlink()


def dex(data: bytes) -> None:
    """A DEX file as the APK analysis reads it (classes, call graph, strings)."""
    _apk_with("classes.dex", data)


def zip_(data: bytes) -> None:
    """Any bytes as an APK: the guarded zip reader, then whatever the entries hold."""
    from phonehome.static.apk import analyze_apk
    from phonehome.static.zipsafe import open_zip

    path = _scratch(data, ".apk")
    try:
        opened = open_zip(path)
        if not isinstance(opened, str):
            for name in opened.names()[:64]:
                opened.read(name, limit=1 << 20)
            opened.close()
        analyze_apk(path).to_dict()
    finally:
        path.unlink()


def apksig(data: bytes) -> None:
    """Any bytes as a signed APK: v1 (the JAR entries through zipfile), the signing block
    before the central directory (v2/v3/v3.1, lineage) and the platform policy, for an old
    and a new minSdk; the report as the CLI writes it."""
    from phonehome.static.verify import signing_report

    path = _scratch(data, ".apk")
    try:
        json.dumps(signing_report(path, None))
        json.dumps(signing_report(path, 28, 30))
    finally:
        path.unlink()


# --- decryption and what it hands on (issue 11) ------------------------------------------

_TLS_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "tls"
KEYED_CAPTURES = ("tls13-aes128gcm-h2", "tls12-cbc-sha384-mte-http11", "h3-aes128gcm")
"""Real-stack captures (tests/data/tls) whose keys every decryption target holds, so a
mutated seed keeps its client random and reaches the record and packet layers."""
_KEYLOG_TEXT: list[bytes] = []


def _keylog() -> KeyLog:
    from phonehome.decrypt.keylog import SOURCE_FILE, KeyLog

    if not _KEYLOG_TEXT:
        _KEYLOG_TEXT.extend((_TLS_DATA / f"{n}.keys").read_bytes() for n in KEYED_CAPTURES)
    keylog = KeyLog()
    for text in _KEYLOG_TEXT:
        keylog.add_text(text, SOURCE_FILE, "fuzz")
    return keylog


def chunks(data: bytes) -> list[tuple[bool, bytes]]:
    """A two-sided stream: records of [side (bit 0: client)] [2-byte length] [bytes]."""
    out: list[tuple[bool, bytes]] = []
    pos = 0
    while pos + 3 <= len(data):
        (n,) = struct.unpack_from(">H", data, pos + 1)
        out.append((bool(data[pos] & 1), data[pos + 3 : pos + 3 + n]))
        pos += 3 + n
    return out


def join_chunks(pieces: list[tuple[bool, bytes]]) -> bytes:
    """The inverse of :func:`chunks` (seed corpus)."""
    return b"".join(
        bytes((int(c),)) + struct.pack(">H", len(d)) + d for c, d in pieces if len(d) < 65536
    )


def keylog(data: bytes) -> None:
    """Any bytes as a key log file (``--keylog``) and as a DSB's payload."""
    from phonehome.decrypt.keylog import SOURCE_DSB, KeyLog
    from phonehome.model.anomaly import Anomalies

    log = KeyLog(Anomalies(), max_entries=64)
    log.add_text(data, SOURCE_DSB, "DSB 0")
    for line in data.splitlines()[:8]:
        parts = line.split()
        if len(parts) > 1 and len(parts[1]) == 64:
            with contextlib.suppress(ValueError):
                log.lookup(bytes.fromhex(parts[1].decode("ascii", "replace")))


def tls_decrypt(data: bytes) -> None:
    """Both directions of a TLS connection (:func:`chunks`) through the record layer with
    the keys of the real captures, the plaintext into the HTTP/2 parser."""
    from phonehome.decrypt.tls import TlsDecryptor
    from phonehome.protocols.http2 import Http2Connection

    dec = TlsDecryptor(_keylog())
    h2 = Http2Connection(Context(), 0)
    for i, (client, piece) in enumerate(chunks(data)):
        for p in dec.data(client, piece, float(i), i + 1):
            h2.data(p.from_client, p.data, p.time, p.frame)
    dec.close()
    dec.take_problems()
    h2.close()


def quic_decrypt(data: bytes) -> None:
    """Datagrams of a QUIC flow (:func:`chunks`) through packet protection, frames and
    stream reassembly with the keys of the real captures, the streams into HTTP/3."""
    from phonehome.decrypt.quic import QuicDecryptor
    from phonehome.protocols.http3 import Http3Connection

    dec = QuicDecryptor(_keylog())
    h3 = Http3Connection(Context(), 0)
    for i, (client, datagram) in enumerate(chunks(data)):
        for p in dec.datagram(client, datagram, float(i), i + 1):
            h3.stream_data(p.from_client, p.stream_id, p.data, p.fin, p.time, p.frame, p.reset)
    dec.close()
    dec.take_problems()
    h3.close()


def http2(data: bytes) -> None:
    """Decrypted (or h2c) HTTP/2 plaintext of both sides (:func:`chunks`): frames, HPACK
    with its dynamic table, bodies."""
    from phonehome.protocols.http2 import Http2Connection

    h2 = Http2Connection(Context(), 0)
    for i, (client, piece) in enumerate(chunks(data)):
        h2.data(client, piece, float(i), i + 1)
    h2.close()


def hpack(data: bytes) -> None:
    """Header blocks ([1-byte length - 1] [block]) through one HPACK decoder, its dynamic
    table carried from block to block as on a connection."""
    from phonehome.protocols.hpack_decoder import HpackDecoder, HpackError

    decoder = HpackDecoder()
    pos = 0
    while pos < len(data):
        n = data[pos] + 1
        block = data[pos + 1 : pos + 1 + n]
        pos += 1 + n
        with contextlib.suppress(HpackError):  # the decoder's documented refusal
            decoder.decode(block)


def http3(data: bytes) -> None:
    """HTTP/3 stream data: records of [side and fin bits] [stream id] [2-byte length]
    [bytes] (control, QPACK encoder/decoder and request streams), QPACK through
    pylsqpack."""
    from phonehome.protocols.http3 import Http3Connection

    h3 = Http3Connection(Context(), 0)
    pos = 0
    i = 0
    while pos + 4 <= len(data):
        flags, stream_id = data[pos], data[pos + 1]
        (n,) = struct.unpack_from(">H", data, pos + 2)
        piece = data[pos + 4 : pos + 4 + n]
        pos += 4 + n
        i += 1
        h3.stream_data(bool(flags & 1), stream_id, piece, bool(flags & 2), float(i), i, False)
    h3.close()


def quic_frames(data: bytes) -> None:
    """A decrypted QUIC packet payload through the frame walker, its STREAM and CRYPTO
    data through one reassembly per stream."""
    from phonehome.decrypt.quic_frames import Reassembly, walk_frames

    events, _problem = walk_frames(data)
    streams: dict[tuple[str, int], Reassembly] = {}
    for e in events:
        r = streams.setdefault((e.kind, e.stream_id), Reassembly())
        r.add(e.offset, e.data, e.fin, 0.0, 1)


def _allowed(*extra: str) -> tuple[type[BaseException], ...]:
    from phonehome.protocols.dns import DnsError
    from phonehome.protocols.tls import TlsError
    from phonehome.static.dex import DexError

    known: dict[str, type[BaseException]] = {
        "dns": DnsError,
        "tls": TlsError,
        "dex": DexError,
    }
    return (InputError, *(known[e] for e in extra))


def targets() -> dict[str, Target]:
    return {
        "pcap": Target(pcap, _allowed()),
        "pcapng": Target(pcapng, _allowed()),
        "netstack": Target(netstack, _allowed()),
        "tunnel": Target(tunnel, _allowed(), share=0.1),
        "http": Target(http, _allowed()),
        "dns": Target(dns, _allowed("dns")),
        "tls": Target(tls, _allowed("tls")),
        "quic": Target(quic, _allowed()),
        "mqtt": Target(mqtt, _allowed()),
        "sip_udp": Target(sip_udp, _allowed()),
        "sip_tcp": Target(sip_tcp, _allowed()),
        "diameter": Target(diameter, _allowed()),
        "gtpv2": Target(gtpv2, _allowed()),
        "gtpv1": Target(gtpv1, _allowed()),
        "radius": Target(radius, _allowed()),
        "ike": Target(ike, _allowed()),
        "smtp": Target(smtp, _allowed()),
        "eap": Target(eap, _allowed()),
        "threegpp": Target(threegpp, _allowed()),
        "har": Target(har, _allowed()),
        "mitm": Target(mitm, _allowed()),
        "gz": Target(gz, _allowed()),
        "decoders": Target(decoders, _allowed()),
        "axml": Target(axml, _allowed()),
        "dex": Target(dex, _allowed()),
        "zip": Target(zip_, _allowed()),
        "apksig": Target(apksig, _allowed(), share=0.15),
        "keylog": Target(keylog, _allowed()),
        "tls_decrypt": Target(tls_decrypt, _allowed()),
        "quic_decrypt": Target(quic_decrypt, _allowed()),
        "http2": Target(http2, _allowed()),
        "hpack": Target(hpack, _allowed()),
        "http3": Target(http3, _allowed()),
        "quic_frames": Target(quic_frames, _allowed()),
    }


def check(name: str, data: bytes) -> None:
    """Run one input; raise what the target does not allow (what a fuzzer reports)."""
    target = targets()[name]
    with contextlib.suppress(target.allowed):
        target.run(data)
