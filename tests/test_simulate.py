"""The traffic simulator: valid captures, honest ground truth, deterministic output."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import stat
import struct
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from phonehome.detect.validators import iccid_ok, imei_ok, luhn_ok
from phonehome.model.profile import PROFILE_VALUE_KEYS
from phonehome.simulate import SCENARIOS, SimulationResult, run
from phonehome.simulate.nokia7plus import DEVICE_MAC, ZZHC_IP
from phonehome.simulate.packets import checksum
from phonehome.simulate.tunnels import KINDS
from tests import tshark

SIZES = {"nokia7plus": None, "encodings": None, "bench": 2.0}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationResult]:
    out = tmp_path_factory.mktemp("sim")
    return {name: run(name, out / f"{name}.pcap", seed=7, size_mb=SIZES[name]) for name in SIZES}


# --- a minimal capture reader, independent of the generator's code ------------------


def read_pcap(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and linktype == 1
    frames, off = [], 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        assert incl == orig
        frames.append((sec + usec / 1e6, data[off + 16 : off + 16 + incl]))
        off += 16 + incl
    assert off == len(data)
    return frames


def transport(frame: bytes) -> tuple[bytes, bytes, int, int, int, bytes] | None:
    """(src ip, dst ip, proto, sport, dport, payload) of an Ethernet IPv4/IPv6 TCP/UDP frame."""
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800:
        ihl = (frame[14] & 0x0F) * 4
        total = int.from_bytes(frame[16:18], "big")
        proto, src, dst = frame[23], frame[26:30], frame[30:34]
        seg = frame[14 + ihl : 14 + total]
    elif ethertype == 0x86DD:
        proto, src, dst = frame[20], frame[22:38], frame[38:54]
        seg = frame[54 : 54 + int.from_bytes(frame[18:20], "big")]
    else:
        return None
    sport, dport = struct.unpack_from("!HH", seg)
    if proto == 6:
        return src, dst, proto, sport, dport, seg[(seg[12] >> 4) * 4 :]
    return src, dst, proto, sport, dport, seg[8:]


def tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    return tshark.fields(path, *fields, display_filter=display_filter, two_pass=True)


# --- generation, files, determinism --------------------------------------------------


def test_registry_lists_the_scenarios() -> None:
    tunnels = {name for name in SCENARIOS if name.startswith("tunnel-")}
    assert set(SCENARIOS) - tunnels == {
        "nokia7plus",
        "encodings",
        "bench",
        "volte",
        "eap-aka",
        "vowifi",
    }
    assert {SCENARIOS[name].variant for name in tunnels} == set(KINDS)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_scenario_writes_four_private_files(
    generated: dict[str, SimulationResult], name: str
) -> None:
    r = generated[name]
    assert [p.name for p in r.paths] == [
        f"{name}.pcap",
        f"{name}.truth.json",
        f"{name}.device.toml",
        f"{name}.events.csv",
    ]
    for p in r.paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    frames = read_pcap(r.capture)
    assert len(frames) == r.frames
    assert [t for t, _ in frames] == sorted(t for t, _ in frames)


def test_existing_world_readable_file_becomes_private(tmp_path: Path) -> None:
    out = tmp_path / "x.pcap"
    out.write_bytes(b"old")
    out.chmod(0o644)
    run("encodings", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", sorted(SIZES))
def test_same_seed_same_bytes(tmp_path: Path, name: str) -> None:
    a = run(name, tmp_path / "a.pcap", seed=3, size_mb=1.0 if SIZES[name] else None)
    b = run(name, tmp_path / "b.pcap", seed=3, size_mb=1.0 if SIZES[name] else None)
    c = run(name, tmp_path / "c.pcap", seed=4, size_mb=1.0 if SIZES[name] else None)
    assert a.capture.read_bytes() == b.capture.read_bytes()
    assert a.capture.read_bytes() != c.capture.read_bytes()
    for x, y in ((a.profile, b.profile), (a.events, b.events)):
        assert x.read_bytes() == y.read_bytes()
    ta, tb = json.loads(a.truth.read_text()), json.loads(b.truth.read_text())
    assert ta.pop("capture") == "a.pcap" and tb.pop("capture") == "b.pcap"
    assert ta == tb


def test_bench_size_5_gives_at_least_5_mb_quickly(tmp_path: Path) -> None:
    r = run("bench", tmp_path / "b.pcap", size_mb=5)
    assert r.capture.stat().st_size >= 5_000_000
    assert r.bytes < 5_000_000 + 600 * 1024 + 100_000  # stops after the flow that crosses 5 MB
    assert r.mb_per_second > 2  # well under a minute for 200 MB needs > 3.3 MB/s on CI
    truth = json.loads(r.truth.read_text())
    assert sum(len(lk["frames"]) for lk in truth["leaks"]) == 5


def test_pcapng_output_has_the_same_frames(tmp_path: Path) -> None:
    a = run("encodings", tmp_path / "a.pcap")
    b = run("encodings", tmp_path / "b.pcapng", pcapng=True)
    assert b.capture.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert a.frames == b.frames and a.bytes == b.bytes
    assert len(tshark_fields(b.capture, "frame", "frame.number")) == b.frames


# --- tshark cross-checks -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SIZES))
def test_tshark_finds_no_malformed_or_warning(
    generated: dict[str, SimulationResult], name: str
) -> None:
    rows = tshark.fields(
        generated[name].capture,
        "frame.number",
        "_ws.expert.message",
        display_filter="_ws.malformed || _ws.expert.severity >= warning",
        two_pass=True,
        prefs={f"{p}.check_checksum": "TRUE" for p in ("tcp", "udp", "ip")},
    )
    problems = ["\t".join(row) for row in rows]
    if name == "bench":
        # The phone mix's QUIC 1-RTT packets are opaque filler: tshark, having no keys,
        # says it cannot decrypt them, exactly as for a real QUIC session. Nothing else.
        problems = [p for p in problems if "Failed to create decryption context" not in p]
    assert problems == []


@pytest.mark.parametrize("name", sorted(SIZES))
def test_tshark_sees_what_the_generator_says(
    generated: dict[str, SimulationResult], name: str
) -> None:
    r = generated[name]
    exp = r.expected
    assert len(tshark_fields(r.capture, "http.request", "frame.number")) == exp.http_requests
    names = [row[0] for row in tshark_fields(r.capture, "dns.flags.response == 0", "dns.qry.name")]
    assert Counter(names) == Counter(exp.dns_names)
    snis = tshark_fields(
        r.capture, "tcp && tls.handshake.type == 1", "tls.handshake.extensions_server_name"
    )
    assert Counter(row[0] for row in snis) == Counter(exp.tls_snis)
    quic = tshark_fields(
        r.capture, "quic && tls.handshake.type == 1", "tls.handshake.extensions_server_name"
    )
    assert Counter(row[0] for row in quic) == Counter(exp.quic_snis)


def test_nokia_has_quic_hellos_split_over_two_packets(
    generated: dict[str, SimulationResult],
) -> None:
    rows = tshark_fields(
        generated["nokia7plus"].capture,
        "quic.long.packet_type == 0",
        "frame.number",
        "tls.handshake.extensions_server_name",
    )
    snis = [sni for _, sni in rows]
    assert "" in snis  # the first half of a hello split over two Initial packets
    assert {s for s in snis if s} <= {"www.youtube.com", "www.google.com"}
    assert len([s for s in snis if s]) == len(generated["nokia7plus"].expected.quic_snis)


def test_tshark_reads_the_zzhc_body_as_base64_json(
    generated: dict[str, SimulationResult],
) -> None:
    r = generated["nokia7plus"]
    imei = tomllib.loads(r.profile.read_text())["imei"][0]
    rows = tshark_fields(
        r.capture,
        'http.request.method == "POST"',
        "http.host",
        "http.content_type",
        "http.file_data",
    )
    assert rows
    for host, ctype, body_text in rows:
        assert (host, ctype) == ("zzhc.vnet.cn", "application/encrypted-json")
        body = body_text.replace("\\n", "\n")  # tshark prints line breaks as \n
        assert "\n" in body
        assert json.loads(base64.b64decode(body))["IMEI1"] == imei


# --- the nokia7plus scenario ---------------------------------------------------------


def _zzhc_requests(path: Path) -> list[tuple[list[int], bytes]]:
    """Per zzhc connection: the frame numbers of its request segments and the request."""
    streams: dict[int, tuple[list[int], bytearray]] = {}
    for number, (_, frame) in enumerate(read_pcap(path), start=1):
        t = transport(frame)
        if t and t[1] == ZZHC_IP and t[4] == 80 and t[5]:
            nums, buf = streams.setdefault(t[3], ([], bytearray()))
            nums.append(number)
            buf += t[5]
    return [(nums, bytes(buf)) for nums, buf in streams.values()]


def test_zzhc_post_is_wrapped_base64_of_flat_json_with_the_profile(
    generated: dict[str, SimulationResult],
) -> None:
    r = generated["nokia7plus"]
    profile = tomllib.loads(r.profile.read_text())
    requests = _zzhc_requests(r.capture)
    assert 8 <= len(requests) <= 12
    assert any(len(nums) == 2 for nums, _ in requests), "no POST spans two segments"
    for _, req in requests:
        head, body = req.split(b"\r\n\r\n", 1)
        assert head.startswith(b"POST / HTTP/1.1\r\nHost: zzhc.vnet.cn\r\n")
        assert b"Content-Type: application/encrypted-json" in head
        lines = body.split(b"\n")
        assert lines[-1] == b"" and all(len(x) == 76 for x in lines[:-2])
        sent = json.loads(base64.b64decode(body))
        assert all(k.isupper() for k in sent)
        assert sent["IMEI1"] == profile["imei"][0] and sent["IMEI2"] == profile["imei"][1]
        assert sent["MEID"] == profile["imei"][0][:14] == profile["meid"]
        assert sent["SIM1ICCID"] == profile["iccid"]
        assert sent["SIM1LTEIMSI"] == profile["imsi"]
        assert int(sent["SIM1CELLID"], 16) == int(profile["cell_id"], 16)
        assert sent["MACID"].lower() == profile["mac"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d,\d\d:\d\d:\d\d", sent["REGDATE"])


def test_truth_cites_the_last_segment_of_every_zzhc_post(
    generated: dict[str, SimulationResult],
) -> None:
    r = generated["nokia7plus"]
    truth = json.loads(r.truth.read_text())
    last_segments = sorted(nums[-1] for nums, _ in _zzhc_requests(r.capture))
    by_where = {lk["where"]: lk for lk in truth["leaks"]}
    assert set(by_where) == {
        f"http.body:$.{k}"
        for k in ("MEID", "SIM1ICCID", "SIM1LTEIMSI", "SIM1CELLID", "MACID", "IMEI1", "IMEI2")
    }
    for lk in truth["leaks"]:
        assert lk["frames"] == last_segments
        assert (lk["host"], lk["ip"], lk["port"], lk["protocol"]) == (
            "zzhc.vnet.cn",
            "202.96.128.86",
            80,
            "http",
        )
        assert lk["encoding"] == ["base64", "json"]
        assert len(lk["times"]) == len(lk["frames"])


def test_every_unlock_is_followed_by_a_registration_within_5_s(
    generated: dict[str, SimulationResult],
) -> None:
    r = generated["nokia7plus"]
    with r.events.open() as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"time", "event"}
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["time"])
    kinds = Counter(row["event"] for row in rows)
    assert kinds["boot"] == 1 and 8 <= kinds["unlock"] <= 12
    assert kinds["screen_on"] > kinds["unlock"]
    truth = json.loads(r.truth.read_text())
    posts = next(lk["times"] for lk in truth["leaks"] if lk["where"] == "http.body:$.IMEI1")
    unlocks = [row["time"] for row in rows if row["event"] == "unlock"]
    assert len(posts) == len(unlocks)
    for u, p in zip(unlocks, posts, strict=True):
        delta = _seconds(p) - _seconds(u)
        assert 1 <= delta <= 6.5  # 1-5 s, plus the DNS lookup and the TCP handshake


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_capture_spans_a_day_with_periodic_push_beacons(
    generated: dict[str, SimulationResult],
) -> None:
    frames = read_pcap(generated["nokia7plus"].capture)
    assert 20 * 3600 < frames[-1][0] - frames[0][0] <= 24 * 3600
    exp = generated["nokia7plus"].expected
    assert exp.tls_snis.count("mtalk.google.com") >= 60  # every 15 min for ~17 h
    parsed = [transport(f) for _, f in frames]
    assert any(t is not None and len(t[0]) == 16 for t in parsed)  # some IPv6 flows


# --- profile and truth formats -------------------------------------------------------


def test_profile_toml_has_the_documented_keys(generated: dict[str, SimulationResult]) -> None:
    profile = tomllib.loads(generated["nokia7plus"].profile.read_text())
    assert set(profile) == set(PROFILE_VALUE_KEYS) | {"name", "home_country", "location"}
    for key in PROFILE_VALUE_KEYS:
        assert isinstance(profile[key], str | list)
    assert profile["home_country"] == "NO"
    assert all(imei_ok(v) for v in profile["imei"])
    assert iccid_ok(profile["iccid"]) and profile["iccid"].startswith("8947")
    assert profile["imsi"].startswith("242") and len(profile["imsi"]) == 15
    assert profile["msisdn"].startswith("+47")
    assert profile["mac"] == ":".join(f"{b:02x}" for b in DEVICE_MAC)
    [loc] = profile["location"]
    assert abs(loc["lat"] - 59.91) < 0.1 and abs(loc["lon"] - 10.75) < 0.1


WHERE = re.compile(
    r"(http\.(query|body|header|cookie|path)|dns\.qname|mqtt\.(topic|payload|client_id)"
    r"|udp\.payload|tcp\.payload)(:.+)?"
)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_truth_follows_the_schema(generated: dict[str, SimulationResult], name: str) -> None:
    truth = json.loads(generated[name].truth.read_text())
    assert truth["schema"] == "phonehome.truth/1"
    assert truth["scenario"] == name and truth["seed"] == 7
    assert truth["device_ip"][0] == "192.168.1.23"
    assert truth["leaks"]
    n = generated[name].frames
    for lk in truth["leaks"]:
        assert {
            "identifier",
            "value",
            "host",
            "ip",
            "port",
            "protocol",
            "where",
            "encoding",
            "times",
            "frames",
        } <= set(lk)
        assert WHERE.fullmatch(lk["where"]), lk["where"]
        assert all(1 <= f <= n for f in lk["frames"])
        assert len(lk["times"]) == len(lk["frames"])


# --- the encodings scenario ----------------------------------------------------------


def _payloads(path: Path) -> dict[int, tuple[bytes, bytes]]:
    """frame number -> (source MAC, transport payload)."""
    out = {}
    for number, (_, frame) in enumerate(read_pcap(path), start=1):
        t = transport(frame)
        if t:
            out[number] = (frame[6:12], t[5])
    return out


def test_encodings_every_leak_frame_is_sent_by_the_device(
    generated: dict[str, SimulationResult],
) -> None:
    truth = json.loads(generated["encodings"].truth.read_text())
    payloads = _payloads(generated["encodings"].capture)
    for lk in truth["leaks"]:
        for f in lk["frames"]:
            assert payloads[f][0] == DEVICE_MAC, lk


def _expected_text(lk: dict[str, Any]) -> bytes | None:
    """What must appear literally in the cited frame for chains without a container
    decoding; None when the chain needs real decoding."""
    enc = [e for e in lk["encoding"] if e != "json"]
    value = lk.get("raw", lk["value"])
    note = lk.get("note") or ""
    if lk["identifier"] == "location":
        return None  # lat and lon sit under separate keys
    if not enc:
        return value.encode()
    if enc == ["md5"] and lk["identifier"] == "imei":
        return hashlib.md5(value.encode()).hexdigest().encode()
    if enc == ["sha1"] and "upper" in note:
        return hashlib.sha1(value.encode()).hexdigest().upper().encode()
    if enc == ["sha256"] and lk["identifier"] == "email":
        return hashlib.sha256(value.lower().encode()).hexdigest().encode()
    if enc == ["hex"] and lk["protocol"] == "http":
        h = value.encode().hex()
        return (h.upper() if "upper" in note else h).encode()
    if enc == ["url"]:
        return re.sub(r"[@+]", lambda m: f"%{ord(m.group()):02X}", value).encode()
    return None


def test_encodings_leaks_are_really_in_their_frames(
    generated: dict[str, SimulationResult],
) -> None:
    truth = json.loads(generated["encodings"].truth.read_text())
    payloads = _payloads(generated["encodings"].capture)
    checked = 0
    for lk in truth["leaks"]:
        text = _expected_text(lk)
        if text is None:
            continue
        for f in lk["frames"]:
            assert text in payloads[f][1], lk
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    ("encoding", "where"),
    [
        (["url"], "http.query:email"),
        (["json", "json"], "http.body:$.payload>$.android_id"),
        (["json", "base64"], "http.body:$.d"),
        (["base64", "json"], "http.query:sid>$.mac"),
        (["base64", "form"], "http.header:X-Client-Info>imsi"),
        (["base64", "json"], "http.body:$.iccid"),
        (["hex"], "http.query:h"),
        (["json", "hex"], "http.body:$.dev"),
        (["gzip", "json"], "http.body:$.events[0].ad_id"),
        (["md5"], "http.query:uid"),
        (["json", "sha1"], "http.body:$.h1"),
        (["json", "md5"], "http.body:$.m1"),
        (["json", "sha256"], "http.body:$.e"),
        ([], "http.cookie:did"),
        ([], "http.header:X-Device-Id"),
        (["hex"], "dns.qname:label[0]"),
        ([], "mqtt.client_id"),
        (["json"], "mqtt.payload:$.iccid"),
        ([], "udp.payload"),
        (["protobuf"], "http.body:#1"),
        (["jwt", "json"], "http.header:Authorization>payload>$.sub"),
        (["json"], "http.body:$.pos.lat"),
        (["json", "scaled-1e6"], "http.body:$.geo.lat"),
    ],
)
def test_encodings_covers(
    generated: dict[str, SimulationResult], encoding: list[str], where: str
) -> None:
    truth = json.loads(generated["encodings"].truth.read_text())
    assert any(lk["encoding"] == encoding and lk["where"] == where for lk in truth["leaks"])


def test_encodings_decoys_are_what_they_claim(generated: dict[str, SimulationResult]) -> None:
    r = generated["encodings"]
    truth = json.loads(r.truth.read_text())
    imeis = tomllib.loads(r.profile.read_text())["imei"]
    payloads = _payloads(r.capture)
    decoys = {d["where"]: d for d in truth["decoys"]}
    assert len(decoys) == 7
    long_digits = decoys["http.query:ref"]["value"]
    assert len(long_digits) > 15 and any(
        luhn_ok(long_digits[i : i + 15]) for i in range(len(long_digits) - 14)
    )
    assert re.fullmatch(r"\d{13}", decoys["http.query:ts"]["value"])
    assert decoys["http.query:cid"]["value"] == "263713"
    bad = decoys["http.body:$.batch"]["value"]
    assert len(bad) == 19 and bad.startswith("89") and not luhn_ok(bad)
    assert re.fullmatch(r"[0-9a-f-]{36}", decoys["http.body:$.nonce"]["value"])
    in_response = decoys["http.body:$.imei"]
    assert in_response["value"] == imeis[0]
    for d in truth["decoys"]:
        [f] = d["frames"]
        mac, payload = payloads[f]
        assert d["value"].encode() in payload
        assert (mac == DEVICE_MAC) == (d is not in_response)


# --- building blocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes.fromhex("0001f203f4f5f6f7"), 0x220D),  # RFC 1071 section 3 example
        (b"\x00\x00", 0xFFFF),
        (b"\xff\xff", 0x0000),
        (b"\x12", 0xEDFF),  # odd length: padded with a zero byte
    ],
)
def test_checksum(data: bytes, expected: int) -> None:
    assert checksum(data) == expected


def test_unknown_scenario_and_bad_size_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        run("nope", tmp_path / "x.pcap")
    with pytest.raises(ValueError):
        run("bench", tmp_path / "x.pcap", size_mb=0)
