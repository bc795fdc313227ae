"""Tunnelled captures end to end: the simulator's tunnel-* scenarios and the real fixtures.

The simulated day wrapped in every tunnel must read exactly as the day unwrapped (same
messages, same findings), with each message's tunnel recorded; tshark must decode the
capture cleanly and see the same HTTP/DNS/TLS. The real tunnel fixtures (GTP-U over IPv4
and IPv6, Teredo, IPv4-in-IPv6, PPTP's enhanced GRE) must give the inner messages and
inner addresses tshark gives.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.context import Context, DeviceSelector
from phonehome.flowlist import to_json
from phonehome.ingest import open_capture
from phonehome.net.link import Decoder
from phonehome.pipeline import iter_messages, open_all
from phonehome.simulate.nokia7plus import DEVICE_IP4, DEVICE_IP6
from phonehome.simulate.packets import Trace
from phonehome.simulate.tunnels import KINDS, TunnelSink
from tests.conftest import SHARED
from tests.tshark import run as tshark_run

MOBILE = SHARED / "fixtures" / "mobile"
SEED = 7


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, simulate.SimulationResult]:
    out = tmp_path_factory.mktemp("tunnels")
    runs = {"plain": simulate.run("nokia7plus", out / "plain.pcap", seed=SEED)}
    for kind in KINDS:
        runs[kind] = simulate.run(f"tunnel-{kind}", out / f"{kind}.pcap", seed=SEED)
    return runs


def flows(path: Path, ctx: Context | None = None) -> list[dict[str, Any]]:
    ctx = ctx or Context()
    return [json.loads(to_json(m)) for m in iter_messages(open_all([str(path)]), ctx)]


def without(line: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in line.items() if k not in keys}


def tshark(path: Path, display_filter: str, *fields: str, last: bool = False) -> list[list[str]]:
    """tshark's fields, two-pass; ``last``: the innermost occurrence of each (tunnels
    repeat ip.src and friends once per layer)."""
    args = ["-2", "-Y", display_filter, "-T", "fields", "-E", "separator=\t"]
    if last:
        args += ["-E", "occurrence=l"]
    for f in fields:
        args += ["-e", f]
    return [line.split("\t") for line in tshark_run(path, *args).splitlines()]


# --- the simulated day in every tunnel ---------------------------------------------------


def test_every_kind_is_a_scenario() -> None:
    assert {f"tunnel-{k}" for k in KINDS} <= set(simulate.SCENARIOS)


@pytest.mark.parametrize("kind", KINDS)
def test_messages_are_the_untunnelled_days_with_their_tunnel(
    day: dict[str, simulate.SimulationResult], kind: str
) -> None:
    plain = flows(day["plain"].capture)
    got = flows(day[kind].capture)
    assert [without(m, "frame", "tunnel") for m in got] == [without(m, "frame") for m in plain]
    sink = TunnelSink(Trace(), kind)  # only its ``layers`` is used: the simulator's claim
    for m in got:
        peer = m["dst"] if m["direction"] == "out" else m["src"]
        expected = sink.layers(peer, uplink=m["direction"] == "out")
        assert m.get("tunnel", []) == expected, m
    tunnelled = sum("tunnel" in m for m in got)
    if kind == "teredo":  # the IPv6 flows only (Teredo carries IPv6)
        assert 0 < tunnelled == sum(":" in m["src"] for m in got) < len(got)
    else:
        assert tunnelled == len(got)


@pytest.mark.parametrize("kind", KINDS)
def test_ground_truth_leaks_carry_the_tunnel_of_their_message(
    day: dict[str, simulate.SimulationResult], kind: str
) -> None:
    r = day[kind]
    truth = json.loads(r.truth.read_text())
    plain = json.loads(day["plain"].truth.read_text())
    assert [without(lk, "frames", "times", "tunnel") for lk in truth["leaks"]] == [
        without(lk, "frames", "times") for lk in plain["leaks"]
    ]
    # (The truth cites the frame completing a message, flows the one starting it.)
    sent = [m for m in flows(r.capture) if m["direction"] == "out"]
    for leak in truth["leaks"]:
        to_dest = [m for m in sent if (m["dst"], m["dport"]) == (leak["ip"], leak["port"])]
        assert len(to_dest) >= len(leak["frames"])
        assert all(m.get("tunnel", []) == leak.get("tunnel", []) for m in to_dest)
    if kind != "teredo":  # there the leaks go over IPv4, beside the tunnel
        assert all(leak["tunnel"] for leak in truth["leaks"])


@pytest.mark.parametrize("kind", ["gtpu", "gre-gtpu", "vxlan-vlan", "capwap", "mpls", "teredo"])
def test_scan_finds_the_same_leaks_as_untunnelled(
    day: dict[str, simulate.SimulationResult], kind: str
) -> None:
    def findings(r: simulate.SimulationResult) -> list[dict[str, Any]]:
        res = CliRunner().invoke(
            main,
            ["scan", str(r.capture), "--device", str(r.profile), "--format", "json", "--no-store"],
        )
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        return sorted((without(f, "evidence", "value_id") for f in doc["findings"]), key=json.dumps)

    got, plain = findings(day[kind]), findings(day["plain"])
    assert got == plain and len(got) == 7


@pytest.mark.parametrize("kind", ["gtpu", "capwap", "pppoe"])
def test_device_ip_selects_the_inner_phone(
    day: dict[str, simulate.SimulationResult], kind: str
) -> None:
    ctx = Context(device=DeviceSelector(ips=frozenset({DEVICE_IP4, DEVICE_IP6})))
    got = flows(day[kind].capture, ctx)
    assert len(got) == len(flows(day["plain"].capture)) and "device.other_host" not in (
        ctx.anomalies.counts
    )


@pytest.mark.parametrize("kind", KINDS)
def test_tshark_decodes_cleanly_and_sees_the_day(
    day: dict[str, simulate.SimulationResult], kind: str
) -> None:
    r = day[kind]
    problems = tshark(
        r.capture, "_ws.malformed || _ws.expert.severity >= warning", "frame.number",
        "_ws.expert.message",
    )  # fmt: skip
    assert problems == []
    exp = r.expected
    assert len(tshark(r.capture, "http.request", "frame.number")) == exp.http_requests
    names = [row[0] for row in tshark(r.capture, "dns.flags.response == 0", "dns.qry.name")]
    assert Counter(names) == Counter(exp.dns_names)
    snis = tshark(
        r.capture, "tcp && tls.handshake.type == 1", "tls.handshake.extensions_server_name"
    )
    assert Counter(row[0] for row in snis) == Counter(exp.tls_snis)


# --- real tunnel fixtures against tshark -------------------------------------------------

FIXTURES = {
    # file: (tunnel kind phonehome records, frames tshark shows inside it)
    "gtpu.pcap": ("gtpu", 102),
    "gtpu_over_ipv6.pcap": ("gtpu", 1),
    "teredo.pcap": ("teredo", 24),
    "ipv4_in_ipv6.pcap": ("4in6", 4),
    "gre.pcapng": ("pptp", 1),
}


def innermost(path: Path) -> dict[int, tuple[str, str, str, str, bool]]:
    """tshark's innermost IP addresses, ports and whether there is payload, per frame whose
    innermost IP packet carries TCP or UDP (not ICMP)."""
    rows = tshark(
        path, "tcp || udp", "frame.number", "frame.protocols", "ip.src", "ip.dst",
        "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.len", "udp.srcport",
        "udp.dstport", "udp.length", last=True,
    )  # fmt: skip
    out = {}
    for number, protocols, s4, d4, s6, d6, ts, td, tlen, us, ud, ulen in rows:
        chain = protocols.split(":")
        ip_at = max(i for i, p in enumerate(chain) if p in ("ip", "ipv6"))
        after = [p for p in chain[ip_at + 1 :] if p in ("tcp", "udp")]
        if not after:
            continue
        src, dst = (s6, d6) if chain[ip_at] == "ipv6" else (s4, d4)
        if after[0] == "tcp":
            out[int(number)] = (src, dst, ts, td, int(tlen) > 0)
        else:
            out[int(number)] = (src, dst, us, ud, int(ulen) > 8)
    return out


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_real_fixture_is_unwrapped(name: str) -> None:
    kind, frames = FIXTURES[name]
    ctx = Context()
    dec = Decoder(ctx)
    cap = open_capture(str(MOBILE / name), 0)
    try:
        for frame in cap.frames(ctx):
            dec.decode(frame)
    finally:
        cap.close()
    assert dec.ip.tunnels.decapsulated == {kind: frames}
    assert not ctx.anomalies.counts


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_real_fixture_messages_are_the_inner_ones_tshark_shows(name: str) -> None:
    path = MOBILE / name
    got = flows(path)
    inner = innermost(path)
    # Messages come from frames with inner TCP/UDP payload, and every conversation with
    # such payload (not ICMP) has its messages here.
    with_payload = {n: v for n, v in inner.items() if v[4]}
    assert {m["frame"] for m in got} <= set(with_payload)
    conversations = {frozenset({(v[0], v[2]), (v[1], v[3])}) for v in with_payload.values()}
    shown = {frozenset({(m["src"], str(m["sport"])), (m["dst"], str(m["dport"]))}) for m in got}
    assert shown == conversations
    for m in got:
        src, dst, sport, dport, _ = inner[m["frame"]]
        ends = {(m["src"], str(m["sport"])), (m["dst"], str(m["dport"]))}
        assert ends == {(src, sport), (dst, dport)}, (m, inner[m["frame"]])
        assert m["tunnel"] and m["tunnel"][-1]["type"] == FIXTURES[name][0]
    names = [q for m in got if m["protocol"] == "dns" for q in m["qnames"]]
    assert Counter(names) == Counter(row[0] for row in tshark(path, "dns", "dns.qry.name"))
    snis = [m["sni"] for m in got if m["protocol"] == "tls"]
    assert snis == [
        row[0]
        for row in tshark(path, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
    ]
    uris = [m["uri"] for m in got if m["protocol"] == "http" and "uri" in m]
    assert uris == [row[0] for row in tshark(path, "http.request", "http.request.uri")]


def test_real_gtpu_fixture_records_the_teid_both_ways() -> None:
    got = flows(MOBILE / "gtpu_over_ipv6.pcap")
    assert got[0]["tunnel"] == [
        {
            "type": "gtpu",
            "src": "1111:2222:3333:4444:5555:6666:0:1",
            "dst": "1111:2222:3333:4444:5555:6666::",
            "teid": 0x022BE642,
        }
    ]
    assert got[0]["qnames"] == ["xxxxxx5.xxxxxxx6.com"]


def test_export_writes_the_tunnelled_frames_behind_the_findings(
    day: dict[str, simulate.SimulationResult], tmp_path: Path
) -> None:
    """Evidence names the inner flow (Community ID of the phone's 5-tuple); export finds
    its frames through the tunnel and writes them whole, tunnel headers included."""
    r = day["vxlan-vlan"]
    db = tmp_path / "x.db"
    res = CliRunner().invoke(
        main, ["scan", str(r.capture), "--device", str(r.profile), "--db", str(db), "-o",
               str(tmp_path / "r.json"), "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    out = tmp_path / "ev.pcapng"
    res = CliRunner().invoke(main, ["export", "1", "--db", str(db), "--pcap", str(out)])
    assert res.exit_code == 0, res.output
    got = flows(out)
    assert got and all(m["tunnel"][0]["type"] == "vxlan" for m in got)
    assert {m["dst"] for m in got if m["direction"] == "out"} == {"202.96.128.86"}
