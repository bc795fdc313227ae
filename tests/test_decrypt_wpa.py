"""WPA2-Personal decryption of monitor-mode captures (``--wifi-key``).

The network is built by :mod:`tests.builders_wifi`; tshark, given the same passphrase,
must decrypt the same frames to the same messages, so the builder and the decryptor are
both checked against Wireshark's implementation.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.cli.options import make_context
from phonehome.context import Context
from phonehome.decrypt.wpa import BadWifiKey, pmk_of, wifi_keys_of
from phonehome.model.message import DnsMessage, HttpRequest, Message
from phonehome.pipeline import iter_messages, open_all
from phonehome.report.document import coverage_sentence
from phonehome.simulate.appproto import dns_query
from phonehome.simulate.packets import Host, tcp_frame, udp_frame
from tests.builders_wifi import (
    PASSPHRASE,
    SSID,
    STA,
    Network,
    pcap,
    pmk,
)
from tests.live_helpers import Watcher, phonehome
from tests.needs import need_tool

PHONE = Host(STA, bytes([192, 168, 1, 23]))
ROUTER = Host(bytes.fromhex("c80e14a291f0"), bytes([192, 168, 1, 1]))
SERVER = Host(ROUTER.mac, bytes([93, 184, 216, 34]))
MDNS = Host(bytes.fromhex("01005e0000fb"), bytes([224, 0, 0, 251]))
OTHER = Host(bytes.fromhex("3c2eff000001"), bytes([192, 168, 1, 40]))
IMEI = "359123456789012"
KEY = f"{PASSPHRASE}:{SSID}"
SYN, ACK, PSH = 0x02, 0x10, 0x08


def session(net: Network) -> Network:
    """The handshake, then a DNS query (TID 6), an HTTP POST with an IMEI over TCP, the
    DNS answer from the router and an mDNS announcement the AP relays (group key)."""
    net.handshake()
    net.send(
        udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "api.example.com")), to_ap=True, tid=6
    )
    c, s = 1000, 5000
    net.send(tcp_frame(PHONE, SERVER, 40000, 80, c, 0, SYN), to_ap=True)
    net.send(tcp_frame(SERVER, PHONE, 80, 40000, s, c + 1, SYN | ACK), to_ap=False)
    body = f"imei={IMEI}".encode()
    req = (
        b"POST /c HTTP/1.1\r\nHost: t.example.com\r\nContent-Type: application/x-www-form-"
        b"urlencoded\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    net.send(tcp_frame(PHONE, SERVER, 40000, 80, c + 1, s + 1, ACK), to_ap=True)
    net.send(tcp_frame(PHONE, SERVER, 40000, 80, c + 1, s + 1, PSH | ACK, req), to_ap=True)
    net.send(tcp_frame(SERVER, PHONE, 80, 40000, s + 1, c + 1 + len(req), ACK), to_ap=False)
    net.broadcast(udp_frame(OTHER, MDNS, 5353, 5353, dns_query(0, "printer.local")))
    return net


def write(tmp_path: Path, net: Network, name: str = "wpa.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(pcap(net.frames))
    return path


def read(path: Path, *keys: str) -> tuple[list[Message], Context]:
    ctx = make_context((), (), (), keys)
    return list(iter_messages(open_all([str(path)]), ctx)), ctx


def summary(msgs: list[Message]) -> list[tuple[int, str, str]]:
    out = []
    for m in msgs:
        c = m.content
        if isinstance(c, DnsMessage):
            out.append((m.frame, m.protocol, c.questions[0][0]))
        elif isinstance(c, HttpRequest):
            out.append((m.frame, m.protocol, c.body.decode()))
        else:
            out.append((m.frame, m.protocol, ""))
    return out


WANT = [
    (1, "eapol", ""),
    (2, "eapol", ""),
    (3, "eapol", ""),
    (4, "eapol", ""),
    (5, "dns", "api.example.com"),
    (9, "http", f"imei={IMEI}"),
    (11, "dns", "printer.local"),
]


@pytest.mark.parametrize("sha256", [False, True], ids=["psk", "psk-sha256"])
def test_frames_of_a_station_whose_handshake_is_seen_are_decrypted(
    tmp_path: Path, sha256: bool
) -> None:
    path = write(tmp_path, session(Network(sha256=sha256)))
    msgs, ctx = read(path, KEY)
    assert summary(msgs) == WANT
    assert ctx.anomalies.counts == {}
    assert ctx.wifi is not None and ctx.wifi.handshakes == 1 and ctx.wifi.decrypted == 7
    # the EAPOL handshake frames are messages of the station (direction by protocol)
    assert {m.src.ip for m in msgs if m.frame in (2, 4)} == {"20:39:56:5c:7a:13"}


def test_without_a_key_frames_are_counted_not_read(tmp_path: Path) -> None:
    msgs, ctx = read(write(tmp_path, session(Network())))
    assert [m.protocol for m in msgs] == ["eapol"] * 4
    assert ctx.anomalies.counts == {"wifi.unread": 1}
    assert "no --wifi-key" in ctx.anomalies.samples[0].detail


def test_a_wrong_passphrase_is_told(tmp_path: Path) -> None:
    msgs, ctx = read(write(tmp_path, session(Network())), f"not the passphrase:{SSID}")
    assert [m.protocol for m in msgs] == ["eapol"] * 4
    assert ctx.anomalies.counts == {"wifi.wrong_key": 1, "wifi.unread": 1}
    wrong = next(a for a in ctx.anomalies.samples if a.kind == "wifi.wrong_key")
    assert "20:39:56:5c:7a:13" in wrong.detail and "74:83:c2:10:20:30" in wrong.detail
    assert "not the passphrase" not in wrong.detail  # the key given is not echoed


def test_the_right_key_among_several_is_found(tmp_path: Path) -> None:
    path = write(tmp_path, session(Network()))
    msgs, ctx = read(path, f"another one:{SSID}", "0" * 64, KEY)
    assert summary(msgs) == WANT and ctx.anomalies.counts == {}


def test_a_psk_is_the_passphrase_key() -> None:
    # IEEE 802.11-2016 J.4.2, the first test vector
    assert pmk_of("password:IEEE").hex() == (
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    )
    assert pmk_of("f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e") == (
        pmk_of("password:IEEE")
    )
    # split at the last colon; a colon in the SSID is written %3A
    assert pmk_of("a:b:c:d:e:f:MyNet") == pmk("a:b:c:d:e:f", "MyNet")
    assert pmk_of("passphrase:My%3ANet") == pmk("passphrase", "My:Net")


@pytest.mark.parametrize(
    "key",
    [
        "short:SSID",  # a passphrase has 8 to 63 characters
        "long enough:",  # an SSID has 1 to 32 bytes
        "g" * 64,  # 64 characters that are not hex digits
        "long enough:" + "n" * 33,
    ],
)
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(BadWifiKey):
        pmk_of(key)


def test_flows_says_what_the_key_opened(tmp_path: Path) -> None:
    path = write(tmp_path, session(Network()))
    result = CliRunner().invoke(main, ["flows", str(path), "--wifi-key", KEY])
    assert result.exit_code == 0
    last = result.output.splitlines()[-1]
    assert last.endswith("; decrypted 7 802.11 frames with 1 handshake (--wifi-key)"), last


def test_a_bad_key_is_a_usage_error_without_echo(tmp_path: Path) -> None:
    path = write(tmp_path, session(Network()))
    result = CliRunner().invoke(main, ["flows", str(path), "--wifi-key", "secret1"])
    assert result.exit_code == 2
    assert "--wifi-key (the 1st)" in result.output and "secret1" not in result.output


def test_handshake_with_a_retransmitted_first_message(tmp_path: Path) -> None:
    """Message 2 answers the first message 1; a second one with a fresh ANonce comes
    before it in the capture, so the PTK is found with message 3's ANonce."""
    net = Network()
    net.handshake(messages=(1,), anonce1=bytes(32 * [7]))
    net.handshake(messages=(2, 3, 4))
    net.send(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "api.example.com")), to_ap=True)
    msgs, ctx = read(write(tmp_path, net), KEY)
    assert [m.protocol for m in msgs][-1] == "dns" and ctx.anomalies.counts == {}


