"""Tunnelled packets through the flow table and the pipeline: flow identity, directions,
the device, passive DNS and how messages show their tunnel.

Captures are built by hand (tests/builders_tunnel.py) and read by the real pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

from phonehome.context import Context, DeviceSelector
from phonehome.flowlist import to_json, to_text
from phonehome.model.message import HttpRequest, HttpResponse, Message, TunnelLayer
from phonehome.pipeline import iter_messages, open_all
from tests.builders_capture import pcap_file
from tests.builders_net import ACK, FIN, PSH, SYN, ether, ipv4, tcp, udp
from tests.builders_tunnel import (
    OUTER_A,
    OUTER_B,
    PHONE,
    SERVER,
    gtpu,
    over_udp,
    vxlan,
)

ENB, CORE = OUTER_A, OUTER_B
UP, DOWN = 0x0000A001, 0x0000B002
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def gtp_frame(inner: bytes, uplink: bool, teid: int | None = None) -> bytes:
    """Uplink base station -> core with the core's TEID; downlink the other way."""
    t = teid if teid is not None else (UP if uplink else DOWN)
    src, dst = (ENB, CORE) if uplink else (CORE, ENB)
    return ether(ipv4(udp(2152, 2152, gtpu(inner, teid=t)), 17, src, dst))


def segment(
    uplink: bool,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    phone: bytes = PHONE,
    cport: int = 40000,
) -> bytes:
    if uplink:
        return ipv4(tcp(cport, 80, seq, ack, flags, payload), 6, phone, SERVER)
    return ipv4(tcp(80, cport, seq, ack, flags, payload), 6, SERVER, phone)


def http_exchange(
    path: str = "/a",
    teids: tuple[int, int] = (UP, DOWN),
    phone: bytes = PHONE,
    cport: int = 40000,
    isn: int = 1000,
) -> list[bytes]:
    """A whole HTTP/1.1 exchange over GTP-U, with its handshake and close."""
    get = f"GET {path} HTTP/1.1\r\nHost: inner.example\r\n\r\n".encode()
    up, down = teids
    c, s = isn, 5000
    inner = [
        (True, segment(True, c, 0, SYN, phone=phone, cport=cport)),
        (False, segment(False, s, c + 1, SYN | ACK, phone=phone, cport=cport)),
        (True, segment(True, c + 1, s + 1, ACK, phone=phone, cport=cport)),
        (True, segment(True, c + 1, s + 1, ACK | PSH, get, phone=phone, cport=cport)),
        (
            False,
            segment(False, s + 1, c + 1 + len(get), ACK | PSH, RESPONSE, phone=phone, cport=cport),
        ),
        (
            True,
            segment(
                True, c + 1 + len(get), s + 1 + len(RESPONSE), FIN | ACK, phone=phone, cport=cport
            ),
        ),
        (
            False,
            segment(
                False, s + 1 + len(RESPONSE), c + 2 + len(get), FIN | ACK, phone=phone, cport=cport
            ),
        ),
    ]
    return [gtp_frame(pkt, uplink, up if uplink else down) for uplink, pkt in inner]


def read(
    tmp_path: Path, frames: list[bytes], ctx: Context | None = None
) -> tuple[list[Message], Context]:
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_file((1_772_409_600 + i, 0, f) for i, f in enumerate(frames)))
    ctx = ctx or Context()
    return list(iter_messages(open_all([str(path)]), ctx)), ctx


def test_gtpu_teids_differ_by_direction_yet_make_one_flow(tmp_path: Path) -> None:
    msgs, ctx = read(tmp_path, http_exchange())
    assert [type(m.content) for m in msgs] == [HttpRequest, HttpResponse]
    req, resp = msgs
    assert req.flow_id == resp.flow_id and ctx.stats.flows == 1
    assert not ctx.anomalies.counts  # no midstream, no gap: the handshake was one flow
    assert (req.src.ip, req.dst.ip, req.direction) == ("10.45.0.7", "93.184.216.34", "out")
    assert req.tunnel == (TunnelLayer("gtpu", "10.0.0.1", "10.0.0.2", (UP,)),)
    assert resp.tunnel == (TunnelLayer("gtpu", "10.0.0.2", "10.0.0.1", (DOWN,)),)


