"""Build the committed seed corpus ``fuzz/corpus/<target>/`` from the real fixtures and
the simulator's own builders (small files only: at most :data:`MAX_SEED` bytes each).

    python fuzz/build_corpus.py          # rewrites fuzz/corpus/

Seeds give the fuzzer valid structure to mutate from: a real pcap, a real HAR, a
ClientHello with extensions, an encrypted QUIC Initial it could never guess. Each file
is named by the SHA-1 of its content, as libFuzzer names what it adds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from phonehome.simulate import appproto, quic_build, tls_build  # noqa: E402
from phonehome.simulate import mobile_build as mb  # noqa: E402
from phonehome.simulate.nokia7plus import DEVICE_MAC  # noqa: E402
from phonehome.simulate.packets import Host, TcpConnection, udp_frame  # noqa: E402
from phonehome.simulate.tunnels import KINDS  # noqa: E402
from tests.builders_capture import (  # noqa: E402
    custom_block,
    dsb,
    epb,
    ethernet,
    idb,
    ipv4_udp,
    nrb,
    pcap_file,
    pcapdroid_trailer_frame,
    pcapdroid_uid_map,
    shb,
    spb,
)

MAX_SEED = 64 << 10
FIXTURES = REPO / "tests" / "shared" / "fixtures"
APKS = REPO / "tests" / "apks" / "built"
IMEI = "359123456789012"
DEVICE = Host(b"\x02\x00\x00\x00\x00\x01", bytes([10, 0, 0, 2]))
SERVER = Host(b"\x04\x00\x00\x00\x00\x01", bytes([93, 184, 216, 34]))


class _Frames:
    """A frame sink collecting (time, frame) for pcap and netstack seeds."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []

    def emit(self, ts_us: int, frame: bytes) -> int:
        self.frames.append((ts_us, frame))
        return len(self.frames)


def _conversation(request: bytes, response: bytes, port: int = 80) -> list[tuple[int, bytes]]:
    sink = _Frames()
    conn = TcpConnection(sink, DEVICE, 40000, SERVER, port, 1_700_000_000_000_000)
    conn.open()
    conn.send(request)
    conn.send(response, from_client=False)
    conn.close()
    return sink.frames


def _client_hello(sni: str = "t.example.com") -> bytes:
    return tls_build.tls_records(tls_build.client_hello(sni))


def _quic_datagrams() -> list[bytes]:
    hello = tls_build.client_hello("q.example.com", ("h3",))
    return quic_build.client_initial_datagrams(hello, b"\x01" * 8, b"\x02" * 8, packets=2)


def _http_post() -> bytes:
    body = json.dumps({"imei": IMEI, "data": "eyJpbWVpIjoiMzU5MTIzNDU2Nzg5MDEyIn0="}).encode()
    return appproto.http_request(
        "POST", f"/r?imei={IMEI}&mac=a4%3A77%3A33%3A12%3A34%3A56", "t.example.com",
        [("Content-Type", "application/json"), ("Cookie", f"id={IMEI}")], body,
    )  # fmt: skip


def _conversations() -> list[list[tuple[int, bytes]]]:
    mqtt = appproto.mqtt_connect(f"dev-{IMEI}", username="u") + appproto.mqtt_publish(
        f"dev/{IMEI}/loc", b'{"lat": 59.91, "lon": 10.75}'
    )
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + appproto.chunked(
        b"x" * 100
    )
    dns = udp_frame(DEVICE, SERVER, 40001, 53, appproto.dns_query(7, f"{IMEI}.t.example"))
    quic = [udp_frame(DEVICE, SERVER, 40002, 443, d) for d in _quic_datagrams()]
    return [
        _conversation(_http_post(), chunked),
        _conversation(_client_hello(), b"\x16\x03\x03\x00\x04\x02\x00\x00\x00", 443),
        _conversation(mqtt, appproto.mqtt_connack(), 1883),
        [(1, dns)] + [(2 + i, q) for i, q in enumerate(quic)],
    ]


