"""The simulated phone, a Nokia 7 Plus in Oslo, and its day of traffic.

The ``nokia7plus`` scenario reproduces the 2018 case the product exists for (see the
field notes): after every unlock the preinstalled Qualcomm auto-registration app posts
the IMEIs, IMSI, ICCID, Wi-Fi MAC and serving cell to China Telecom's ``zzhc.vnet.cn``
in Base64 over plain HTTP, hidden among ordinary, benign Android background traffic.

:class:`Phone` (the device's identifiers and addresses) and :class:`Scene` (flow
building with bookkeeping for ground truth and tshark cross-checks) are shared by the
other scenarios.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from phonehome.detect.validators import luhn_digit
from phonehome.model.profile import DeviceProfile, Location
from phonehome.simulate import appproto, quic_build, tls_build
from phonehome.simulate.appproto import QTYPE_A, QTYPE_AAAA, Exchange
from phonehome.simulate.packets import FrameSink, Lan, Trace
from phonehome.simulate.pcap_writer import PcapWriter
from phonehome.simulate.truth import Expected, Generated, Leak, Truth

START_US = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * 1_000_000
"""Capture start: 2026-03-02T00:00:00Z, a fixed date so that output never depends on when
it was generated."""

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

NOKIA_TAC = "35207102"
"""A TAC the Osmocom TAC database attributes to Nokia. The database has no Nokia 7 Plus
entry; any Nokia TAC makes the IMEI look like a Nokia's to a TAC lookup."""

ZZHC_HOST = "zzhc.vnet.cn"
ZZHC_IP = bytes([202, 96, 128, 86])
"""Answer to the simulated ``zzhc.vnet.cn`` lookup: 202.96.128.86, in CHINANET Guangdong,
announced by China Telecom's backbone AS4134, so destination enrichment must name China
Telecom / CN. (The real name's addresses changed over time; this one is a stand-in.)"""

ZZHC_APP = (1000, "AutoRegistration")
"""With ``--pcapdroid``: the uid and label PCAPdroid gives the self-registration's packets
(the preinstalled system app; current PCAPdroid versions write the app's label)."""
PCAPDROID_APPS = {ZZHC_IP: ZZHC_APP}

DEVICE_MAC = bytes.fromhex("2039565c7a13")  # OUI 20:39:56 = HMD Global Oy
ROUTER_MAC = bytes.fromhex("c80e14a291f0")
DEVICE_IP4 = bytes([192, 168, 1, 23])
ROUTER_IP4 = bytes([192, 168, 1, 1])
DEVICE_IP6 = bytes.fromhex("20010db8470100100000000000000023")  # 2001:db8:4701:10::23
ROUTER_IP6 = bytes.fromhex("20010db8470100100000000000000001")

OSLO = Location(59.9139, 10.7522, 500.0)


