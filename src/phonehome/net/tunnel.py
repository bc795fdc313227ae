"""Decapsulation: the phone's own packets inside the tunnels that carry them.

A capture taken inside an operator's network, at a Wi-Fi controller or on a cloud host
sees the phone's traffic wrapped: GTP-U between base station and core, CAPWAP between
access point and controller, VXLAN/Geneve between hypervisors, GRE, IP-in-IP, Teredo,
MPLS, PPPoE. Left wrapped, every packet is a UDP or IP payload to the tunnel endpoint and
the real destination, protocol and host are lost. So the packet path unwraps them here,
nested too, and hands the flow table the innermost packet with the stack of tunnels it
came through (``Packet.tunnel``, outermost first).

Each tunnel is recognised by its IP protocol number, UDP port or EtherType **and** a
plausibility check of its header, so that ordinary traffic that happens to use a tunnel
port stays what it is:

========  =================  ==========================================================
kind      recognised by      checked, and what is recorded as the tunnel's ids
========  =================  ==========================================================
gtpu      UDP 2152           version 1, PT 1, length, optional fields and extension
                             header chain (TS 29.281); G-PDU only: echo, error
                             indication, end marker are signalling (``control``); TEID
vxlan     UDP 4789           I flag (RFC 7348; the GBP G flag allowed); VNI
geneve    UDP 6081           version 0, option lengths add up (RFC 8926); VNI
gre       IP 47              RFC 2784/2890: checksum, key, sequence bits; IPv4, IPv6,
                             Ethernet (0x6558), MPLS; key
pptp      IP 47, version 1   enhanced GRE (RFC 2637) with PPP inside; call ID
erspan    GRE 0x88be/0x22eb  ERSPAN type I/II/III mirrored frames; session ID
ipip,...  IP 4 / 41          ``ipip`` 4-in-4, ``6in4``, ``4in6``, ``6in6``; no id
teredo    UDP 3544           optional authentication and origin indications, then an
                             IPv6 header whose length is exactly the rest (RFC 4380)
capwap    UDP 5247           data channel, version 0, header length (RFC 5415); 802.11
                             frames (LLC/SNAP) or 802.3 (RFC 5416); radio ID
mpls      EtherType 0x8847/8 label stack; then IPv4/IPv6 by the first nibble, or a
                             pseudowire control word and Ethernet (RFC 4385/4448); labels
pppoe     EtherType 0x8864   session stage, version/type 0x11, code 0 (RFC 2516); session
========  =================  ==========================================================

A header that claims to be a tunnel but is truncated or inconsistent is an anomaly
(``tunnel.<kind>.<problem>``) and the outer packet is then treated as before: a UDP
datagram to the tunnel port, or an IP datagram of another transport. Tunnels nest at
most ``MAX_DEPTH`` deep (``tunnel.too_deep`` beyond). Tunnel signalling that carries no
user data (GTP-U echo, CAPWAP keep-alive, PPTP acknowledgements ...) is counted in
``control``; payloads that are encrypted by the tunnel (CAPWAP DTLS, protected 802.11,
MPPE) in ``encrypted``; link-layer frames that are not IP in ``non_ip``.

All of this runs only for packets that are tunnelled or use a tunnel port or protocol:
the untunnelled path pays one port range comparison per UDP datagram.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol

from phonehome.context import Context
from phonehome.model.frame import Frame, LinkFrame, Packet, TunnelHop
from phonehome.model.message import TunnelLayer
from phonehome.net import wifi
from phonehome.net.addr import ntop


class IpLayer(Protocol):
    """What the decapsulator needs of :class:`phonehome.net.ip.IpDecoder`, through which it
    reads inner packets. A protocol rather than the class: ``net.ip`` imports this module,
    and modules never import each other (tests/test_imports.py). Only tunnelled packets
    call through it; plain IPv4/IPv6 frames reach ``IpDecoder`` directly (``net.link``)."""

    other_transport: int

    def ipv4(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None: ...

    def ipv6(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None: ...


GTPU_PORT: Final = 2152
TEREDO_PORT: Final = 3544
VXLAN_PORT: Final = 4789
CAPWAP_DATA_PORT: Final = 5247
GENEVE_PORT: Final = 6081
UDP_TUNNEL_PORTS: Final = frozenset((GTPU_PORT, TEREDO_PORT, VXLAN_PORT, CAPWAP_DATA_PORT,
                                     GENEVE_PORT))  # fmt: skip
UDP_TUNNEL_PORT_MIN: Final = 2152
"""Every UDP tunnel port lies in [MIN, MAX]: one range test keeps the usual datagram
(DNS 53, QUIC 443, ephemeral ports above 32767) off the port set lookup."""
UDP_TUNNEL_PORT_MAX: Final = 6081

IPPROTO_IPIP: Final = 4
IPPROTO_IPV6: Final = 41
IPPROTO_GRE: Final = 47

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD
ETH_VLAN_TAGS: Final = frozenset((0x8100, 0x88A8, 0x9100))
ETH_PPPOE_SESSION: Final = 0x8864
ETH_MPLS: Final = frozenset((0x8847, 0x8848))
ETH_TEB: Final = 0x6558
ETH_PPP: Final = 0x880B
ETH_ERSPAN2: Final = 0x88BE
ETH_ERSPAN3: Final = 0x22EB
ETH_EAPOL: Final = 0x888E
PPP_IPV4: Final = 0x0021
PPP_IPV6: Final = 0x0057
PPP_COMPRESSED: Final = 0x00FD
"""PPP Compressed Datagram (CCP): MPPE encryption in PPTP, not readable."""

MAX_DEPTH: Final = 8
MAX_VLAN_TAGS: Final = 8
MAX_MPLS_LABELS: Final = 16
MAX_GTP_EXTENSIONS: Final = 16

GTP_GPDU: Final = 255
GTP_SIGNALLING: Final = frozenset((1, 2, 26, 31, 253, 254))
"""Echo request/response, error indication, supported extension headers notification,
tunnel status, end marker: GTP-U path management, not user data."""


_u16: Final = struct.Struct("!H").unpack_from
_u32: Final = struct.Struct("!I").unpack_from
_gtp: Final = struct.Struct("!BBHI").unpack_from
_gre: Final = struct.Struct("!HH").unpack_from

NOT_TUNNEL: Final = Packet(0, 0.0, b"", b"", 0, 0, 0, b"")
"""Returned by :meth:`Decapsulator.udp` when the datagram is not (or not validly) a
tunnel: the caller then makes the ordinary UDP packet. Compared by identity."""


def udp_tunnel_port(sport: int, dport: int) -> bool:
    """Whether either port is a UDP tunnel's. Typed ints, so that compiled callers
    holding ``struct`` results compare natively: this runs for every UDP datagram."""
    if UDP_TUNNEL_PORT_MIN <= dport <= UDP_TUNNEL_PORT_MAX and (
        dport in (GTPU_PORT, TEREDO_PORT, VXLAN_PORT, CAPWAP_DATA_PORT, GENEVE_PORT)
    ):
        return True
    return UDP_TUNNEL_PORT_MIN <= sport <= UDP_TUNNEL_PORT_MAX and (
        sport in (GTPU_PORT, TEREDO_PORT, VXLAN_PORT, CAPWAP_DATA_PORT, GENEVE_PORT)
    )


def _wrap(pkt: Packet | None, hop: TunnelHop) -> Packet | None:
    if pkt is not None:
        pkt.tunnel = (hop, *pkt.tunnel)
    return pkt


class Decapsulator:
    """Unwraps tunnels for :class:`~phonehome.net.ip.IpDecoder`, recursing through it.

    ``decapsulated`` counts packets per tunnel kind (each layer of a nested packet
    counts). ``control``/``encrypted``/``non_ip``: see the module docstring.
    """

    def __init__(self, ctx: Context, ip: IpLayer) -> None:
        self._anomalies = ctx.anomalies
        self._ip = ip
        self.depth = 0
        self.decapsulated: dict[str, int] = {}
        self.control = 0
        self.encrypted = 0
        self.non_ip = 0
        self.eapol: list[LinkFrame] = []
        """EAPOL frames met after VLAN tags or inside a tunnel (the link decoder's list)."""

    def _bad(self, kind: str, frame: Frame, detail: str) -> None:
        self._anomalies.add(kind, frame.input, frame.number, detail)

    def _enter(self, kind: str, frame: Frame) -> bool:
        """One layer deeper, unless that is too deep (then an anomaly, and False)."""
        if self.depth >= MAX_DEPTH:
            self._bad(
                "tunnel.too_deep", frame, f"{kind} inside {self.depth} tunnels; not unwrapped"
            )
            return False
        self.depth += 1
        self.decapsulated[kind] = self.decapsulated.get(kind, 0) + 1
        return True

    # -- entry points ------------------------------------------------------------------

    def udp(
        self,
        data: bytes,
        start: int,
        end: int,
        sport: int,
        dport: int,
        src: bytes,
        dst: bytes,
        frame: Frame,
        truncated: bool,
    ) -> Packet | None:
        """``data[start:end]``, the payload of a UDP datagram on a tunnel port: the inner
        packet, None (tunnel signalling, or an inner packet that is not TCP/UDP), or
        :data:`NOT_TUNNEL`."""
        if start >= end:
            return NOT_TUNNEL
        if dport == GTPU_PORT or sport == GTPU_PORT:
            res = self._gtpu(data, start, end, src, dst, frame, truncated)
            if res is not NOT_TUNNEL:
                return res
        if dport == VXLAN_PORT or sport == VXLAN_PORT:
            res = self._vxlan(data, start, end, src, dst, frame)
            if res is not NOT_TUNNEL:
                return res
        if dport == GENEVE_PORT or sport == GENEVE_PORT:
            res = self._geneve(data, start, end, src, dst, frame)
            if res is not NOT_TUNNEL:
                return res
        if dport == CAPWAP_DATA_PORT or sport == CAPWAP_DATA_PORT:
            res = self._capwap(data, start, end, src, dst, frame)
            if res is not NOT_TUNNEL:
                return res
        if dport == TEREDO_PORT or sport == TEREDO_PORT:
            return self._teredo(data, start, end, src, dst, frame, truncated)
        return NOT_TUNNEL

    def ip_proto(
        self, proto: int, data: bytes, start: int, end: int, src: bytes, dst: bytes, frame: Frame
    ) -> Packet | None:
        """The payload of an IP datagram of protocol 4, 41 or 47. A damaged one is an
        anomaly and counts, as before, as another transport."""
        if proto == IPPROTO_GRE:
            res = self._gre(data, start, end, src, dst, frame)
        else:
            v4 = len(src) == 4
            if proto == IPPROTO_IPIP:
                kind, want = ("ipip" if v4 else "4in6"), 4
            else:
                kind, want = ("6in4" if v4 else "6in6"), 6
            if start >= end or data[start] >> 4 != want:
                got = data[start] >> 4 if start < end else "nothing"
                self._bad(f"tunnel.{kind}.bad_inner", frame, f"inner IP version {got}")
                res = NOT_TUNNEL
            else:
                res = self._inner_ip(data[start:end], (kind, src, dst, ()), frame)
        if res is NOT_TUNNEL:
            self._ip.other_transport += 1
            return None
        return res

    def ether_type(
        self,
        etype: int,
        data: bytes,
        off: int,
        frame: Frame,
        src_mac: bytes | None,
        dst_mac: bytes | None,
    ) -> Packet | None:
        """What follows an EtherType at ``off``: VLAN tags, PPPoE, MPLS, IPv4, IPv6."""
        tags = 0
        while etype in ETH_VLAN_TAGS:
            tags += 1
            if off + 4 > len(data) or tags > MAX_VLAN_TAGS:
                self._bad(
                    "link.truncated",
                    frame,
                    f"VLAN tag header needs {off + 4} bytes, frame has {len(data)}",
                )
                return None
            etype = _u16(data, off + 2)[0]
            off += 4
        if etype == ETH_IPV4:
            return self._ip.ipv4(data, off, frame, src_mac, dst_mac)
        if etype == ETH_IPV6:
            return self._ip.ipv6(data, off, frame, src_mac, dst_mac)
        if etype == ETH_PPPOE_SESSION:
            return self._pppoe(data, off, frame, src_mac, dst_mac)
        if etype in ETH_MPLS:
            return self._mpls(data, off, len(data), frame, src_mac or b"", dst_mac or b"")
        if etype == ETH_EAPOL:  # 802.1X on a trunk port, or bridged by a Wi-Fi controller
            self.eapol.append((frame, data[off:], src_mac, dst_mac))
            return None
        self.non_ip += 1
        return None

    # -- layer 2 payloads --------------------------------------------------------------

    def _ethernet(
        self, data: bytes, start: int, end: int, frame: Frame, kind: str
    ) -> Packet | None:
        """A whole Ethernet frame carried in a tunnel (VXLAN, Geneve, GRE TEB, PW ...)."""
        if end - start < 14:
            self._bad(
                f"tunnel.{kind}.truncated", frame, f"inner Ethernet frame of {end - start} bytes"
            )
            return None
        inner = data[start:end]
        return self.ether_type(_u16(inner, 12)[0], inner, 14, frame, inner[6:12], inner[0:6])

    def _inner_ip(self, inner: bytes, hop: TunnelHop, frame: Frame) -> Packet | None:
        """An IP packet (version from its first nibble) inside tunnel ``hop``; NOT_TUNNEL
        when it is neither IPv4 nor IPv6."""
        version = inner[0] >> 4 if inner else 0
        if version != 4 and version != 6:
            return NOT_TUNNEL
        if not self._enter(hop[0], frame):
            return None
        try:
            if version == 4:
                pkt = self._ip.ipv4(inner, 0, frame, None, None)
            else:
                pkt = self._ip.ipv6(inner, 0, frame, None, None)
        finally:
            self.depth -= 1
        return _wrap(pkt, hop)

    def _inner_ether(
        self, data: bytes, start: int, end: int, hop: TunnelHop, frame: Frame
    ) -> Packet | None:
        if not self._enter(hop[0], frame):
            return None
        try:
            pkt = self._ethernet(data, start, end, frame, hop[0])
        finally:
            self.depth -= 1
        return _wrap(pkt, hop)

    # -- UDP tunnels -------------------------------------------------------------------

    def _gtpu(
        self,
        data: bytes,
        start: int,
        end: int,
        src: bytes,
        dst: bytes,
        frame: Frame,
        truncated: bool,
    ) -> Packet | None:
        if data[start] & 0xF0 != 0x30:  # version 1, protocol type GTP (0: GTP' charging)
            return NOT_TUNNEL
        if end - start < 8:
            self._bad("tunnel.gtpu.truncated", frame, f"header of {end - start} bytes, needs 8")
            return NOT_TUNNEL
        flags, mtype, length, teid = _gtp(data, start)
        body_end = start + 8 + length
        if body_end > end:
            if not truncated:
                self._bad(
                    "tunnel.gtpu.bad_length",
                    frame,
                    f"length {length} > {end - start - 8} bytes after the header",
                )
                return NOT_TUNNEL
            body_end = end
        if mtype != GTP_GPDU:
            if mtype in GTP_SIGNALLING:
                self.control += 1
                return None
            return NOT_TUNNEL
        off = start + 8
        if flags & 0x07:  # E, S or PN: sequence number, N-PDU number, next extension type
            if off + 4 > body_end:
                self._bad("tunnel.gtpu.truncated", frame, "optional fields cut off")
                return NOT_TUNNEL
            nxt = data[off + 3] if flags & 0x04 else 0
            off += 4
            hops = 0
            while nxt:
                hops += 1
                if off >= body_end or hops > MAX_GTP_EXTENSIONS:
                    self._bad("tunnel.gtpu.bad_extension", frame, "extension header chain cut off")
                    return NOT_TUNNEL
                size = data[off] * 4
                if size == 0 or off + size > body_end:
                    self._bad(
                        "tunnel.gtpu.bad_extension",
                        frame,
                        f"extension header of {size} bytes at {off - start}",
                    )
                    return NOT_TUNNEL
                nxt = data[off + size - 1]
                off += size
        if off >= body_end:
            self.control += 1  # a G-PDU without a T-PDU carries nothing
            return None
        hop: TunnelHop = ("gtpu", src, dst, (teid,))
        res = self._inner_ip(data[off:body_end], hop, frame)
        if res is NOT_TUNNEL and body_end - off >= 14:
            # Ethernet PDU sessions (5G) carry frames: plausible when the EtherType is IP.
            etype = _u16(data, off + 12)[0]
            if etype in (ETH_IPV4, ETH_IPV6) or etype in ETH_VLAN_TAGS:
                return self._inner_ether(data, off, body_end, hop, frame)
        return res

    def _vxlan(
        self, data: bytes, start: int, end: int, src: bytes, dst: bytes, frame: Frame
    ) -> Packet | None:
        flags = data[start]
        if not flags & 0x08 or flags & 0x77:  # I flag; only G (group policy) besides it
            return NOT_TUNNEL
        if end - start < 8 + 14:
            self._bad("tunnel.vxlan.truncated", frame, f"{end - start} bytes after UDP")
            return NOT_TUNNEL
        vni = _u32(data, start + 4)[0] >> 8
        return self._inner_ether(data, start + 8, end, ("vxlan", src, dst, (vni,)), frame)

    def _geneve(
        self, data: bytes, start: int, end: int, src: bytes, dst: bytes, frame: Frame
    ) -> Packet | None:
        if end - start < 8 or data[start] >> 6 != 0:
            return NOT_TUNNEL
        opt_end = start + 8 + (data[start] & 0x3F) * 4
        ptype = _u16(data, start + 2)[0]
        if ptype != ETH_TEB and ptype != ETH_IPV4 and ptype != ETH_IPV6:
            return NOT_TUNNEL
        if opt_end > end:
            self._bad("tunnel.geneve.truncated", frame, "options cut off")
            return NOT_TUNNEL
        off = start + 8
        while off < opt_end:  # class (2), type (1), length in 4-byte words (5 bits), data
            if off + 4 > opt_end:
                self._bad("tunnel.geneve.bad_option", frame, "option header cut off")
                return NOT_TUNNEL
            off += 4 + (data[off + 3] & 0x1F) * 4
        if off != opt_end:
            self._bad("tunnel.geneve.bad_option", frame, "option lengths exceed the header")
            return NOT_TUNNEL
        hop: TunnelHop = ("geneve", src, dst, (_u32(data, start + 4)[0] >> 8,))
        if ptype == ETH_TEB:
            return self._inner_ether(data, opt_end, end, hop, frame)
        res = self._inner_ip(data[opt_end:end], hop, frame)
        if res is NOT_TUNNEL:
            self._bad("tunnel.geneve.bad_inner", frame, "protocol type IP, payload is not")
        return res

    def _teredo(
        self,
        data: bytes,
        start: int,
        end: int,
        src: bytes,
        dst: bytes,
        frame: Frame,
        truncated: bool,
    ) -> Packet | None:
        p = start
        indicated = False
        if end - p >= 4 and data[p] == 0 and data[p + 1] == 1:  # authentication indicator
            indicated = True
            p += 4 + data[p + 2] + data[p + 3] + 9  # ids, auth value, nonce, confirmation
        if end - p >= 2 and data[p] == 0 and data[p + 1] == 0:  # origin indication
            indicated = True
            p += 8
        if end - p < 40 or data[p] >> 4 != 6:
            if indicated:
                self._bad("tunnel.teredo.bad_inner", frame, "no IPv6 header after the indications")
            return NOT_TUNNEL
        size = 40 + _u16(data, p + 4)[0]
        if p + size != end and not (truncated and p + size > end):
            if indicated:
                self._bad("tunnel.teredo.bad_length", frame, f"IPv6 of {size} bytes in {end - p}")
            return NOT_TUNNEL
        return self._inner_ip(data[p:end], ("teredo", src, dst, ()), frame)

    def _capwap(
        self, data: bytes, start: int, end: int, src: bytes, dst: bytes, frame: Frame
    ) -> Packet | None:
        if end - start < 8:
            return NOT_TUNNEL
        word = _u32(data, start)[0]
        preamble = word >> 24
        if preamble == 0x01:  # DTLS-protected data channel: 3 reserved bytes, DTLS record
            if word & 0xFFFFFF == 0 and 20 <= data[start + 4] <= 24 and data[start + 5] == 0xFE:
                self.encrypted += 1
                return None
            return NOT_TUNNEL
        if preamble != 0:
            return NOT_TUNNEL
        hlen = (word >> 19 & 0x1F) * 4
        if hlen < 8 or start + hlen > end:
            self._bad(
                "tunnel.capwap.bad_length", frame, f"header length {hlen}, {end - start} bytes"
            )
            return NOT_TUNNEL
        if word & 0x08:  # K: data channel keep-alive
            self.control += 1
            return None
        if word & 0x80:  # F: a fragment
            self._bad("tunnel.capwap.fragment", frame, "CAPWAP fragments are not reassembled")
            return None
        rid = word >> 14 & 0x1F
        wbid = word >> 9 & 0x1F
        hop: TunnelHop = ("capwap", src, dst, (rid,))
        off = start + hlen
        if not word & 0x100:  # T = 0: IEEE 802.3 frames
            return self._inner_ether(data, off, end, hop, frame)
        if wbid != 1:
            self._bad("tunnel.capwap.bad_binding", frame, f"native frames of binding {wbid}")
            return None
        if not self._enter("capwap", frame):
            return None
        try:
            pkt = self._dot11(data, off, end, frame)
        finally:
            self.depth -= 1
        return _wrap(pkt, hop)

    def _dot11(self, data: bytes, p: int, end: int, frame: Frame) -> Packet | None:
        """An IEEE 802.11 data frame: header, LLC/SNAP, then the EtherType's payload
        (:func:`phonehome.net.wifi.msdu`).

        The frame control field is accepted in either byte order (see below); addresses by
        the to/from DS bits: the source is the phone on uplink frames, as on Ethernet."""
        if end - p < 24:
            self._bad("tunnel.capwap.truncated", frame, f"802.11 header in {end - p} bytes")
            return None
        fc0 = data[p]
        fc1 = data[p + 1]
        if fc0 & 0x0F != 0x08 and fc1 & 0x0F == 0x08:
            # Frame control with its two bytes swapped, as Cisco access points send it
            # (Wireshark's capwap.swap_fc, on by default): a data frame read either way.
            fc0, fc1 = fc1, fc0
        outcome, at, sa, da = wifi.msdu(data, p, end, fc0, fc1)
        if outcome == wifi.DATA:
            inner = data[:end]
            return self.ether_type(_u16(inner, at)[0], inner, at + 2, frame, sa, da)
        if outcome == wifi.NOT_DATA or outcome == wifi.NOT_SNAP:
            self.non_ip += 1
        elif outcome == wifi.PROTECTED:  # the AP did not decrypt it
            self.encrypted += 1
        elif outcome == wifi.BAD_VERSION:
            self._bad("tunnel.capwap.bad_inner", frame, f"802.11 protocol version {fc0 & 3}")
        elif outcome == wifi.AMSDU:
            self._bad("tunnel.capwap.amsdu", frame, "A-MSDU aggregates are not split")
        elif outcome == wifi.FRAGMENT:
            self._bad("tunnel.capwap.fragment", frame, "802.11 fragments are not reassembled")
        elif outcome == wifi.SHORT_QOS:
            self._bad("tunnel.capwap.truncated", frame, "802.11 QoS control cut off")
        else:
            self._bad("tunnel.capwap.truncated", frame, "LLC/SNAP header cut off")
        return None

    # -- IP protocol tunnels -----------------------------------------------------------

    def _gre(
        self, data: bytes, start: int, end: int, src: bytes, dst: bytes, frame: Frame
    ) -> Packet | None:
        if end - start < 4:
            self._bad("tunnel.gre.truncated", frame, f"header of {end - start} bytes")
            return NOT_TUNNEL
        flags, ptype = _gre(data, start)
        version = flags & 0x07
        p = start + 4
        if version == 0:
            if flags & 0x4FF8:  # routing, strict source route, recursion, flags (RFC 1701)
                self._bad("tunnel.gre.unsupported", frame, f"flags 0x{flags:04x} (RFC 1701)")
                return NOT_TUNNEL
            key_at = p + 4 * (flags >> 15)  # after the checksum and reserved word
            p = key_at + 4 * ((flags >> 13 & 1) + (flags >> 12 & 1))
            if p > end:
                self._bad("tunnel.gre.truncated", frame, "optional fields cut off")
                return NOT_TUNNEL
            ids: tuple[int, ...] = (_u32(data, key_at)[0],) if flags & 0x2000 else ()
            kind = "gre"
        elif version == 1:  # enhanced GRE (PPTP): key = payload length + call ID
            # C, R, s, recursion and flags clear, K set; S and A optional
            if ptype != ETH_PPP or flags & 0xEF78 != 0x2000:
                self._bad("tunnel.gre.bad_header", frame, f"version 1 with flags 0x{flags:04x}")
                return NOT_TUNNEL
            p += 4 + 4 * ((flags >> 12 & 1) + (flags >> 7 & 1))
            if p > end:
                self._bad("tunnel.gre.truncated", frame, "optional fields cut off")
                return NOT_TUNNEL
            size = _u16(data, start + 4)[0]
            if size == 0:  # an acknowledgement only
                self.control += 1
                return None
            if p + size < end:
                end = p + size
            ids = (_u16(data, start + 6)[0],)
            kind = "pptp"
        else:
            self._bad("tunnel.gre.bad_header", frame, f"version {version}")
            return NOT_TUNNEL
        hop: TunnelHop = (kind, src, dst, ids)
        if ptype in (ETH_IPV4, ETH_IPV6):
            res = self._inner_ip(data[p:end], hop, frame)
            if res is NOT_TUNNEL:
                self._bad("tunnel.gre.bad_inner", frame, "protocol type IP, payload is not")
            return res
        if ptype == ETH_TEB:
            return self._inner_ether(data, p, end, hop, frame)
        if ptype in ETH_MPLS:
            if not self._enter(kind, frame):
                return None
            try:
                pkt = self._mpls(data, p, end, frame, b"", b"")
            finally:
                self.depth -= 1
            return _wrap(pkt, hop)
        if ptype == ETH_PPP:
            return self._ppp(data, p, end, hop, frame)
        if ptype in (ETH_ERSPAN2, ETH_ERSPAN3):
            return self._erspan(data, p, end, ptype, flags, src, dst, frame)
        return NOT_TUNNEL  # keepalives, WCCP, NSH ...: counted as another transport

    def _ppp(self, data: bytes, p: int, end: int, hop: TunnelHop, frame: Frame) -> Packet | None:
        if end - p >= 2 and data[p] == 0xFF and data[p + 1] == 0x03:  # address, control
            p += 2
        if p >= end:
            self._bad(f"tunnel.{hop[0]}.truncated", frame, "PPP header cut off")
            return None
        if data[p] & 1:  # protocol field compression: one byte
            proto = data[p]
            p += 1
        elif end - p >= 2:
            proto = _u16(data, p)[0]
            p += 2
        else:
            self._bad(f"tunnel.{hop[0]}.truncated", frame, "PPP protocol cut off")
            return None
        if proto != PPP_IPV4 and proto != PPP_IPV6:
            if proto == PPP_COMPRESSED:
                self.encrypted += 1
            else:
                self.control += 1  # LCP, IPCP, CHAP ...: the link's own negotiation
            return None
        res = self._inner_ip(data[p:end], hop, frame)
        if res is NOT_TUNNEL:
            self._bad(f"tunnel.{hop[0]}.bad_inner", frame, "PPP protocol IP, payload is not")
            return None
        return res

    def _erspan(
        self,
        data: bytes,
        p: int,
        end: int,
        ptype: int,
        gre_flags: int,
        src: bytes,
        dst: bytes,
        frame: Frame,
    ) -> Packet | None:
        """Mirrored frames (Cisco ERSPAN): type I has no header of its own, type II
        (0x88be with a sequence number) 8 bytes, type III (0x22eb) 12 plus an optional 8."""
        ids: tuple[int, ...] = ()
        if ptype == ETH_ERSPAN2 and gre_flags & 0x1000:
            if end - p < 8 or data[p] >> 4 != 1:
                self._bad("tunnel.erspan.bad_header", frame, "type II header missing or damaged")
                return NOT_TUNNEL
            ids = (_u16(data, p + 2)[0] & 0x3FF,)
            p += 8
        elif ptype == ETH_ERSPAN3:
            if end - p < 12 or data[p] >> 4 != 2:
                self._bad("tunnel.erspan.bad_header", frame, "type III header missing or damaged")
                return NOT_TUNNEL
            ids = (_u16(data, p + 2)[0] & 0x3FF,)
            p += 20 if data[p + 11] & 0x01 else 12
        return self._inner_ether(data, p, end, ("erspan", src, dst, ids), frame)

    # -- Ethernet-level tunnels --------------------------------------------------------

    def _pppoe(
        self, data: bytes, off: int, frame: Frame, src_mac: bytes | None, dst_mac: bytes | None
    ) -> Packet | None:
        if off + 8 > len(data):
            self._bad(
                "tunnel.pppoe.truncated",
                frame,
                f"header needs {off + 8} bytes, frame has {len(data)}",
            )
            return None
        if data[off] != 0x11 or data[off + 1] != 0:
            self._bad(
                "tunnel.pppoe.bad_header",
                frame,
                f"version/type 0x{data[off]:02x}, code 0x{data[off + 1]:02x}",
            )
            return None
        session = _u16(data, off + 2)[0]
        proto = _u16(data, off + 6)[0]
        if proto != PPP_IPV4 and proto != PPP_IPV6:
            self.non_ip += 1  # LCP, IPCP ...: the session's own negotiation
            return None
        if not self._enter("pppoe", frame):
            return None
        try:
            if proto == PPP_IPV4:
                pkt = self._ip.ipv4(data, off + 8, frame, src_mac, dst_mac)
            else:
                pkt = self._ip.ipv6(data, off + 8, frame, src_mac, dst_mac)
        finally:
            self.depth -= 1
        return _wrap(pkt, ("pppoe", src_mac or b"", dst_mac or b"", (session,)))

    def _mpls(
        self, data: bytes, off: int, end: int, frame: Frame, src_mac: bytes, dst_mac: bytes
    ) -> Packet | None:
        labels: list[int] = []
        while True:
            if off + 4 > end:
                self._bad(
                    "tunnel.mpls.truncated", frame, f"label stack cut off after {len(labels)}"
                )
                return None
            entry = _u32(data, off)[0]
            off += 4
            labels.append(entry >> 12)
            if entry & 0x100:  # bottom of stack
                break
            if len(labels) >= MAX_MPLS_LABELS:
                self._bad("tunnel.mpls.too_many_labels", frame, f"more than {MAX_MPLS_LABELS}")
                return None
        hop: TunnelHop = ("mpls", src_mac, dst_mac, tuple(labels))
        if off >= end:
            self._bad("tunnel.mpls.truncated", frame, "nothing after the label stack")
            return None
        nibble = data[off] >> 4
        if nibble == 4 or nibble == 6:
            return self._inner_ip(data[off:end], hop, frame)  # never NOT_TUNNEL here
        if nibble == 1:  # associated channel (G-ACh): OAM, not user data
            self.control += 1
            return None
        if nibble == 0:  # pseudowire control word, then the emulated Ethernet frame
            return self._inner_ether(data, off + 4, end, hop, frame)
        if end - off >= 14:  # an Ethernet pseudowire without control word, if it looks so
            etype = _u16(data, off + 12)[0]
            if etype in (ETH_IPV4, ETH_IPV6) or etype in ETH_VLAN_TAGS:
                return self._inner_ether(data, off, end, hop, frame)
        self._bad("tunnel.mpls.bad_inner", frame, f"payload starts with 0x{data[off]:02x}")
        return None


def endpoint_text(addr: bytes) -> str:
    """A tunnel endpoint as text: IPv4/IPv6, a MAC for 6 bytes, empty for none."""
    if len(addr) == 6:
        return ":".join([f"{b:02x}" for b in addr])
    if not addr:
        return ""
    return ntop(addr)


def tunnel_layers(hops: tuple[TunnelHop, ...]) -> tuple[TunnelLayer, ...]:
    """The message-level record of a packet's tunnel stack (made once per flow direction)."""
    return tuple(
        [
            TunnelLayer(kind, endpoint_text(src), endpoint_text(dst), ids)
            for kind, src, dst, ids in hops
        ]
    )