def _pcap(frames: list[tuple[int, bytes]]) -> bytes:
    return pcap_file([(t // 1_000_000, t % 1_000_000, f) for t, f in frames])


def _netstack(frames: list[tuple[int, bytes]], linktype_index: int = 0) -> bytes:
    return bytes([linktype_index]) + b"".join(struct.pack(">H", len(f)) + f for _, f in frames)


def _wifi_netstack() -> bytes:
    """Monitor-mode frames (radiotap, link type index 7 of the netstack target): a QoS
    data frame to the AP carrying a DNS query, one carrying an EAP identity in EAPOL, a
    protected one; each radiotap header with TSFT and Flags (FCS present)."""
    phone, ap, gw = bytes.fromhex("2039565c7a13"), bytes.fromhex("7483c2102030"), b"\xc8" * 6
    radiotap = struct.pack("<BBHI", 0, 0, 24, 0x7) + struct.pack("<QBB", 1, 0x10, 12) + bytes(6)
    dns = appproto.dns_query(7, "phone.example.com")
    udp = struct.pack("!HHHH", 53000, 53, 8 + len(dns), 0) + dns
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(dns), 1, 0x4000, 64, 17, 0,
                     bytes([192, 168, 1, 23]), bytes([192, 168, 1, 1]))  # fmt: skip
    nai = f"0{IMSI}@wlan.mnc001.mcc242.3gppnetwork.org".encode()
    eap = struct.pack("!BBHB", 2, 1, 5 + len(nai), 1) + nai
    eapol = struct.pack("!BBH", 2, 0, len(eap)) + eap
    snap = b"\xaa\xaa\x03\x00\x00\x00"
    frames = []
    for fc1, body in ((0x01, snap + b"\x08\x00" + ip + udp), (0x01, snap + b"\x88\x8e" + eapol),
                      (0x41, bytes(40))):  # fmt: skip
        head = bytes([0x88, fc1, 0, 0]) + ap + phone + (gw if body[6:8] != b"\x88\x8e" else ap)
        frames.append(radiotap + head + b"\x10\x00\x00\x00" + body + b"\xde\xad\xbe\xef")
    return bytes([7]) + b"".join(struct.pack(">H", len(f)) + f for f in frames)


def _wpa_netstack() -> bytes:
    """A WPA2 network on the air (radiotap, link type index 7): the AP's beacon, a
    station's 4-way handshake, then CCMP-protected frames (a DNS query, an mDNS one under
    the group key), keyed by the passphrase the netstack target is given."""
    from tests.builders_wifi import Network

    net = Network()
    net.beacon()
    net.handshake()
    phone = Host(bytes.fromhex("2039565c7a13"), bytes([192, 168, 1, 23]))
    router = Host(bytes.fromhex("c80e14a291f0"), bytes([192, 168, 1, 1]))
    mdns = Host(bytes.fromhex("01005e0000fb"), bytes([224, 0, 0, 251]))
    net.send(udp_frame(phone, router, 53000, 53, appproto.dns_query(7, f"{IMEI}.t.example")),
             to_ap=True, tid=6)  # fmt: skip
    net.broadcast(udp_frame(phone, mdns, 5353, 5353, appproto.dns_query(0, "cam.local")))
    return bytes([7]) + b"".join(struct.pack(">H", len(f)) + f for f in net.frames)


def _tunnel(frames: list[tuple[int, bytes]], kind: str) -> bytes | None:
    """A conversation wrapped by the simulator's tunnel ``kind``, as the ``tunnel``
    target reads it: the carrier, then each frame's body after the outer header (the
    top bit of its length set for the second endpoint's frames)."""
    from fuzz.targets import CARRIERS
    from phonehome.simulate.tunnels import TunnelSink

    wrapped = _Frames()
    sink = TunnelSink(wrapped, kind, mtu=9000)
    for t, frame in frames:
        if frame[6:12] == DEVICE.mac:  # the simulator's phone, so that it sends uplink
            frame = frame[:6] + DEVICE_MAC + frame[12:]
        sink.emit(t, frame)
    first = carrier = None
    bodies = []
    for _, frame in wrapped.frames:
        etype = struct.unpack_from(">H", frame, 12)[0]
        v6 = etype == 0x86DD
        if etype == 0x0800:
            at, proto, src = 14 + (frame[14] & 15) * 4, frame[23], frame[26:30]
        elif v6:
            at, proto, src = 54, frame[20], frame[22:38]
        else:
            at, proto, src = 14, -1, frame[6:12]
        if proto == -1:
            found = ("eth", etype)
        elif proto == 17:
            sport, dport = struct.unpack_from(">HH", frame, at)
            at += 8
            found = ("udp", dport if ("udp", dport) in CARRIERS else sport)
        else:
            found = ("ip", proto)
        if found not in CARRIERS:
            continue  # not tunnelled (Teredo carries the IPv6 flows only)
        carrier = CARRIERS.index(found) + len(CARRIERS) * v6
        first = first or src
        body = frame[at:]
        bodies.append(struct.pack(">H", len(body) | (0x8000 if src != first else 0)) + body)
    if carrier is None:
        return None
    return bytes([carrier]) + b"".join(bodies)


def _pieces(data: bytes, size: int) -> bytes:
    return bytes([size - 1]) + data


def _length_prefixed(items: list[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(i)) + i for i in items)


def _mitm() -> Iterator[bytes]:
    try:
        from mitmproxy import http
        from mitmproxy.io import FlowWriter
        from mitmproxy.test import tflow
    except ImportError:
        return
    buf = io.BytesIO()
    writer = FlowWriter(buf)
    req = http.Request.make(
        "POST", f"http://t.example.com/c?imei={IMEI}", b"a=1", {"Content-Encoding": "identity"}
    )
    writer.add(tflow.tflow(req=req, resp=tflow.tresp()))
    writer.add(tflow.tflow(resp=True))
    yield buf.getvalue()


def _apk_members(name: str) -> Iterator[bytes]:
    for apk in sorted(APKS.glob("*.apk")):
        with zipfile.ZipFile(apk) as z:
            if name in z.namelist():
                yield z.read(name)


def _protobuf() -> bytes:
    def field(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data

    return field(1, IMEI.encode()) + field(2, field(3, b"a4:77:33:12:34:56")) + b"\x18\x96\x01"


IMSI = "001010123456789"
NAI = f"0{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org"


def _sip() -> list[bytes]:
    ims = mb.ims_domain("001", "01")
    register = mb.sip_request(
        "REGISTER",
        f"sip:{ims}",
        [
            ("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1"),
            ("From", f"<sip:{IMSI}@{ims}>;tag=1"),
            ("To", f"<sip:{IMSI}@{ims}>"),
            ("Call-ID", "a@10.0.0.2"),
            ("CSeq", "1 REGISTER"),
            ("Contact", f'<sip:{IMSI}@10.0.0.2>;+sip.instance="<{mb.imei_urn(IMEI)}>"'),
            ("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001abcdef1"),
        ],
    )
    ok = mb.sip_response(200, "OK", [("CSeq", "1 REGISTER"), ("Call-ID", "a@10.0.0.2")])
    invite = mb.sip_request(
        "INVITE",
        "tel:+4712345678",
        [("From", "<sip:+4791234567@ims.example;user=phone>"), ("CSeq", "2 INVITE")],
        b"v=0\r\n",
    )
    return [register, ok, invite]


_SMTP_SESSION = (
    b"EHLO cam-a4b1c2d3e4f5\r\nAUTH PLAIN AGNhbUBleGFtcGxlLmNvbQBwYXNz\r\n"
    b"MAIL FROM:<cam@example.com>\r\nRCPT TO:<owner@example.org>\r\nDATA\r\n"
    b"Subject: =?UTF-8?Q?Motion_359123456789012?=\r\n"
    b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nU046IFpYOTA4MTcyNjM1NA==\r\n--B\r\n"
    b"Content-Type: image/jpeg; name=snap.jpg\r\n\r\n..\xff\xd8\xff\r\n--B--\r\n.\r\n"
    b"RSET\r\nQUIT\r\n"
)
"""A camera's alert session: the client side (the server's replies are state only)."""
_SMTP_BOUNCE = (
    b"EHLO mx\r\nVRFY admin\r\nEXPN <staff@example.org> SMTPUTF8\r\n"
    b"MAIL FROM:<> SIZE=900 AUTH=cam+2B1@example.com ENVID=sn+3DZX90\r\n"
    b"RCPT TO:<cam@example.com> NOTIFY=FAILURE ORCPT=utf-8;J\\x{FC}rgen@example.org\r\n"
    b"DATA\r\nSubject: Undelivered\r\n"
    b'Content-Type: multipart/report; boundary="R"\r\n\r\n--R\r\n'
    b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
    b"Final-Recipient: rfc822; owner@example.org\r\n--R\r\n"
    b"Content-Type: message/rfc822\r\n\r\nSubject: Motion\r\n"
    b"Content-Type: message/rfc822\r\n\r\nX-Serial: ZX9081726354\r\n\r\nbody\r\n--R\r\n"
    b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <a4b1@cam>\r\n--R--\r\n.\r\n"
)
"""A bounce with a delivery status, a returned message (itself embedding one) and returned
headers; VRFY/EXPN and the envelope parameters that name someone."""


def _mobile_seeds() -> dict[str, list[bytes]]:
    register, ok, invite = _sip()
    v3gpp = 10415
    ulr = mb.diameter(
        316,
        [
            mb.avp(263, b"mme;1"),
            mb.avp(1, IMSI.encode()),
            mb.avp(1401, mb.avp(1402, IMEI.encode(), v3gpp) + mb.avp(1403, b"01", v3gpp), v3gpp),
            mb.avp(443, mb.avp_u32(450, 0) + mb.avp(444, b"4791234567")),
        ],
        application=16777251,
    )
    create_session = mb.gtpv2(
        32,
        [
            mb.gtpv2_ie(1, mb.tbcd(IMSI)),
            mb.gtpv2_ie(76, mb.tbcd("4791234567")),
            mb.gtpv2_ie(75, mb.tbcd(IMEI[:14] + "01")),
            mb.gtpv2_ie(
                86, bytes([0x18]) + mb.tai("001", "01", 258) + mb.ecgi("001", "01", 0xABCDEF)
            ),
            mb.gtpv2_ie(93, mb.gtpv2_ie(73, b"\x05")),
        ],
    )
    create_pdp = mb.gtpv1(
        16,
        [
            b"\x02" + mb.tbcd(IMSI),
            b"\x0e\x01",
            b"\x86\x00\x06\x91" + mb.tbcd("4791234567"),
            b"\x9a\x00\x08" + mb.tbcd(IMEI[:14] + "01"),
        ],
    )
    identity = mb.eap_identity(1, NAI)
    aka = mb.eap_sim_aka(2, 2, 23, 5, [mb.at_identity(NAI)])
    access = mb.radius(
        1,
        1,
        [
            mb.radius_attr(1, NAI.encode()),
            mb.radius_attr(31, b"02-00-00-00-00-01"),
            mb.radius_attr(30, b"74-83-C2-10-20-30:Carrier"),
            *mb.eap_message_attrs(aka),
        ],
    )
    spi = bytes(range(1, 9))
    sa_init = mb.ike(34, 33, mb.ike_payload(0, bytes(8)), spi)
    auth = mb.ike(35, 46, mb.ike_payload(35, bytes(48)), spi, spi[::-1], 1)
    pani = b"IEEE-802.11; i-wlan-node-id=7483c2102030"
    return {
        "sip_udp": [
            b"\x00" + _length_prefixed([register, invite]),
            b"\x01" + _length_prefixed([ok]),
        ],
        "sip_tcp": [b"\x00" + _pieces(register + invite, 50)],
        "diameter": [b"\x00" + _pieces(ulr, 40)],
        "gtpv2": [b"\x00" + _length_prefixed([create_session])],
        "gtpv1": [b"\x00" + _length_prefixed([create_pdp])],
        "radius": [b"\x00" + _length_prefixed([access])],
        "ike": [
            b"\x00" + _length_prefixed([sa_init, auth]),
            b"\x02" + _length_prefixed([b"\x00" * 4 + auth]),
        ],
        "smtp": [b"\x00" + _pieces(_SMTP_SESSION, 60), b"\x00" + _pieces(_SMTP_BOUNCE, 60)],
        "eap": [identity, aka, struct.pack("!BBH", 2, 0, len(identity)) + identity],
        "threegpp": [
            mb.tbcd(IMSI),
            bytes([0x18]) + mb.tai("001", "01", 1) + mb.ecgi("001", "01", 5),
            pani,
        ],
    }


def _decryption_seeds() -> dict[str, list[bytes]]:
    """Real TLS/QUIC streams whose keys the targets hold (fuzz/targets.KEYED_CAPTURES),
    their plaintext for the HTTP/2 and HTTP/3 targets, and HPACK blocks that use the
    dynamic table and Huffman coding."""
    from fuzz.targets import KEYED_CAPTURES, _keylog, join_chunks
    from phonehome.decrypt.quic import QuicDecryptor
    from phonehome.decrypt.tls import TlsDecryptor
    from phonehome.protocols.quic import encode_varint as v
    from phonehome.simulate.tls13_h2 import HpackEncoder
    from tests.builders_tls import DATA, flow_chunks

    out: dict[str, list[bytes]] = {
        "tls_decrypt": [], "quic_decrypt": [], "http2": [], "http3": [], "keylog": []
    }  # fmt: skip
    for name in KEYED_CAPTURES:
        out["keylog"].append((DATA / f"{name}.keys").read_bytes())
        stream = flow_chunks(DATA / f"{name}.pcap")[0]
        pieces = [(c, d) for c, d, _t, _f in stream]
        if name.startswith("h3"):
            out["quic_decrypt"].append(join_chunks(pieces))
            quic = QuicDecryptor(_keylog())
            h3 = b""
            for c, d in pieces:
                for p in quic.datagram(c, d, 0.0, 1):
                    h3 += bytes((int(p.from_client) | 2 * int(p.fin), p.stream_id & 0xFF))
                    h3 += len(p.data).to_bytes(2, "big") + p.data
            out["http3"].append(h3)
            continue
        out["tls_decrypt"].append(join_chunks(pieces))
        tls = TlsDecryptor(_keylog())
        plain = [(p.from_client, p.data) for c, d in pieces for p in tls.data(c, d, 0.0, 1)]
        if name.endswith("h2"):
            out["http2"].append(join_chunks(plain))
    h2c = flow_chunks(DATA / "h2c-prior-knowledge.pcap")[0]
    out["http2"].append(join_chunks([(c, d) for c, d, _t, _f in h2c]))
    enc = HpackEncoder()
    blocks = [
        enc.encode([(":method", "POST"), (":path", "/v1/ids"), ("x-ad-id", IMEI)]),
        enc.encode([(":method", "POST"), (":path", "/v1/ids"), ("x-ad-id", IMEI)]),
    ]
    out["hpack"] = [b"".join(bytes((len(b) - 1,)) + b for b in blocks if 0 < len(b) <= 256)]
    out["quic_frames"] = [
        b"\x06" + v(0) + v(5) + b"hello"  # CRYPTO
        + b"\x0f" + v(0) + v(3) + v(4) + b"abcd"  # STREAM with offset, length, fin
        + b"\x0e" + v(0) + v(0) + b"xyz"  # STREAM with offset, to the end
    ]  # fmt: skip
    return out


def seeds() -> dict[str, list[bytes]]:
    convs = _conversations()
    small_pcaps = [
        p.read_bytes() for p in sorted(FIXTURES.glob("*/*.pcap")) if p.stat().st_size <= MAX_SEED
    ]
    packet = ipv4_udp(b"payload")
    pcapng = [
        p.read_bytes() for p in sorted(FIXTURES.glob("*/*.pcapng")) if p.stat().st_size <= MAX_SEED
    ]
    pcapng.append(
        shb()
        + idb(tsresol=9)
        + pcapdroid_uid_map(10001, "com.a", "A")
        + custom_block(1234, b"other vendor")
        + epb(0, 5, ethernet(packet), comments=["u-10001"])
        + spb(ethernet(packet))
        + nrb([(bytes(4), ["a.example"])])
        + dsb(b"CLIENT_RANDOM 00 11\n")
        + shb(">")
        + idb(endian=">")
        + epb(0, 7, ethernet(packet), endian=">")
    )
    pcaps = [_pcap(c) for c in convs] + small_pcaps
    pcaps.append(pcap_file([(1, 2, pcapdroid_trailer_frame(packet, 10001, "com.a"))]))
    hars = [
        p.read_bytes()
        for p in sorted((FIXTURES / "har").glob("*.har"))
        if p.stat().st_size <= MAX_SEED
    ]
    bodies = [
        json.dumps({"a": [{"IMEI1": IMEI}], "b": "eyJtYWMiOiJhNDo3NzozMzoxMjozNDo1NiJ9"}).encode(),
        f"imei={IMEI}&lat=59.91&lon=10.75&cid=12345&lac=7".encode(),
        b'--xyz\r\nContent-Disposition: form-data; name="m"\r\n\r\n'
        + IMEI.encode()
        + b"\r\n--xyz--\r\n",
        f'<reg><dev imei="{IMEI}"><mac>a4:77:33:12:34:56</mac></dev></reg>'.encode(),
        _protobuf(),
        gzip.compress(json.dumps({"imei": IMEI}).encode()),
        zlib.compress(IMEI.encode() * 3),
        IMEI.encode().hex().encode(),
        b"eyJhbGciOiJIUzI1NiJ9.eyJpbWVpIjoiMzU5MTIzNDU2Nzg5MDEyIn0.c2ln",
    ]
    return {
        "pcap": pcaps,
        "pcapng": pcapng,
        "netstack": [*(_netstack(c) for c in convs), _wifi_netstack(), _wpa_netstack()],
        "tunnel": [
            seed for kind in KINDS for c in convs[:2] if (seed := _tunnel(c, kind)) is not None
        ],
        "http": [
            _pieces(_http_post() + _http_post(), 100),
            _pieces(b"\x00" + b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 7),
            bytes([0, 1])
            + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + appproto.chunked(b"y" * 50, 16),
        ],
        "dns": [
            appproto.dns_query(1, f"{IMEI}.t.example"),
            appproto.dns_response(1, "t.example", 1, [bytes([93, 184, 216, 34])]),
        ],
        "tls": [_client_hello(), _client_hello("x" * 200), tls_build.client_hello(None)],
        "quic": [_length_prefixed(_quic_datagrams())],
        "mqtt": [
            _pieces(appproto.mqtt_connect(f"dev-{IMEI}", username="u"), 5),
            _pieces(appproto.mqtt_publish(f"a/{IMEI}", b"{}") + appproto.mqtt_disconnect(), 200),
        ],
        "har": hars,
        "mitm": list(_mitm()),
        "gz": [gzip.compress(pcaps[0]), gzip.compress(hars[0]) if hars else b""],
        "decoders": [bytes([i % 7]) + b for i, b in enumerate(bodies)]
        + [bytes([0x11]) + gzip.compress(bodies[0]), bytes([0x21]) + zlib.compress(bodies[1])],
        "axml": list(_apk_members("AndroidManifest.xml")),
        "dex": list(_apk_members("classes.dex")),
        "zip": [p.read_bytes() for p in sorted(APKS.glob("*.apk")) if p.stat().st_size <= MAX_SEED],
        "apksig": [
            p.read_bytes() for p in sorted(APKS.glob("*.apk")) if p.stat().st_size <= MAX_SEED
        ],
        **_mobile_seeds(),
        **_decryption_seeds(),
    }


def main() -> None:
    """Rewrite the corpus; ``python fuzz/build_corpus.py NAME...`` rewrites only the named
    targets' folders (seeds of other targets made with random keys stay as committed)."""
    corpus = HERE / "corpus"
    only = set(sys.argv[1:])
    if not only:
        shutil.rmtree(corpus, ignore_errors=True)
    for name, items in seeds().items():
        if only and name not in only:
            continue
        folder = corpus / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for data in items:
            if data and len(data) <= MAX_SEED:
                (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"{name}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    main()