def test_two_tunnels_with_the_same_inner_addresses_are_two_phones(tmp_path: Path) -> None:
    first = http_exchange("/one", (UP, DOWN))
    second = http_exchange("/two", (UP + 1, DOWN + 1))
    # interleaved, frame by frame: the same private address and ports in both tunnels
    frames = [f for pair in zip(first, second, strict=True) for f in pair]
    msgs, ctx = read(tmp_path, frames)
    requests = [m for m in msgs if isinstance(m.content, HttpRequest)]
    responses = [m for m in msgs if isinstance(m.content, HttpResponse)]
    assert sorted(m.content.target for m in requests) == ["/one", "/two"]
    assert len({m.flow_id for m in requests}) == 2 and ctx.stats.flows == 2
    by_flow = {m.flow_id: m.tunnel[0].ids for m in requests}
    for r in responses:  # each response in its own phone's flow, with its downlink TEID
        assert r.tunnel[0].ids == ((by_flow[r.flow_id][0] - UP) + DOWN,)
    assert not ctx.anomalies.counts


def test_a_syn_ack_binds_to_its_own_syn_when_tunnels_share_the_inner_tuple(
    tmp_path: Path,
) -> None:
    first = http_exchange("/one", (UP, DOWN), isn=1000)
    second = http_exchange("/two", (UP + 1, DOWN + 1), isn=777_000)
    # both SYNs, then the second phone's SYN-ACK before the first's, then the rest
    frames = [first[0], second[0], second[1], first[1], *first[2:], *second[2:]]
    msgs, ctx = read(tmp_path, frames)
    by_target = {m.content.target: m.flow_id for m in msgs if isinstance(m.content, HttpRequest)}
    responses = {m.flow_id: m.tunnel[0].ids for m in msgs if isinstance(m.content, HttpResponse)}
    assert responses == {by_target["/one"]: (DOWN,), by_target["/two"]: (DOWN + 1,)}
    assert ctx.stats.flows == 2 and not ctx.anomalies.counts


def test_tunnelled_and_untunnelled_packets_of_one_five_tuple_are_different_flows(
    tmp_path: Path,
) -> None:
    dgram = ipv4(udp(40000, 9999, b"payload"), 17, PHONE, SERVER)
    msgs, _ctx = read(tmp_path, [ether(dgram), gtp_frame(dgram, True), ether(dgram)])
    assert [m.flow_id for m in msgs] == [1, 2, 1]
    assert [bool(m.tunnel) for m in msgs] == [False, True, False]


def test_symmetric_tunnel_found_under_the_predicted_key_then_a_new_vni_is_a_new_flow(
    tmp_path: Path,
) -> None:
    up = ipv4(udp(40000, 9999, b"request"), 17, PHONE, SERVER)
    down = ipv4(udp(9999, 40000, b"answer"), 17, SERVER, PHONE)

    def vx(inner: bytes, uplink: bool, vni: int) -> bytes:
        src, dst = (OUTER_A, OUTER_B) if uplink else (OUTER_B, OUTER_A)
        return ether(ipv4(udp(50000, 4789, vxlan(ether(inner), vni)), 17, src, dst))

    msgs, _ = read(tmp_path, [vx(up, True, 7), vx(down, False, 7), vx(down, False, 8)])
    assert [m.flow_id for m in msgs] == [1, 1, 2]
    assert [m.tunnel[0].ids for m in msgs] == [(7,), (7,), (8,)]


def test_device_ip_is_the_inner_address(tmp_path: Path) -> None:
    frames = http_exchange()
    msgs, ctx = read(tmp_path, frames, Context(device=DeviceSelector(ips=frozenset({PHONE}))))
    assert len(msgs) == 2 and msgs[0].direction == "out"
    # The tunnel endpoint is not the phone: naming it selects nothing.
    msgs, ctx = read(tmp_path, frames, Context(device=DeviceSelector(ips=frozenset({ENB}))))
    assert msgs == [] and ctx.anomalies.counts == {"device.other_host": 1}


def test_device_mac_is_the_inner_frames_source(tmp_path: Path) -> None:
    phone_mac = bytes.fromhex("2039565c7a13")
    inner = ether(ipv4(udp(40000, 9999, b"x"), 17, PHONE, SERVER), src=phone_mac)
    frame = over_udp(4789, vxlan(inner))
    ctx = Context(device=DeviceSelector(macs=frozenset({phone_mac})))
    msgs, ctx = read(tmp_path, [frame], ctx)
    assert len(msgs) == 1 and msgs[0].direction == "out" and not ctx.anomalies.counts


