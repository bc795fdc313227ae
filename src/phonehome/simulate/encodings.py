"""The ``encodings`` scenario: every way apps were seen to send an identifier, labelled.

Each request carries profile values in one encoding or protocol and is recorded as a leak
with its expected ``where`` and encoding chain; decoys (things that look like identifiers
but are not the device's, or not sent by it) are recorded with the reason a scan must
stay quiet. Together they are the unit test of the whole scan pipeline.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from phonehome.detect.validators import luhn_digit, luhn_ok
from phonehome.simulate import appproto
from phonehome.simulate.nokia7plus import (
    HOUR,
    MINUTE,
    OSLO,
    ROUTER_IP4,
    SECOND,
    START_US,
    Phone,
    Scene,
    base64_default,
    ip_str,
    make_phone,
)
from phonehome.simulate.packets import Trace
from phonehome.simulate.truth import Decoy, Generated, Leak

ANALYTICS = ("analytics.example.com", bytes([203, 0, 113, 10]))
SDK = ("sdk.example.net", bytes([203, 0, 113, 20]))
ADS = ("ads.example.com", bytes([198, 51, 100, 30]))
PUSH = ("push.example.org", bytes([203, 0, 113, 40]))
TELEMETRY = ("telemetry.example.org", bytes([203, 0, 113, 50]))
EXFIL_ZONE = "t.example.net"
EXFIL_DOMAIN = "example.net"
"""Who receives data in a query name: the registrable domain's authoritative servers."""

LAT, LNG = 59.913868, 10.752245
"""Where the phone is: about 10 m from the profile's Oslo location."""

UA = "Dalvik/2.1.0 (Linux; U; Android 9; TA-1046 Build/PPR1.180610.011)"


@dataclass(frozen=True)
class Spot:
    """A leak or decoy inside one request, before the request has frame numbers."""

    identifier: str
    value: str
    where: str
    encoding: tuple[str, ...] = ()
    raw: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class DecoySpot:
    value: str
    where: str
    reason: str


@dataclass(frozen=True)
class Case:
    host: tuple[str, bytes]
    request: bytes
    leaks: tuple[Spot, ...]
    decoys: tuple[DecoySpot, ...] = ()
    response: bytes = appproto.http_response(204, "No Content")
    response_decoys: tuple[DecoySpot, ...] = ()


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _post(
    host: str, target: str, ctype: str, body: bytes, extra: tuple[tuple[str, str], ...] = ()
) -> bytes:
    return appproto.http_request(
        "POST", target, host, [("User-Agent", UA), ("Content-Type", ctype), *extra], body
    )


