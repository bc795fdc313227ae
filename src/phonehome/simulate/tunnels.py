"""The Nokia 7 Plus day as seen inside the networks that carry it: wrapped in tunnels.

``tunnel-<kind>`` scenarios build the very same day as ``nokia7plus`` (same seed, same
leaks, same events) and wrap every frame on its way to the capture file, as a capture
taken at that point of an operator's or a data centre's network would show it:

==============  =========================================================================
``gtpu``        S1-U/N3 between a base station (10.20.0.2) and the core (10.20.0.1): GTP-U
                G-PDUs with different TEIDs per direction, some with a sequence number,
                some with a PDU session container extension header; outer IPv4 datagrams
                over 1500 bytes are fragmented, as a router on that path does
``vxlan``       between two hypervisors: the phone's whole Ethernet frame, VNI 5001
``vxlan-vlan``  the same with an 802.1Q tag (VLAN 100) on the inner frame
``geneve``      Ethernet in Geneve with one option, VNI 7001
``gre``         IPv4 GRE with key 100 and sequence numbers, every third with a checksum
``gre-gtpu``    the GTP-U packets above carried in that GRE tunnel (nested)
``capwap``      CAPWAP data channel between an access point and its controller: 802.11
                QoS data frames (to/from DS; frame control swapped, as Cisco APs send it)
                with LLC/SNAP, radio MAC on uplink frames
``mpls``        an MPLS L3VPN link: two labels per direction over Ethernet
``pppoe``       a PPPoE session (0x1234) between the phone and a BRAS
``ipip``        IPv4 outer: IPv4 inside as protocol 4, IPv6 inside as 41 (6in4)
``ip6tnl``      IPv6 outer: next header 4 (4in6) and 41 (6in6)
``teredo``      the phone's IPv6 flows through a Teredo relay (UDP 3544), some with an
                origin indication; its IPv4 flows are not tunnelled (Teredo carries IPv6)
==============  =========================================================================

Ground truth: the ``nokia7plus`` leaks, each with ``tunnel`` (the layers of the sending
direction, outermost first, as ``phonehome flows --format jsonl`` prints them) where the
leak's flow is tunnelled. Frame numbers cite the frame completing the message (the last
fragment when the outer datagram was fragmented).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phonehome.simulate.nokia7plus import DEVICE_MAC, Scene, build_day, ip_str, mac_str, make_phone
from phonehome.simulate.packets import FrameSink, Trace, checksum
from phonehome.simulate.truth import Generated

KINDS: tuple[str, ...] = (
    "gtpu",
    "vxlan",
    "vxlan-vlan",
    "geneve",
    "gre",
    "gre-gtpu",
    "capwap",
    "mpls",
    "pppoe",
    "ipip",
    "ip6tnl",
    "teredo",
)

MTU = 1500

# Tunnel endpoints (uplink source first) and link addresses of the capture point.
ENB_IP, CORE_IP = bytes([10, 20, 0, 2]), bytes([10, 20, 0, 1])
TEID_UP, TEID_DOWN = 0x1A2B3C4D, 0x000F4241  # chosen by the core / by the base station
HV_A, HV_B = bytes([10, 30, 0, 11]), bytes([10, 30, 0, 12])
VXLAN_VNI, GENEVE_VNI = 5001, 7001
GRE_A, GRE_B = bytes([172, 16, 0, 1]), bytes([172, 16, 0, 2])
GRE_KEY = 100
WTP_IP, AC_IP = bytes([10, 40, 0, 5]), bytes([10, 40, 0, 1])
WTP_PORT, CAPWAP_PORT = 12223, 5247
BSSID = bytes.fromhex("f09fc2112233")
LABELS_UP, LABELS_DOWN = (16001, 3001), (16002, 3002)
PPPOE_SESSION = 0x1234
BRAS_MAC = bytes.fromhex("00e0fc998877")
TUN4_A, TUN4_B = bytes([203, 0, 113, 10]), bytes([198, 51, 100, 20])
TUN6_A = bytes.fromhex("20010db8ffff00000000000000000010")
TUN6_B = bytes.fromhex("20010db8eeee00000000000000000020")
TEREDO_CLIENT, TEREDO_RELAY = bytes([192, 168, 1, 23]), bytes([192, 0, 2, 45])
TEREDO_CLIENT_PORT, TEREDO_PORT = 50123, 3544
LINK_A, LINK_B = bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000b2")


def _eth(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + etype.to_bytes(2, "big") + payload


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int, frag: int = 0) -> bytes:
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag, 64, proto, 0, src, dst
    )
    return hdr[:10] + checksum(hdr).to_bytes(2, "big") + hdr[12:] + payload


def _ipv6(src: bytes, dst: bytes, nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, src, dst) + payload


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    # Checksum 0: allowed over IPv4 and what tunnel endpoints send (RFC 7348, TS 29.281).
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


class TunnelSink:
    """A :class:`FrameSink` that wraps each Ethernet frame of the scene and passes it on.

    A frame is uplink when the phone sent it (its source MAC is the phone's). Outer IPv4
    datagrams longer than ``mtu`` are fragmented (benchmarks pass a jumbo MTU to compare
    the same frames with and without the tunnel).
    """

    def __init__(self, sink: FrameSink, kind: str, *, mtu: int = MTU) -> None:
        if kind not in KINDS:
            raise KeyError(kind)
        self.sink = sink
        self.kind = kind
        self.mtu = mtu
        self.count = 0
        self._ident = 0x100
        self._gre_seq = [0, 0]
        wrap: dict[str, Callable[[int, bytes, bool], int]] = {
            "gtpu": self._gtpu,
            "vxlan": self._vxlan,
            "vxlan-vlan": self._vxlan,
            "geneve": self._geneve,
            "gre": self._gre_l3,
            "gre-gtpu": self._gre_gtpu,
            "capwap": self._capwap,
            "mpls": self._mpls,
            "pppoe": self._pppoe,
            "ipip": self._ipip,
            "ip6tnl": self._ipip,
            "teredo": self._teredo,
        }
        self._wrap = wrap[kind]

    def emit(self, ts_us: int, frame: bytes) -> int:
        self.count += 1
        return self._wrap(ts_us, frame, frame[6:12] == DEVICE_MAC)

    def ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    # -- what the ground truth records -------------------------------------------------

    def layers(self, inner_ip: str, uplink: bool = True) -> list[dict[str, Any]]:
        """The tunnel layers of a flow to ``inner_ip`` in one direction, in the shape of
        ``phonehome flows --format jsonl``'s ``tunnel`` key (empty: not tunnelled)."""
        v6 = ":" in inner_ip

        def layer(kind: str, a: bytes | str, b: bytes | str, **ids: Any) -> dict[str, Any]:
            sa = a if isinstance(a, str) else (mac_str(a) if len(a) == 6 else ip_str(a))
            sb = b if isinstance(b, str) else (mac_str(b) if len(b) == 6 else ip_str(b))
            src, dst = (sa, sb) if uplink else (sb, sa)
            return {"type": kind, "src": src, "dst": dst, **ids}

        k = self.kind
        teid = TEID_UP if uplink else TEID_DOWN
        if k == "gtpu":
            return [layer("gtpu", ENB_IP, CORE_IP, teid=teid)]
        if k == "gre-gtpu":
            return [
                layer("gre", GRE_A, GRE_B, key=GRE_KEY),
                layer("gtpu", ENB_IP, CORE_IP, teid=teid),
            ]
        if k in ("vxlan", "vxlan-vlan"):
            return [layer("vxlan", HV_A, HV_B, vni=VXLAN_VNI)]
        if k == "geneve":
            return [layer("geneve", HV_A, HV_B, vni=GENEVE_VNI)]
        if k == "gre":
            return [layer("gre", GRE_A, GRE_B, key=GRE_KEY)]
        if k == "capwap":
            return [layer("capwap", WTP_IP, AC_IP, radio=1)]
        if k == "mpls":
            return [
                layer("mpls", LINK_A, LINK_B, labels=list(LABELS_UP if uplink else LABELS_DOWN))
            ]
        if k == "pppoe":
            return [layer("pppoe", DEVICE_MAC, BRAS_MAC, session=PPPOE_SESSION)]
        if k == "ipip":
            return [layer("6in4" if v6 else "ipip", TUN4_A, TUN4_B)]
        if k == "ip6tnl":
            return [layer("6in6" if v6 else "4in6", TUN6_A, TUN6_B)]
        assert k == "teredo"
        if not v6:
            return []
        return [layer("teredo", TEREDO_CLIENT, TEREDO_RELAY)]

    # -- the wrappers ------------------------------------------------------------------

    def _ip_out(self, ts_us: int, eth: tuple[bytes, bytes], src: bytes, dst: bytes, proto: int,
                payload: bytes) -> int:  # fmt: skip
        """An outer IPv4 datagram in one or more frames (fragmented beyond the MTU)."""
        ident = self.ident()
        dmac, smac = eth
        if 20 + len(payload) <= self.mtu:
            return self.sink.emit(
                ts_us, _eth(dmac, smac, 0x0800, _ipv4(src, dst, proto, payload, ident))
            )
        step = (self.mtu - 20) // 8 * 8
        ref = -1
        for off in range(0, len(payload), step):
            more = off + step < len(payload)
            frag = (0x2000 if more else 0) | off // 8
            chunk = payload[off : off + step]
            ref = self.sink.emit(
                ts_us, _eth(dmac, smac, 0x0800, _ipv4(src, dst, proto, chunk, ident, frag))
            )
        return ref

    def _gtp(self, inner_ip: bytes, uplink: bool) -> bytes:
        """GTP-U G-PDU: every 3rd with a sequence number, every 5th with a PDU session
        container extension header (TS 38.415: UL/DL PDU session information, QFI 9)."""
        teid = TEID_UP if uplink else TEID_DOWN
        n = self.count
        if n % 5 == 0:
            ext = bytes([1, 0x10 if uplink else 0x00, 9, 0])  # length 1 word, next type 0
            opt = struct.pack("!HBB", n & 0xFFFF, 0, 0x85) + ext
            flags = 0x34 | (0x02 if n % 3 == 0 else 0)
        elif n % 3 == 0:
            opt = struct.pack("!HBB", n & 0xFFFF, 0, 0)
            flags = 0x32
        else:
            opt = b""
            flags = 0x30
        body = opt + inner_ip
        return struct.pack("!BBHI", flags, 0xFF, len(body), teid) + body

    def _gtpu(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        a, b = (ENB_IP, CORE_IP) if uplink else (CORE_IP, ENB_IP)
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        return self._ip_out(ts_us, eth, a, b, 17, _udp(2152, 2152, self._gtp(frame[14:], uplink)))

    def _gre_header(self, uplink: bool, ptype: int, payload: bytes) -> bytes:
        i = 0 if uplink else 1
        self._gre_seq[i] += 1
        with_checksum = self._gre_seq[i] % 3 == 0
        flags = 0x3000 | (0x8000 if with_checksum else 0)
        hdr = struct.pack("!HH", flags, ptype)
        tail = struct.pack("!II", GRE_KEY, self._gre_seq[i])
        if not with_checksum:
            return hdr + tail + payload
        unsummed = hdr + b"\0\0\0\0" + tail + payload
        return hdr + struct.pack("!HH", checksum(unsummed), 0) + tail + payload

    def _gre_l3(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        inner = frame[14:]
        ptype = 0x0800 if inner[0] >> 4 == 4 else 0x86DD
        a, b = (GRE_A, GRE_B) if uplink else (GRE_B, GRE_A)
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        return self._ip_out(ts_us, eth, a, b, 47, self._gre_header(uplink, ptype, inner))

    def _gre_gtpu(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        a, b = (ENB_IP, CORE_IP) if uplink else (CORE_IP, ENB_IP)
        gtp_ip = _ipv4(a, b, 17, _udp(2152, 2152, self._gtp(frame[14:], uplink)), self.ident())
        g, h = (GRE_A, GRE_B) if uplink else (GRE_B, GRE_A)
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        return self._ip_out(ts_us, eth, g, h, 47, self._gre_header(uplink, 0x0800, gtp_ip))

    def _entropy_port(self, frame: bytes) -> int:
        """A source port from the inner flow, as VXLAN/Geneve endpoints hash it."""
        return 49152 + (sum(frame[26:38]) * 131 + sum(frame[34:38])) % 16384

    def _vxlan(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        if self.kind == "vxlan-vlan":
            frame = frame[:12] + struct.pack("!HH", 0x8100, 100) + frame[12:]
        a, b = (HV_A, HV_B) if uplink else (HV_B, HV_A)
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        vxlan = struct.pack("!BxxxI", 0x08, VXLAN_VNI << 8) + frame
        return self._ip_out(ts_us, eth, a, b, 17, _udp(self._entropy_port(frame), 4789, vxlan))

    def _geneve(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        a, b = (HV_A, HV_B) if uplink else (HV_B, HV_A)
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        option = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\x00\x00\x00\x2a"  # class, type, 1 word
        hdr = struct.pack("!BBHI", len(option) // 4, 0, 0x6558, GENEVE_VNI << 8)
        geneve = hdr + option + frame
        return self._ip_out(ts_us, eth, a, b, 17, _udp(self._entropy_port(frame), 6081, geneve))

    def _capwap(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        dst_mac, src_mac, etype = frame[0:6], frame[6:12], frame[12:14]
        # QoS data, frame control bytes swapped as Cisco access points send them (what
        # Wireshark expects by default, capwap.swap_fc); the decoder reads either order.
        if uplink:  # to DS: BSSID, SA, DA
            fc, addrs = b"\x01\x88", BSSID + src_mac + dst_mac
        else:  # from DS: DA, BSSID, SA
            fc, addrs = b"\x02\x88", dst_mac + BSSID + src_mac
        seq = (self.count & 0xFFF) << 4
        dot11 = fc + b"\x00\x00" + addrs + struct.pack("<H", seq) + b"\x00\x00"  # QoS TID 0
        llc = b"\xaa\xaa\x03\x00\x00\x00" + etype
        # Preamble 0; HLEN, RID 1, WBID 1 (802.11), T (native frame), M (radio MAC) uplink.
        if uplink:
            radio_mac = bytes([6]) + BSSID + b"\x00"  # length, MAC, padding to 4 bytes
            word = (4 << 19) | (1 << 14) | (1 << 9) | 0x100 | 0x10
        else:
            radio_mac = b""
            word = (2 << 19) | (1 << 14) | (1 << 9) | 0x100
        capwap = struct.pack("!II", word, 0) + radio_mac + dot11 + llc + frame[14:]
        if uplink:
            return self._ip_out(ts_us, (LINK_B, LINK_A), WTP_IP, AC_IP, 17,
                                _udp(WTP_PORT, CAPWAP_PORT, capwap))  # fmt: skip
        return self._ip_out(ts_us, (LINK_A, LINK_B), AC_IP, WTP_IP, 17,
                            _udp(CAPWAP_PORT, WTP_PORT, capwap))  # fmt: skip

    def _mpls(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        labels = LABELS_UP if uplink else LABELS_DOWN
        stack = b"".join(
            struct.pack("!I", label << 12 | (0x100 if i == len(labels) - 1 else 0) | 64)
            for i, label in enumerate(labels)
        )
        dmac, smac = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        return self.sink.emit(ts_us, _eth(dmac, smac, 0x8847, stack + frame[14:]))

    def _pppoe(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        inner = frame[14:]
        ppp = b"\x00\x21" if inner[0] >> 4 == 4 else b"\x00\x57"
        pppoe = struct.pack("!BBHH", 0x11, 0, PPPOE_SESSION, len(inner) + 2) + ppp + inner
        dmac, smac = (BRAS_MAC, DEVICE_MAC) if uplink else (DEVICE_MAC, BRAS_MAC)
        return self.sink.emit(ts_us, _eth(dmac, smac, 0x8864, pppoe))

    def _ipip(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        inner = frame[14:]
        proto = 4 if inner[0] >> 4 == 4 else 41
        eth = (LINK_B, LINK_A) if uplink else (LINK_A, LINK_B)
        if self.kind == "ipip":
            a, b = (TUN4_A, TUN4_B) if uplink else (TUN4_B, TUN4_A)
            return self._ip_out(ts_us, eth, a, b, proto, inner)
        a, b = (TUN6_A, TUN6_B) if uplink else (TUN6_B, TUN6_A)
        return self.sink.emit(ts_us, _eth(eth[0], eth[1], 0x86DD, _ipv6(a, b, proto, inner)))

    def _teredo(self, ts_us: int, frame: bytes, uplink: bool) -> int:
        inner = frame[14:]
        if inner[0] >> 4 != 6:
            return self.sink.emit(ts_us, frame)  # Teredo carries IPv6 only
        if not uplink and self.count % 4 == 0:
            # origin indication: the relay's port and address, obfuscated (RFC 4380 5.1.1)
            port = TEREDO_PORT ^ 0xFFFF
            addr = bytes(b ^ 0xFF for b in TEREDO_RELAY)
            inner = b"\x00\x00" + port.to_bytes(2, "big") + addr + inner
        if uplink:
            return self._ip_out(ts_us, (frame[0:6], frame[6:12]), TEREDO_CLIENT, TEREDO_RELAY,
                                17, _udp(TEREDO_CLIENT_PORT, TEREDO_PORT, inner))  # fmt: skip
        return self._ip_out(ts_us, (frame[0:6], frame[6:12]), TEREDO_RELAY, TEREDO_CLIENT,
                            17, _udp(TEREDO_PORT, TEREDO_CLIENT_PORT, inner))  # fmt: skip


def generate(
    out: Path, seed: int, size_mb: float | None, pcapng: bool, *, variant: str = "gtpu"
) -> Generated:
    """``tunnel-<variant>``: the ``nokia7plus`` day wrapped in tunnel ``variant``."""
    trace = Trace()
    sink = TunnelSink(trace, variant)
    scene = Scene(make_phone(seed), sink, seed)
    build_day(scene)
    generated = scene.finish(trace, out, scenario=f"tunnel-{variant}", seed=seed, pcapng=pcapng)
    for leak in generated.truth["leaks"]:
        layers = sink.layers(leak["ip"])
        if layers:
            leak["tunnel"] = layers
    return generated