def test_a_frame_that_does_not_authenticate_is_counted(tmp_path: Path) -> None:
    net = Network()
    net.handshake()
    frame = net.send(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "a.example")), to_ap=True)
    net.frames[-1] = frame[:-1] + bytes([frame[-1] ^ 1])  # one bit of the MIC
    net.send(udp_frame(PHONE, ROUTER, 53001, 53, dns_query(8, "b.example")), to_ap=True)
    msgs, ctx = read(write(tmp_path, net), KEY)
    assert [m.content.questions[0][0] for m in msgs if isinstance(m.content, DnsMessage)] == [
        "b.example"
    ]
    assert ctx.anomalies.counts == {"wifi.unread": 1}
    assert "did not authenticate" in ctx.anomalies.samples[0].detail


def test_a_station_without_a_handshake_is_reported(tmp_path: Path) -> None:
    net = Network()
    net.handshake()
    net.send(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "a.example")), to_ap=True)
    msgs, ctx = read(write(tmp_path, Network(frames=net.frames[4:])), KEY)
    assert msgs == [] and ctx.anomalies.counts == {"wifi.unread": 1}
    assert "no 4-way handshake" in ctx.anomalies.samples[0].detail


def test_a_retransmitted_frame_decrypts(tmp_path: Path) -> None:
    """The Retry bit is masked out of the AAD: a retransmission carries the same MIC."""
    net = Network()
    net.handshake()
    net.send(udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "a.example")), to_ap=True, retry=True)
    msgs, ctx = read(write(tmp_path, net), KEY)
    assert [m.protocol for m in msgs][-1] == "dns" and ctx.anomalies.counts == {}