def _get(host: str, target: str, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    return appproto.http_request("GET", target, host, [("User-Agent", UA), *extra])


def _hex(data: str) -> str:
    return data.encode().hex()


def _b64url_with_dash(obj: dict[str, str]) -> str:
    """URL-safe, unpadded Base64 of ``obj`` that really uses ``-`` or ``_`` (so a decoder
    that only knows the standard alphabet fails on it): pad the JSON until it does."""
    for n in range(64):
        text = base64.urlsafe_b64encode(_json({**obj, "pad": "?" * n})).rstrip(b"=").decode()
        if "-" in text or "_" in text:
            return text
    raise AssertionError("unreachable: '?' runs produce '/' in standard Base64")


def _protobuf(fields: list[tuple[int, str | int]]) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    out = b""
    for number, value in fields:
        if isinstance(value, int):
            out += varint(number << 3) + varint(value)
        else:
            raw = value.encode()
            out += varint(number << 3 | 2) + varint(len(raw)) + raw
    return out


def _jwt(payload: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(_json(obj)).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(hashlib.sha256(_json(payload)).digest()).rstrip(b"=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.{sig.decode()}"


def _decoy_digits(rng: random.Random) -> tuple[str, str, str]:
    """A Luhn-valid 15-digit run inside 24 digits; a hex token with a Luhn-valid 15-digit
    run; a 19-digit 89... number failing Luhn."""
    body = "35" + "".join(rng.choice("0123456789") for _ in range(12))
    run = body + luhn_digit(body)
    long_digits = "9100" + run + "20260"
    hex_token = "e3f9" + run + "".join(rng.choice("abcdef0123456789") for _ in range(21))
    iccid_body = "894701" + "".join(rng.choice("0123456789") for _ in range(12))
    bad = iccid_body + str((int(luhn_digit(iccid_body)) + 3) % 10)
    assert not luhn_ok(bad)
    return long_digits, hex_token, bad


def cases(phone: Phone, rng: random.Random, t_us: int) -> list[Case]:
    p = phone
    mac_bare = p.mac_text.replace(":", "")
    ts_ms = str(t_us // 1000 + rng.randrange(1, 1000))
    long_digits, hex_token, bad_iccid = _decoy_digits(rng)
    nonce = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    # A location finding names the profile location the sent coordinates are near (so
    # jittering GPS fixes aggregate into one finding); the sent pair goes in ``raw``.
    loc = f"{OSLO.lat},{OSLO.lon}"
    b64_imei = base64.b64encode(p.imei.encode()).decode()
    sid = _b64url_with_dash({"mac": p.mac_text, "v": "3"})
    info_text = f"imsi={p.imsi};os=9"
    info_text += ";" * (len(info_text) % 3 == 0)  # a length Base64 would pad
    info = base64.b64encode(info_text.encode()).decode().rstrip("=")
    wrapped = base64_default(
        _json(
            {
                "iccid": p.iccid,
                "msisdn": p.msisdn,
                "locale": "nb_NO",
                "model": "TA-1046",
                "build": "00WW_3_22C",
                "carrier": "Telenor",
            }
        )
    ).decode()
    gz = gzip.compress(
        _json({"events": [{"name": "app_open", "ad_id": p.ad_id, "imei": p.imei}]}), mtime=0
    )
    jwt = _jwt({"sub": p.android_id, "iat": t_us // SECOND, "aud": "sdk"})
    proto = _protobuf([(1, p.imei), (2, int(p.imei2)), (3, "nb_NO")])

    host, _ = ANALYTICS
    case_query = Case(
        ANALYTICS,
        _get(
            host,
            f"/v1/collect?app=com.example.weather&imei={p.imei}"
            f"&email={quote(p.email, safe='')}&ts={ts_ms}&ref={long_digits}"
            f"&uid={hashlib.md5(p.imei.encode()).hexdigest()}"
            f"&h={_hex(p.imsi)}",
        ),
        (
            Spot("imei", p.imei, "http.query:imei"),
            Spot("email", p.email, "http.query:email", ("url",)),
            Spot("imei", p.imei, "http.query:uid", ("md5",), note="md5 of the IMEI digits"),
            Spot("imsi", p.imsi, "http.query:h", ("hex",), note="hex of the ASCII digits"),
        ),
        (
            DecoySpot(ts_ms, "http.query:ts", "13-digit millisecond timestamp"),
            DecoySpot(
                long_digits,
                "http.query:ref",
                "the Luhn-valid 15-digit run is part of a 24-digit number, not an IMEI",
            ),
        ),
    )
    host, _ = SDK
    case_form = Case(
        SDK,
        _post(
            host,
            "/register",
            "application/x-www-form-urlencoded",
            f"imsi={p.imsi}&msisdn={quote(p.msisdn, safe='')}&os=android&sdk=4.2".encode(),
        ),
        (
            Spot("imsi", p.imsi, "http.body:imsi"),
            Spot("msisdn", p.msisdn, "http.body:msisdn", ("url",)),
        ),
        response=appproto.http_response(
            200,
            "OK",
            [("Content-Type", "application/json")],
            _json({"status": "ok", "imei": p.imei}),
        ),
        response_decoys=(
            DecoySpot(
                p.imei,
                "http.body:$.imei",
                "the device's own IMEI in a response: data sent TO the device is not a leak",
            ),
        ),
    )
    case_nested = Case(
        SDK,
        _post(
            host,
            "/v2/device",
            "application/json",
            _json(
                {
                    "device": {
                        "ids": [
                            {"type": "serial", "value": p.serial},
                            {"type": "imei", "value": p.imei2},
                        ],
                        "sim": {"iccid": p.iccid},
                    },
                    "nonce": nonce,
                    "batch": bad_iccid,
                    "cache": hex_token,
                }
            ),
        ),
        (
            Spot("serial", p.serial, "http.body:$.device.ids[0].value", ("json",)),
            Spot("imei", p.imei2, "http.body:$.device.ids[1].value", ("json",)),
            Spot("iccid", p.iccid, "http.body:$.device.sim.iccid", ("json",)),
        ),
        (
            DecoySpot(nonce, "http.body:$.nonce", "random UUID not under an id-like key"),
            DecoySpot(
                bad_iccid,
                "http.body:$.batch",
                "19 digits starting 89 that fail the Luhn check: not an ICCID",
            ),
            DecoySpot(
                hex_token,
                "http.body:$.cache",
                "digit run inside a hex token (hash), not a separate number",
            ),
        ),
    )
    case_json_in_json = Case(
        SDK,
        _post(
            host,
            "/v2/events",
            "application/json",
            _json(
                {
                    "event": "open",
                    "payload": json.dumps({"android_id": p.android_id, "ad_id": p.ad_id}),
                    "d": b64_imei,
                    "dev": _hex(p.mac_text).upper(),
                }
            ),
        ),
        (
            Spot("android_id", p.android_id, "http.body:$.payload>$.android_id", ("json", "json")),
            Spot("ad_id", p.ad_id, "http.body:$.payload>$.ad_id", ("json", "json")),
            Spot("imei", p.imei, "http.body:$.d", ("json", "base64")),
            Spot(
                "mac",
                p.mac_text,
                "http.body:$.dev",
                ("json", "hex"),
                note="upper-case hex of the MAC text",
            ),
        ),
    )
    host, _ = ANALYTICS
    case_b64 = Case(
        ANALYTICS,
        appproto.http_request(
            "POST",
            f"/px?sid={sid}",
            host,
            [
                ("User-Agent", UA),
                ("Content-Type", "text/plain"),
                ("X-Client-Info", info),
            ],
            wrapped.encode(),
        ),
        (
            Spot(
                "mac",
                p.mac_text,
                "http.query:sid>$.mac",
                ("base64", "json"),
                note="URL-safe alphabet, unpadded",
            ),
            Spot(
                "imsi",
                p.imsi,
                "http.header:X-Client-Info>imsi",
                ("base64", "form"),
                note="standard alphabet, padding stripped",
            ),
            Spot(
                "iccid",
                p.iccid,
                "http.body:$.iccid",
                ("base64", "json"),
                note="wrapped every 76 characters",
            ),
            Spot(
                "msisdn",
                p.msisdn,
                "http.body:$.msisdn",
                ("base64", "json"),
                note="wrapped every 76 characters",
            ),
        ),
    )
    case_gzip = Case(
        ANALYTICS,
        _post(
            host,
            "/batch",
            "application/json",
            appproto.chunked(gz, 48),
            (("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")),
        ),
        (
            Spot(
                "ad_id",
                p.ad_id,
                "http.body:$.events[0].ad_id",
                ("gzip", "json"),
                note="chunked transfer",
            ),
            Spot(
                "imei",
                p.imei,
                "http.body:$.events[0].imei",
                ("gzip", "json"),
                note="chunked transfer",
            ),
        ),
    )
    case_hashes = Case(
        ANALYTICS,
        _post(
            host,
            "/match",
            "application/json",
            _json(
                {
                    "h1": hashlib.sha1(p.imei.encode()).hexdigest().upper(),
                    "h2": hashlib.sha256(p.imei.encode()).hexdigest(),
                    "m1": hashlib.md5(mac_bare.encode()).hexdigest(),
                    "m2": hashlib.sha256(mac_bare.upper().encode()).hexdigest().upper(),
                    "e": hashlib.sha256(p.email.lower().encode()).hexdigest(),
                }
            ),
        ),
        (
            Spot("imei", p.imei, "http.body:$.h1", ("json", "sha1"), note="upper-case hex"),
            Spot("imei", p.imei, "http.body:$.h2", ("json", "sha256")),
            Spot(
                "mac",
                p.mac_text,
                "http.body:$.m1",
                ("json", "md5"),
                note="md5 of the MAC as 12 lower-case hex digits, no separators",
            ),
            Spot(
                "mac",
                p.mac_text,
                "http.body:$.m2",
                ("json", "sha256"),
                note="of the MAC as 12 upper-case hex digits; digest in upper case",
            ),
            Spot(
                "email",
                p.email,
                "http.body:$.e",
                ("json", "sha256"),
                note="of the lower-cased address",
            ),
        ),
    )
    host, _ = ADS
    case_ads = Case(
        ADS,
        _get(
            host,
            "/ad?cid=263713&placement=banner_320x50&slot=2",
            (
                ("Cookie", f"_ga=GA1.2.1187342.{t_us // SECOND}; did={p.android_id}"),
                ("X-Device-Id", p.imei),
                ("Authorization", f"Bearer {jwt}"),
            ),
        ),
        (
            Spot("android_id", p.android_id, "http.cookie:did"),
            Spot("imei", p.imei, "http.header:X-Device-Id"),
            Spot(
                "android_id",
                p.android_id,
                "http.header:Authorization>payload>$.sub",
                ("jwt", "json"),
                note="JWT payload claim sub",
            ),
        ),
        (
            DecoySpot(
                "263713",
                "http.query:cid",
                "campaign id in an ad URL: 'cid' without "
                "cell context (no lac/tac/mcc/mnc beside it)",
            ),
        ),
    )
    case_proto_geo = Case(
        ADS,
        _post(host, "/rtb", "application/x-protobuf", proto),
        (
            Spot("imei", p.imei, "http.body:#1", ("protobuf",), note="string field 1"),
            Spot("imei", p.imei2, "http.body:#2", ("protobuf",), note="varint field 2"),
        ),
    )
    case_geo = Case(
        ADS,
        _post(
            host,
            "/geo",
            "application/json",
            _json(
                {
                    "pos": {"lat": LAT, "lng": LNG, "acc": 12.5},
                    "geo": {"lat": round(LAT * 1e6), "lng": round(LNG * 1e6)},
                }
            ),
        ),
        (
            Spot("location", loc, "http.body:$.pos.lat", ("json",), raw=f"{LAT},{LNG}"),
            Spot(
                "location",
                loc,
                "http.body:$.geo.lat",
                ("json", "scaled-1e6"),
                raw=f"{round(LAT * 1e6)},{round(LNG * 1e6)}",
            ),
        ),
    )
    return [
        case_query,
        case_form,
        case_nested,
        case_json_in_json,
        case_b64,
        case_gzip,
        case_hashes,
        case_ads,
        case_proto_geo,
        case_geo,
    ]


def _http_case(scene: Scene, t_us: int, case: Case) -> int:
    name, ip = case.host
    t = scene.dns(t_us, name, [ip])
    ex = scene.http(t, ip, 80, case.request, case.response)
    for s in case.leaks:
        scene.truth.leak(
            Leak(
                s.identifier,
                s.value,
                name,
                ip_str(ip),
                80,
                "http",
                s.where,
                s.encoding,
                s.raw,
                s.note,
            ),
            ex.request[-1],
        )
    for d in case.decoys:
        scene.truth.decoy(Decoy(d.value, d.where, d.reason, name), ex.request[-1])
    for d in case.response_decoys:
        scene.truth.decoy(Decoy(d.value, d.where, d.reason, name), ex.response[-1])
    return ex.t_us


def _dns_case(scene: Scene, t_us: int) -> int:
    p = scene.phone
    name = f"{_hex(p.imei)}.{EXFIL_ZONE}"
    t = scene.dns(t_us, name, [bytes([203, 0, 113, 99])])
    ref = scene.last_dns_query
    scene.truth.leak(
        Leak(
            "imei",
            p.imei,
            EXFIL_DOMAIN,
            ip_str(ROUTER_IP4),
            53,
            "dns",
            "dns.qname:label[0]",
            ("hex",),
        ),
        ref,
    )
    return t


def _mqtt_case(scene: Scene, t_us: int) -> int:
    p = scene.phone
    name, ip = PUSH
    t = scene.dns(t_us, name, [ip])
    conn = scene.lan.tcp(t, ip, 1883, rtt_us=scene.rtt(40), isn=scene.isn())
    conn.open()
    connect = conn.send(appproto.mqtt_connect(p.imei, 60))
    conn.wait(scene.rtt(40))
    conn.send(appproto.mqtt_connack(), from_client=False)
    conn.wait(5_000)
    topic = f"devices/{p.android_id}/status"
    payload = _json(
        {
            "iccid": p.iccid,
            "cell": {"mcc": 242, "mnc": 1, "lac": 4711, "cid": p.cell_id},
            "battery": 81,
        }
    )
    publish = conn.send(appproto.mqtt_publish(topic, payload))
    conn.wait(30_000)
    conn.send(appproto.mqtt_disconnect())
    conn.close()
    ipt = ip_str(ip)
    for ident, value, where, enc, raw, ref in (
        ("imei", p.imei, "mqtt.client_id", (), None, connect[-1]),
        ("android_id", p.android_id, "mqtt.topic:level[1]", (), None, publish[-1]),
        ("iccid", p.iccid, "mqtt.payload:$.iccid", ("json",), None, publish[-1]),
        (
            "cell_id",
            f"0x{p.cell_id:x}",
            "mqtt.payload:$.cell.cid",
            ("json",),
            str(p.cell_id),
            publish[-1],
        ),
    ):
        scene.truth.leak(Leak(ident, value, name, ipt, 1883, "mqtt", where, enc, raw), ref)
    return conn.t_us


def _udp_case(scene: Scene, t_us: int) -> int:
    p = scene.phone
    name, ip = TELEMETRY
    t = scene.dns(t_us, name, [ip])
    mac_upper = p.mac_text.upper()
    ref = scene.lan.udp(
        t,
        True,
        ip,
        9999,
        scene.lan.ephemeral_port(),
        f"HELLO v=2 mac={mac_upper} imei={p.imei}\n".encode(),
    )
    ipt = ip_str(ip)
    scene.truth.leak(
        Leak("mac", p.mac_text, name, ipt, 9999, "udp", "udp.payload", (), mac_upper), ref
    )
    scene.truth.leak(Leak("imei", p.imei, name, ipt, 9999, "udp", "udp.payload"), ref)
    return t + 2_000


def generate(out: Path, seed: int, size_mb: float | None, pcapng: bool) -> Generated:
    """The ``encodings`` scenario: a few minutes after an unlock, one request per case."""
    trace = Trace()
    scene = Scene(make_phone(seed), trace, seed)
    boot = START_US + 8 * HOUR
    scene.event(boot, "boot")
    scene.event(boot + 20 * SECOND, "network_change")
    scene.event(boot + MINUTE, "screen_on")
    t = boot + MINUTE + 4 * SECOND
    scene.event(t, "unlock")
    for case in cases(scene.phone, scene.rng, t):
        t = _http_case(scene, t + 2 * SECOND, case)
    t = _dns_case(scene, t + 2 * SECOND)
    t = _mqtt_case(scene, t + 2 * SECOND)
    t = _udp_case(scene, t + 2 * SECOND)
    scene.event(t + MINUTE, "screen_off")
    return scene.finish(trace, out, scenario="encodings", seed=seed, pcapng=pcapng)