def ip_str(ip: bytes) -> str:
    """Text form of a packed address (no ipaddress module: this runs per flow in bench)."""
    if len(ip) == 4:
        return ".".join(str(b) for b in ip)
    groups = [f"{int.from_bytes(ip[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    # compress the longest run of zero groups, as RFC 5952 prescribes
    best, best_len, i = -1, 1, 0
    while i < 8:
        j = i
        while j < 8 and groups[j] == "0":
            j += 1
        if j - i > best_len:
            best, best_len = i, j - i
        i = max(j, i + 1)
    if best < 0:
        return ":".join(groups)
    return ":".join(groups[:best]) + "::" + ":".join(groups[best + best_len :])


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


@dataclass(frozen=True)
class Phone:
    """The device under study: its identifiers (seed-dependent) and fixed addresses."""

    imei: str
    imei2: str
    imsi: str
    iccid: str
    msisdn: str
    serial: str
    android_id: str
    ad_id: str
    email: str
    cell_id: int
    mac: bytes = DEVICE_MAC

    @property
    def meid(self) -> str:
        return self.imei[:14]

    @property
    def mac_text(self) -> str:
        return mac_str(self.mac)

    def profile(self) -> DeviceProfile:
        return DeviceProfile(
            name="Nokia 7 Plus (simulated)",
            home_country="NO",
            values={
                "imei": (self.imei, self.imei2),
                "meid": (self.meid,),
                "imsi": (self.imsi,),
                "iccid": (self.iccid,),
                "msisdn": (self.msisdn,),
                "serial": (self.serial,),
                "android_id": (self.android_id,),
                "ad_id": (self.ad_id,),
                "mac": (self.mac_text,),
                "email": (self.email,),
                "cell_id": (f"0x{self.cell_id:x}",),
            },
            locations=(OSLO,),
        )


def make_phone(seed: int) -> Phone:
    rng = random.Random(f"phone/{seed}")

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    body1 = NOKIA_TAC + digits(6)
    body2 = NOKIA_TAC + digits(6)
    iccid_body = "894701" + digits(12)  # 89 telecom, 47 Norway, 01 Telenor
    return Phone(
        imei=body1 + luhn_digit(body1),
        imei2=body2 + luhn_digit(body2),
        imsi="24201" + digits(10),  # MCC 242 Norway, MNC 01 Telenor
        iccid=iccid_body + luhn_digit(iccid_body),
        msisdn="+474" + digits(7),
        serial="B2NGAA" + digits(10),
        android_id=f"{rng.getrandbits(64):016x}",
        ad_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        email="kari.nordmann@example.no",
        cell_id=rng.randrange(0x100000, 0xFFFFFFF),
    )


class Scene:
    """Builds flows of the phone on its LAN and keeps the books: ground truth, device
    events, and what a dissector should find (HTTP requests, DNS names, SNIs)."""

    def __init__(self, phone: Phone, sink: FrameSink, seed: int) -> None:
        self.phone = phone
        self.rng = random.Random(f"scene/{seed}")
        self.lan = Lan(sink, phone.mac, DEVICE_IP4, DEVICE_IP6, ROUTER_MAC, ROUTER_IP4, ROUTER_IP6)
        self.truth = Truth()
        self.events: list[tuple[int, str]] = []
        self.expected = Expected()
        self._txid = self.rng.randrange(0x10000)
        self.last_dns_query = -1
        """Frame reference of the latest DNS query (for leaks in query names)."""

    def finish(
        self, trace: Trace, out: Path, *, scenario: str, seed: int, pcapng: bool
    ) -> Generated:
        """Write the trace in time order and resolve the ground truth's frame references."""
        with PcapWriter(out, pcapng=pcapng) as writer:
            trace.write_to(writer)
        doc = self.truth.to_json(
            scenario=scenario,
            seed=seed,
            capture=out.name,
            device_ip=[ip_str(DEVICE_IP4), ip_str(DEVICE_IP6)],
            device_mac=self.phone.mac_text,
            resolve=lambda ref: (trace.frame_number(ref), trace.timestamp(ref)),
        )
        return Generated(
            doc, self.phone.profile(), self.events, writer.frames, writer.bytes, self.expected
        )

    def event(self, t_us: int, kind: str) -> None:
        self.events.append((t_us, kind))

    def isn(self) -> tuple[int, int]:
        return self.rng.getrandbits(32), self.rng.getrandbits(32)

    def rtt(self, base_ms: int) -> int:
        return (base_ms * 1000) + self.rng.randrange(0, base_ms * 200 + 1)

    def dns(self, t_us: int, name: str, answers: list[bytes], *, v6: bool = False) -> int:
        """Look ``name`` up (AAAA if the answers are IPv6); returns the clock after it."""
        self._txid = (self._txid + 7919) & 0xFFFF
        qtype = QTYPE_AAAA if answers and len(answers[0]) == 16 else QTYPE_A
        ex = appproto.dns_exchange(
            self.lan, t_us, name, answers, txid=self._txid, qtype=qtype, rtt_us=self.rtt(8), v6=v6
        )
        self.expected.dns_names.append(name)
        self.last_dns_query = ex.request[0]
        return ex.t_us

    def http(
        self,
        t_us: int,
        ip: bytes,
        port: int,
        request: bytes,
        response: bytes,
        *,
        split_at: int = 0,
        rtt_ms: int = 30,
    ) -> Exchange:
        """One HTTP/1.1 exchange on its own connection. ``split_at`` > 0 writes the first
        bytes (the header block) in a segment of their own, as clients that write headers
        and body separately do."""
        conn = self.lan.tcp(t_us, ip, port, rtt_us=self.rtt(rtt_ms), isn=self.isn())
        conn.open()
        if split_at:
            refs = conn.send(request[:split_at]) + conn.send(request[split_at:])
        else:
            refs = conn.send(request)
        conn.wait(self.rtt(rtt_ms // 2 or 1))
        resp = conn.send(response, from_client=False) if response else []
        conn.wait(1_500)
        conn.close()
        self.expected.http_requests += 1
        return Exchange(refs, resp, conn.t_us)

    def tls(
        self,
        t_us: int,
        sni: str,
        ip: bytes,
        *,
        port: int = 443,
        app_data: tuple[int, ...] = (517, 1400),
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
        rtt_ms: int = 25,
    ) -> int:
        """A TLS 1.3 connection: ClientHello with ``sni``, server flight, opaque data."""
        conn = self.lan.tcp(t_us, ip, port, rtt_us=self.rtt(rtt_ms), isn=self.isn())
        conn.open()
        conn.send(tls_build.tls_records(tls_build.client_hello(sni, alpn)))
        conn.wait(self.rtt(rtt_ms // 3 or 1))
        rand = self.rng.randbytes(32)
        conn.send(
            appproto.tls_server_flight(rand, b"", self.rng.randbytes(32), (2800, 264)),
            from_client=False,
        )
        conn.wait(3_000)
        for i, n in enumerate(app_data):
            conn.send(appproto.application_data(n, rand), from_client=i % 2 == 0)
            conn.wait(self.rtt(rtt_ms))
        conn.close()
        self.expected.tls_snis.append(sni)
        return conn.t_us

    def quic(self, t_us: int, sni: str, ip: bytes, *, packets: int = 1) -> int:
        """Client Initial datagram(s) to UDP 443; the network drops QUIC here (no answer),
        so the app falls back to TLS over TCP, as Chrome does on such networks."""
        hello = tls_build.client_hello(sni, ("h3",), padding_to=1400 if packets > 1 else 0)
        port = self.lan.ephemeral_port()
        dcid, scid = self.rng.randbytes(8), self.rng.randbytes(8)
        for i, dgram in enumerate(
            quic_build.client_initial_datagrams(hello, dcid, scid, packets=packets)
        ):
            self.lan.udp(t_us + i * 150, True, ip, 443, port, dgram)
        self.expected.quic_snis.append(sni)
        return t_us + packets * 150 + 300_000


# --- the zzhc self-registration ----------------------------------------------------


def zzhc_identifiers(phone: Phone) -> list[tuple[str, str, str]]:
    """The registration JSON keys that carry an identifier: (key, identifier, profile value)."""
    return [
        ("MEID", "meid", phone.meid),
        ("SIM1ICCID", "iccid", phone.iccid),
        ("SIM1LTEIMSI", "imsi", phone.imsi),
        ("SIM1CELLID", "cell_id", f"0x{phone.cell_id:x}"),
        ("MACID", "mac", phone.mac_text),
        ("IMEI1", "imei", phone.imei),
        ("IMEI2", "imei", phone.imei2),
    ]


def zzhc_json(phone: Phone, t_us: int) -> dict[str, str]:
    regdate = datetime.fromtimestamp(t_us // SECOND, tz=UTC).strftime("%Y-%m-%d,%H:%M:%S")
    return {
        "REGVER": "6.0",
        "MEID": phone.meid,
        "MODEL": "TA-1046",
        "SWVER": "00WW_3_22C",
        "SIM1ICCID": phone.iccid,
        "SIM1LTEIMSI": phone.imsi,
        "SIM1CDMAIMSI": "",
        "SIM1CELLID": f"{phone.cell_id:X}",
        "MACID": phone.mac_text.upper(),
        "IMEI1": phone.imei,
        "IMEI2": phone.imei2,
        "UETYPE": "1",
        "OSVER": "Android9",
        "ACCESSTYPE": "2",
        "REGDATE": regdate,
    }


def base64_default(data: bytes) -> bytes:
    """Android ``Base64.DEFAULT``: standard alphabet, padded, a newline every 76 chars."""
    b64 = base64.b64encode(data)
    return b"".join(b64[i : i + 76] + b"\n" for i in range(0, len(b64), 76))


def zzhc_request(phone: Phone, t_us: int) -> tuple[bytes, int]:
    """The POST and the length of its header block."""
    body = base64_default(json.dumps(zzhc_json(phone, t_us), separators=(",", ":")).encode())
    req = appproto.http_request(
        "POST",
        "/",
        ZZHC_HOST,
        [
            ("Content-Type", "application/encrypted-json"),
            ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 9; TA-1046 Build/PPR1.180610.011)"),
            ("Connection", "close"),
            ("Accept-Encoding", "gzip"),
        ],
        body,
    )
    return req, len(req) - len(body)


ZZHC_RESPONSE = appproto.http_response(
    200,
    "OK",
    [
        ("Server", "nginx"),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Connection", "close"),
    ],
    b'{"resultCode":"0","resultDesc":"Success"}',
)


def zzhc_registration(scene: Scene, t_us: int, split: bool) -> int:
    """DNS lookup, then the POST to port 80; records every identifier in it as a leak."""
    t = scene.dns(t_us, ZZHC_HOST, [ZZHC_IP])
    request, head_len = zzhc_request(scene.phone, t)
    ex = scene.http(
        t, ZZHC_IP, 80, request, ZZHC_RESPONSE, split_at=head_len if split else 0, rtt_ms=180
    )
    sent = zzhc_json(scene.phone, t)
    for key, identifier, value in zzhc_identifiers(scene.phone):
        raw = sent[key]
        leak = Leak(
            identifier,
            value,
            ZZHC_HOST,
            ip_str(ZZHC_IP),
            80,
            "http",
            f"http.body:$.{key}",
            ("base64", "json"),
            raw=raw if raw != value else None,
        )
        scene.truth.leak(leak, ex.request[-1])
    return ex.t_us


# --- background traffic ------------------------------------------------------------

GOOGLE4 = {
    "www.google.com": bytes([142, 250, 74, 36]),
    "android.googleapis.com": bytes([142, 250, 74, 42]),
    "play.googleapis.com": bytes([142, 250, 74, 74]),
    "www.googleapis.com": bytes([142, 250, 74, 106]),
    "android.clients.google.com": bytes([142, 250, 74, 46]),
    "mtalk.google.com": bytes([64, 233, 161, 188]),
    "www.youtube.com": bytes([142, 250, 74, 78]),
    "i.ytimg.com": bytes([142, 250, 74, 118]),
    "connectivitycheck.gstatic.com": bytes([142, 250, 74, 99]),
    "time.android.com": bytes([216, 239, 35, 4]),
}
GOOGLE6 = {
    "www.google.com": bytes.fromhex("2a001450400f080d0000000000002004"),
    "www.youtube.com": bytes.fromhex("2a001450400f080c000000000000200e"),
    "play.googleapis.com": bytes.fromhex("2a001450400f080b000000000000200a"),
}
TLS_HOSTS = (
    "www.google.com",
    "android.googleapis.com",
    "play.googleapis.com",
    "www.googleapis.com",
    "android.clients.google.com",
    "i.ytimg.com",
)
QUIC_HOSTS = ("www.youtube.com", "www.google.com")


def connectivity_check(scene: Scene, t_us: int) -> int:
    host = "connectivitycheck.gstatic.com"
    t = scene.dns(t_us, host, [GOOGLE4[host]])
    req = appproto.http_request(
        "GET",
        "/generate_204",
        host,
        [
            ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 9; TA-1046 Build/PPR1.180610.011)"),
            ("Connection", "Keep-Alive"),
            ("Accept-Encoding", "gzip"),
        ],
    )
    resp = appproto.http_response(204, "No Content", [("Date", "Mon, 02 Mar 2026 00:00:00 GMT")])
    return scene.http(t, GOOGLE4[host], 80, req, resp, rtt_ms=12).t_us


def ntp_sync(scene: Scene, t_us: int) -> int:
    host = "time.android.com"
    t = scene.dns(t_us, host, [GOOGLE4[host]])
    port = scene.lan.ephemeral_port()
    scene.lan.udp(t, True, GOOGLE4[host], 123, port, appproto.ntp_request(t))
    t2 = t + scene.rtt(20)
    scene.lan.udp(t2, False, GOOGLE4[host], 123, port, appproto.ntp_response(t, t2))
    return t2 + 1000


def push_beacon(scene: Scene, t_us: int) -> int:
    """The push channel (FCM) reconnecting: small encrypted exchange, every 15 minutes."""
    host = "mtalk.google.com"
    t = scene.dns(t_us, host, [GOOGLE4[host]])
    return scene.tls(t, host, GOOGLE4[host], app_data=(120, 64), alpn=("http/1.1",))


def browse(scene: Scene, t_us: int, v6: bool) -> int:
    """An app's burst after an unlock: a couple of TLS connections, maybe a QUIC attempt."""
    rng = scene.rng
    t = t_us
    for host in rng.sample(TLS_HOSTS, 2):
        t = scene.dns(t, host, [GOOGLE4[host]])
        t = scene.tls(
            t, host, GOOGLE4[host], app_data=(rng.randrange(300, 900), rng.randrange(1500, 9000))
        )
    if v6:
        host = rng.choice(sorted(GOOGLE6))
        t = scene.dns(t, host, [GOOGLE6[host]], v6=True)
        t = scene.tls(t, host, GOOGLE6[host], app_data=(600, 4000))
    if rng.random() < 0.7:
        host = rng.choice(QUIC_HOSTS)
        t = scene.dns(t, host, [GOOGLE4[host]])
        t = scene.quic(t, host, GOOGLE4[host], packets=1 + (rng.random() < 0.5))
        t = scene.tls(t, host, GOOGLE4[host], app_data=(700, 12000))
    return t


def build_day(scene: Scene) -> None:
    rng = scene.rng
    # the phone is switched on as the capture starts (just after midnight); the first
    # unlock follows the boot, the others fall in the waking day, 06:30-23:00
    boot = START_US + rng.randrange(5 * SECOND, 60 * SECOND)
    scene.event(boot, "boot")
    t = boot + 18 * SECOND
    scene.event(t, "network_change")
    t = connectivity_check(scene, t + 300_000)
    t = ntp_sync(scene, t + 200_000)
    # unlocks spread over the waking day: one soon after boot, the rest in random slots
    n = rng.randint(8, 12)
    day_start, day_end = START_US + 6 * HOUR + 30 * MINUTE, START_US + 23 * HOUR
    slots = sorted(rng.sample(range(n * 4), n - 1))
    slot_len = (day_end - day_start) // (n * 4)
    unlocks = [boot + 40 * SECOND] + [
        day_start + s * slot_len + rng.randrange(0, slot_len // 2) for s in slots
    ]
    for i, u in enumerate(unlocks):
        scene.event(u - rng.randrange(2, 9) * SECOND, "screen_on")
        scene.event(u, "unlock")
        t = zzhc_registration(scene, u + rng.randrange(1_000_000, 5_000_000), split=i % 2 == 1)
        browse(scene, t + rng.randrange(200_000, 2_000_000), v6=i % 3 == 0)
        scene.event(u + rng.randrange(1, 12) * MINUTE, "screen_off")
    # glances at notifications: the screen comes on without an unlock (no registration)
    for _ in range(rng.randint(3, 5)):
        g = day_start + rng.randrange(day_end - day_start)
        scene.event(g, "screen_on")
        scene.event(g + rng.randrange(5, 20) * SECOND, "screen_off")
    # beacons every 15 minutes, NTP every 6 hours, connectivity checks every 2 hours
    t = boot + 5 * MINUTE
    while t < START_US + 24 * HOUR - MINUTE:
        push_beacon(scene, t + rng.randrange(0, 3 * SECOND))
        t += 15 * MINUTE
    for k in range(1, 4):
        if boot + k * 6 * HOUR < START_US + 24 * HOUR:
            ntp_sync(scene, boot + k * 6 * HOUR + 7 * SECOND)
    for k in range(1, 9):
        if boot + k * 2 * HOUR < START_US + 24 * HOUR:
            connectivity_check(scene, boot + k * 2 * HOUR + 41 * SECOND)


def generate(out: Path, seed: int, size_mb: float | None, pcapng: bool) -> Generated:
    """The ``nokia7plus`` scenario (``size_mb`` does not apply: it is one day)."""
    trace = Trace()
    scene = Scene(make_phone(seed), trace, seed)
    build_day(scene)
    return scene.finish(trace, out, scenario="nokia7plus", seed=seed, pcapng=pcapng)