def device_file(tmp_path: Path) -> Path:
    device = tmp_path / "device.toml"
    device.write_text(f'name = "cam"\nimei = "{IMEI}"\n')
    return device


def scan_json(tmp_path: Path, capture: Path, *extra: str) -> tuple[int, Path]:
    """``scan --format json`` of ``capture`` with the camera's profile: (exit code, JSON)."""
    out = tmp_path / "scan.json"
    args = ["scan", str(capture), "--device", str(device_file(tmp_path)), "--no-store"]
    result = CliRunner().invoke(main, [*args, "--format", "json", "-o", str(out), *extra])
    return result.exit_code, out


def test_scan_finds_the_imei_in_decrypted_traffic(tmp_path: Path) -> None:
    path = write(tmp_path, session(Network()))
    code, out = scan_json(tmp_path, path, "--wifi-key", KEY)
    assert code == 1
    doc = json.loads(out.read_text())
    assert [(f["identifier"], f["host"]) for f in doc["findings"]] == [("imei", "t.example.com")]
    assert PASSPHRASE not in out.read_text()
    # what was decrypted, and the finding's wire: clear text beyond the access point
    assert doc["decryption"]["wifi"] == {
        "keys": 1,
        "handshakes": 1,
        "frames_decrypted": 7,
        "frames_not_decrypted": 0,
    }
    assert doc["findings"][0]["readability"] == "cleartext"
    assert coverage_sentence(doc["decryption"]) == (
        "decrypted 7 802.11 frames with 1 handshake (--wifi-key)"
    )
    assert scan_json(tmp_path, path)[0] == 0  # without the key nothing is read