def test_passive_dns_learns_from_tunnelled_answers(tmp_path: Path) -> None:
    answer = bytes.fromhex("abcd81800001000100000000")  # id, response, 1 question, 1 answer
    answer += b"\x05inner\x07example\x00\x00\x01\x00\x01"
    answer += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + SERVER
    dns = ipv4(udp(53, 40010, answer), 17, bytes([10, 45, 0, 1]), PHONE)
    frames = [gtp_frame(dns, False), *http_exchange()]
    msgs, _ = read(tmp_path, frames)
    assert msgs[0].protocol == "dns" and msgs[0].tunnel
    request = msgs[1]
    assert isinstance(request.content, HttpRequest) and request.host == "inner.example"


def test_jsonl_has_a_tunnel_key_only_when_tunnelled(tmp_path: Path) -> None:
    dgram = ipv4(udp(40000, 9999, b"payload"), 17, PHONE, SERVER)
    msgs, _ = read(tmp_path, [ether(dgram), gtp_frame(dgram, True)])
    plain, tunnelled = (json.loads(to_json(m)) for m in msgs)
    assert "tunnel" not in plain
    assert tunnelled["tunnel"] == [
        {"type": "gtpu", "src": "10.0.0.1", "dst": "10.0.0.2", "teid": UP}
    ]
    # The common header in its order, then the tunnel, then the content fields.
    assert list(tunnelled)[:14] == list(plain)[:14] and list(tunnelled)[14] == "tunnel"
    assert list(tunnelled)[15:] == list(plain)[14:]
    assert (tunnelled["src"], tunnelled["dst"]) == ("10.45.0.7", "93.184.216.34")
    assert "via" not in to_text(msgs[0])
    assert to_text(msgs[1]).endswith("(via gtpu teid=0x0000a001)")


def test_tunnel_layer_json_and_brief_per_kind() -> None:
    cases = [
        (TunnelLayer("gtpu", "a", "b", (1,)), {"teid": 1}, "gtpu teid=0x00000001"),
        (TunnelLayer("vxlan", "a", "b", (5001,)), {"vni": 5001}, "vxlan vni=5001"),
        (TunnelLayer("gre", "a", "b", ()), {}, "gre"),
        (TunnelLayer("gre", "a", "b", (7,)), {"key": 7}, "gre key=7"),
        (TunnelLayer("mpls", "", "", (16, 3)), {"labels": [16, 3]}, "mpls labels=16/3"),
        (TunnelLayer("pppoe", "m", "n", (10,)), {"session": 10}, "pppoe session=0x000a"),
        (TunnelLayer("teredo", "a", "b", ()), {}, "teredo"),
    ]
    for layer, ids, brief in cases:
        d = layer.to_json()
        assert d.pop("type") == layer.kind and layer.brief() == brief
        assert d.pop("src") == (layer.src or None) and d.pop("dst") == (layer.dst or None)
        assert d == ids


def test_tunnel_scopes_stay_bounded_by_the_live_flows() -> None:
    """Every TEID gets a scope id; ids no live key uses are dropped as flows go."""
    from phonehome.model.frame import Packet
    from phonehome.net.flows import FlowTable
    from tests.builders_net import RecordingSession

    table = FlowTable(Context(), lambda flow: RecordingSession(), max_flows=20)
    for i in range(2000):
        hop = ("gtpu", ENB, CORE, (i,))
        pkt = Packet(i + 1, 1000.0 + i, PHONE, SERVER, 17, 40000, 9999, b"x", tunnel=(hop,))
        table.process(pkt)
        assert len(table._scopes) <= 3 * 2 * 20 + 3  # three ids per flow, doubled at most
    assert table.live_flows == 20 and table.evicted == 1980
    # The latest flows are still found under their scope.
    last = Packet(3000, 3000.0, SERVER, PHONE, 17, 9999, 40000, b"y",
                  tunnel=(("gtpu", CORE, ENB, (1999,)),))  # fmt: skip
    [(flow, parsed)] = table.process(last)
    assert flow.id == 2000 and not parsed.from_client and table.live_flows == 20