@pytest.mark.parametrize("sha256", [False, True], ids=["psk", "psk-sha256"])
def test_tshark_decrypts_the_same_frames(tmp_path: Path, sha256: bool) -> None:
    need_tool("tshark")
    path = write(tmp_path, session(Network(sha256=sha256)))
    out = subprocess.run(
        ["tshark", "-r", str(path), "-o", "wlan.enable_decryption:TRUE",
         "-o", f'uat:80211_keys:"wpa-pwd","{KEY}"',
         "-Y", "dns || mdns || http.request", "-T", "fields",
         "-e", "frame.number", "-e", "dns.qry.name", "-e", "urlencoded-form.value"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [line.split("\t") for line in out.splitlines()]
    msgs, _ = read(path, KEY)
    ours = []
    for m in msgs:
        c = m.content
        if isinstance(c, DnsMessage):
            ours.append([str(m.frame), c.questions[0][0], ""])
        elif isinstance(c, HttpRequest):
            ours.append([str(m.frame), "", c.body.decode().split("=")[1]])
    assert ours == theirs
    assert len(ours) == 3  # the query, the POST, the group-keyed mDNS


@pytest.mark.parametrize("spp", [False, True], ids=["amsdu", "spp-amsdu"])
def test_a_protected_amsdu_is_decrypted_and_split(tmp_path: Path, spp: bool) -> None:
    net = Network(spp=spp)
    net.handshake()
    first = udp_frame(PHONE, ROUTER, 53000, 53, dns_query(7, "a.example"))
    second = udp_frame(PHONE, ROUTER, 53001, 53, dns_query(8, "b.example"))
    net.send(first, to_ap=True, tid=5, also=(second,))
    msgs, ctx = read(write(tmp_path, net), KEY)
    names = [m.content.questions[0][0] for m in msgs if isinstance(m.content, DnsMessage)]
    assert names == ["a.example", "b.example"] and ctx.anomalies.counts == {}


@pytest.mark.parametrize("key", [KEY, PASSPHRASE], ids=["with-ssid", "ssid-from-beacon"])
def test_export_copies_the_flows_and_the_handshake(tmp_path: Path, key: str) -> None:
    net = Network()
    if key == PASSPHRASE:
        net.beacon()
    path = write(tmp_path, session(net))
    code, doc = scan_json(tmp_path, path, "--wifi-key", key)
    assert code == 1
    out = tmp_path / "evidence.pcapng"
    result = CliRunner().invoke(main, ["export", str(doc), "--pcap", str(out), "--wifi-key", key])
    assert result.exit_code == 0, result.output
    assert KEY.encode() not in out.read_bytes() and PASSPHRASE not in result.output
    # the four handshake messages and the five frames of the POST's connection
    msgs, ctx = read(out, KEY)
    assert [m.frame for m in msgs] == [1, 2, 3, 4, 8] and ctx.anomalies.counts == {}
    assert summary(msgs)[-1] == (8, "http", f"imei={IMEI}")
    need_tool("tshark")
    theirs = subprocess.run(
        ["tshark", "-r", str(out), "-o", "wlan.enable_decryption:TRUE",
         "-o", f'uat:80211_keys:"wpa-pwd","{KEY}"', "-Y", "http.request",
         "-T", "fields", "-e", "urlencoded-form.value"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert theirs == [IMEI]


def test_watch_decrypts_a_monitor_mode_stream(tmp_path: Path) -> None:
    """``tcpdump -i wlan0mon -U -w - | phonehome watch - --wifi-key ...``: the alert
    names the IMEI that the camera's protected frames carried."""
    path = write(tmp_path, session(Network()))
    device = device_file(tmp_path)
    args = ["-", "--device", str(device), "--no-store", "--format", "jsonl", "--wifi-key", KEY]
    with open(path, "rb") as f:
        w = Watcher(args, tmp_path / "home", stdin=f)
        assert w.stop(signal.SIGCONT) == 1  # ends with its input, findings made
    alerts = w.alerts()
    found = [(a["finding"]["identifier"], a["finding"]["host"]) for a in alerts]
    assert found == [("imei", "t.example.com")]
    assert PASSPHRASE not in w.out.text + w.err.text


def test_watch_refuses_a_bad_key_before_listening(tmp_path: Path) -> None:
    res = phonehome(tmp_path / "home", "watch", "--udp", "0", "--wifi-key", "short:Net")
    assert res.returncode == 2 and res.stderr.startswith("phonehome: error: --wifi-key (the 1st)")
    assert "short:Net" not in res.stderr and res.stderr.count("\n") == 1


def tshark_frames(path: Path, kind: str, key: str) -> list[str]:
    """The frames tshark reads a DNS/mDNS query or an HTTP request in, given the key."""
    need_tool("tshark")
    return subprocess.run(
        ["tshark", "-r", str(path), "-o", "wlan.enable_decryption:TRUE",
         "-o", f'uat:80211_keys:"{kind}","{key}"', "-Y", "dns || mdns || http.request",
         "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip


@pytest.mark.parametrize("akm", ["sae", "owe"])
def test_wpa3_sae_and_owe_with_their_pmk(tmp_path: Path, akm: str) -> None:
    """SAE's and OWE's PMK comes from a Diffie-Hellman exchange: given as the PSK, the
    handshake (descriptor version 0, AKM 8 or 18) is followed; tshark agrees given the
    same PMK."""
    pmk = bytes(range(100, 132))
    path = write(tmp_path, session(Network(pmk=pmk, sae=akm == "sae", owe=akm == "owe")))
    msgs, ctx = read(path, pmk.hex())
    assert summary(msgs) == WANT and ctx.anomalies.counts == {}
    msgs, ctx = read(path, KEY)  # the passphrase is not SAE's key
    assert ctx.anomalies.counts["wifi.wrong_key"] == 1
    assert tshark_frames(path, "wpa-psk", pmk.hex()) == ["5", "9", "11"]


def test_a_passphrase_alone_takes_the_ssid_from_the_beacons(tmp_path: Path) -> None:
    net = Network()
    net.beacon()
    session(net)
    path = write(tmp_path, net)
    msgs, ctx = read(path, PASSPHRASE)
    assert summary(msgs) == [(n + 1, p, x) for n, p, x in WANT] and ctx.anomalies.counts == {}
    # without a beacon (or an association request) the network's name is unknown
    msgs, ctx = read(write(tmp_path, session(Network()), "nobeacon.pcap"), PASSPHRASE)
    assert ctx.anomalies.counts["wifi.wrong_key"] == 1
    wrong = next(a for a in ctx.anomalies.samples if a.kind == "wifi.wrong_key")
    assert "give PASSPHRASE:SSID" in wrong.detail
    assert tshark_frames(path, "wpa-pwd", PASSPHRASE) == ["6", "10", "12"]


def test_a_passphrase_alone_must_be_one() -> None:
    with pytest.raises(BadWifiKey):
        wifi_keys_of(["short"])
    keys = wifi_keys_of([PASSPHRASE, KEY])
    assert keys.passphrases == [PASSPHRASE.encode()] and keys.pmks == [pmk()]
