"""Link layers: the first step from a captured frame to a :class:`Packet`.

Phones and IoT devices are captured in many ways: Ethernet or Wi-Fi bridged to Ethernet
on a router (often with VLAN tags), ``tcpdump -i any`` on Android/Linux (cooked SLL/SLL2),
PCAPdroid or a VPN app (raw IP), macOS/BSD loopback and tunnels (null/loop). Each is a
few bytes to skip before the IP header, so they share one small dispatcher.
"""

from __future__ import annotations

import struct
from typing import Final

from phonehome.context import Context
from phonehome.decrypt.wpa import BAD_MIC, DECRYPTED, NO_KEY, NOT_CCMP, SHORT, WifiKeys
from phonehome.model.frame import Frame, LinkFrame, Packet
from phonehome.net import wifi
from phonehome.net.ip import IpDecoder
from phonehome.net.tunnel import ETH_EAPOL, endpoint_text

LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW_BSD12: Final = 12
LINKTYPE_RAW_BSD14: Final = 14
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276
LINKTYPE_IEEE802_11: Final = 105
LINKTYPE_IEEE802_11_RADIOTAP: Final = 127
RAW_IP_LINKTYPES: Final = frozenset(
    (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14, LINKTYPE_IPV4, LINKTYPE_IPV6)
)

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD

RADIOTAP_FCS: Final = 0x10
"""Radiotap Flags: the frame ends in its 4-byte FCS."""
RADIOTAP_BAD_FCS: Final = 0x40
"""Radiotap Flags: the frame failed its FCS check (damaged on the air)."""

# BSD address family values for IPv6 differ per OS: NetBSD/OpenBSD 24, FreeBSD 28,
# macOS 30. IPv4 is 2 everywhere.
AF_INET: Final = 2
AF_INET6: Final = frozenset((24, 28, 30))

_unpack_h: Final = struct.Struct("!H").unpack_from
MAX_WIFI_SENDERS: Final = 4096
"""802.11 transmitters whose last sequence number is kept for duplicate detection."""
_NOT_DECRYPTED: Final = {
    NO_KEY: "protected, and no 4-way handshake of its station (or group key) was seen: "
    "reconnect the device while capturing",
    BAD_MIC: "protected, and it did not authenticate with its station's key",
    NOT_CCMP: "protected with WEP or TKIP (not decrypted)",
    SHORT: "protected, and too short for CCMP",
}


class Decoder:
    """Frame -> Packet for TCP/UDP over IPv4/IPv6, or None.

    EAPOL frames (802.1X: a station's EAP identity) are kept in :attr:`eapol` for the
    caller. 802.11 data frames (monitor mode) are read as Ethernet ones. Other frames that
    are not IP (ARP, LLDP, ...) and IP datagrams that carry neither TCP nor UDP are
    routine: they are counted in ``non_ip`` / ``other_transport``, not reported. Damaged
    headers are anomalies. An unknown link type is reported once per type.
    What follows an EtherType other than plain IPv4 (VLAN tags, PPPoE, MPLS, IPv6) is
    read by ``ip.tunnels`` (:mod:`phonehome.net.tunnel`), which reads the Ethernet frames
    inside tunnels the same way.
    """

    def __init__(self, ctx: Context) -> None:
        self._anomalies = ctx.anomalies
        self.ip = IpDecoder(ctx)
        self._ipv4 = self.ip.ipv4
        self._non_ip = 0
        self.unsupported_linktype = 0
        self._warned_linktypes: set[int] = set()
        self.wifi_unread = 0
        """802.11 data frames not read: protected and not decrypted, or fragmented. The
        first of each reason in an input is reported (``wifi.unread``)."""
        self._wifi_reported: set[tuple[int, str]] = set()
        self._wpa: WifiKeys | None = ctx.wifi
        self._last_sc: dict[bytes, bytes] = {}
        """802.11 transmitter (and TID) -> the Sequence Control of its last data frame."""
        self.wifi_retries = 0
        self.more: list[Packet] = []
        """Packets of a frame that held several (an 802.11 A-MSDU), for the caller to take
        when :meth:`decode` returned None."""
        self.eapol: list[LinkFrame] = self.ip.tunnels.eapol
        """EAPOL frames decoded since the caller last emptied the list, plain or after VLAN
        tags or inside a tunnel (its messages are made by
        :func:`phonehome.protocols.eapol.message`)."""

    @property
    def other_transport(self) -> int:
        return self.ip.other_transport

    @property
    def non_ip(self) -> int:
        """Frames (or tunnelled link-layer frames) that carried no IP."""
        return self._non_ip + self.ip.tunnels.non_ip

    def decode(self, frame: Frame) -> Packet | None:
        lt = frame.linktype
        data = frame.data
        if lt == LINKTYPE_ETHERNET:
            if len(data) < 14:
                self._truncated(frame, "Ethernet", 14)
                return None
            etype = _unpack_h(data, 12)[0]
            if etype == ETH_IPV4:
                return self._ipv4(data, 14, frame, data[6:12], data[0:6])
            return self._ether(etype, data, 14, frame, data[6:12], data[0:6])
        if lt == LINKTYPE_LINUX_SLL:
            if len(data) < 16:
                self._truncated(frame, "Linux SLL", 16)
                return None
            src_mac = data[6:12] if data[2:6] == b"\x00\x01\x00\x06" else None
            return self._ether(_unpack_h(data, 14)[0], data, 16, frame, src_mac, None)
        if lt == LINKTYPE_LINUX_SLL2:
            if len(data) < 20:
                self._truncated(frame, "Linux SLL2", 20)
                return None
            src_mac = data[12:18] if data[8:10] == b"\x00\x01" and data[11] == 6 else None
            return self._ether(_unpack_h(data, 0)[0], data, 20, frame, src_mac, None)
        if lt in (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14):
            return self._raw(data, 0, frame)
        if lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
            if len(data) < 4:
                self._truncated(frame, "loopback", 4)
                return None
            # The family is in the capturing host's byte order (null) or network order
            # (loop), and captures move between hosts: a value above 0xffff can only be
            # the other byte order.
            af = int.from_bytes(data[0:4], "little")
            if af > 0xFFFF:
                af = int.from_bytes(data[0:4], "big")
            if af == AF_INET:
                return self.ip.ipv4(data, 4, frame, None, None)
            if af in AF_INET6:
                return self.ip.ipv6(data, 4, frame, None, None)
            self._non_ip += 1
            return None
        if lt == LINKTYPE_IEEE802_11_RADIOTAP:
            return self._radiotap(data, frame)
        if lt == LINKTYPE_IEEE802_11:
            return self._wifi(data, 0, len(data), frame)
        if lt == LINKTYPE_IPV4:
            return self.ip.ipv4(data, 0, frame, None, None)
        if lt == LINKTYPE_IPV6:
            return self.ip.ipv6(data, 0, frame, None, None)
        self.unsupported_linktype += 1
        if lt not in self._warned_linktypes:
            self._warned_linktypes.add(lt)
            self._anomalies.add(
                "link.unsupported", frame.input, frame.number, f"link type {lt} not decoded"
            )
        return None

    def flush(self, input: int = 0) -> None:
        """End of input: report IP datagrams whose fragments never all arrived, and Wi-Fi
        handshakes that no ``--wifi-key`` matched."""
        self.ip.defrag.flush()
        if self._wpa is not None:
            wpa = self._wpa
            for ap, sta in wpa.unmatched():
                why = (
                    "wrong passphrase or SSID?"
                    if not wpa.passphrases or wpa.knows_ssid(ap)
                    else "no beacon or association request in the capture named the network "
                    "for the passphrase given without its SSID: give PASSPHRASE:SSID"
                )
                self._anomalies.add(
                    "wifi.wrong_key",
                    input,
                    None,
                    f"the 4-way handshake of station {endpoint_text(sta)} with access point "
                    f"{endpoint_text(ap)} matches none of the --wifi-key keys ({why}): its "
                    "frames are not decrypted",
                )

    def _ether(
        self,
        etype: int,
        data: bytes,
        off: int,
        frame: Frame,
        src_mac: bytes | None,
        dst_mac: bytes | None,
    ) -> Packet | None:
        """Plain IPv4/IPv6 straight to the IP decoder (native calls when compiled); VLAN
        tags, PPPoE, MPLS and the rest through ``ip.tunnels``."""
        if etype == ETH_IPV4:
            return self.ip.ipv4(data, off, frame, src_mac, dst_mac)
        if etype == ETH_IPV6:
            return self.ip.ipv6(data, off, frame, src_mac, dst_mac)
        if etype == ETH_EAPOL:
            self.eapol.append((frame, data[off:], src_mac, dst_mac))
            return None
        return self.ip.tunnels.ether_type(etype, data, off, frame, src_mac, dst_mac)

    def _radiotap(self, data: bytes, frame: Frame) -> Packet | None:
        """A radiotap header (monitor mode: its length at bytes 2-3, little-endian), then
        the 802.11 frame, without its FCS when the radiotap Flags say it has one."""
        if len(data) < 8:
            self._truncated(frame, "radiotap", 8)
            return None
        length = data[2] | data[3] << 8
        if length < 8 or length > len(data):
            self._truncated(frame, "radiotap", max(length, 8))
            return None
        end = len(data)
        flags = radiotap_flags(data, length)
        if flags & RADIOTAP_BAD_FCS:  # noise a monitor interface passes on: not read
            self._wifi_unread(frame, "damaged on the air (radiotap: bad FCS)")
            return None
        if flags & RADIOTAP_FCS:
            end -= 4
        return self._wifi(data, length, end, frame)

    def _wifi(self, data: bytes, off: int, end: int, frame: Frame) -> Packet | None:
        """An 802.11 data frame's MSDU (:func:`phonehome.net.wifi.msdu`), read as after
        Ethernet; a protected one decrypted first when ``--wifi-key`` gave keys
        (:mod:`phonehome.decrypt.wpa`, which also reads the handshakes' EAPOL-Key frames
        here); an A-MSDU split into its MSDUs (:attr:`more`). Management, control and
        Null frames carry no IP (beacons may name a network for a passphrase given
        without one); protected frames not decrypted and fragments are counted, not
        read; a retry of the frame its sender sent last is read once."""
        if end - off < 24:
            self._truncated(frame, "802.11", off + 24)
            return None
        fc0 = data[off]
        fc1 = data[off + 1]
        if fc0 & 0x0C == 0x08 and self._repeated(data, off, end, fc0, fc1):
            return None
        outcome, at, src, dst = wifi.msdu(data, off, end, fc0, fc1)
        wpa = self._wpa
        if outcome == wifi.PROTECTED and wpa is not None:
            hl, qos = wifi.protected_header(data, off, fc0, fc1)
            result, plain = wpa.decrypt(data[off:end], hl, qos)
            if result != DECRYPTED:
                wpa.not_decrypted += 1
                self._wifi_unread(frame, _NOT_DECRYPTED[result])
                return None
            data, off, end = plain, 0, len(plain)
            fc1 = plain[1]
            outcome, at, src, dst = wifi.msdu(plain, 0, end, fc0, fc1)
        if outcome == wifi.DATA:
            etype = _unpack_h(data, at)[0]
            if etype == ETH_EAPOL and wpa is not None:
                pair = wifi.ap_and_station(data, off, fc1)
                if pair is not None:
                    wpa.eapol_key(data[at + 2 : end], pair[0], pair[1])
            body = data if end == len(data) else data[:end]
            return self._ether(etype, body, at + 2, frame, src, dst)
        if outcome == wifi.AMSDU:
            self._amsdu(data, at, end, frame)
        elif outcome == wifi.PROTECTED:
            self._wifi_unread(frame, "protected (no --wifi-key given)")
        elif outcome == wifi.FRAGMENT:
            self._wifi_unread(frame, "fragmented (not reassembled)")
        elif outcome == wifi.SHORT_QOS or outcome == wifi.SHORT_LLC:
            self._truncated(frame, "802.11", end - off + 1)
        else:  # management, control, Null data, another LLC protocol, a bad version
            self._non_ip += 1
            if wpa is not None and wpa.passphrases and outcome == wifi.NOT_DATA:
                named = wifi.ssid_of(data, off, end, fc0)
                if named is not None:
                    wpa.learn_ssid(named[0], named[1])
        return None

    def _repeated(self, data: bytes, off: int, end: int, fc0: int, fc1: int) -> bool:
        """Whether this data frame is a retry of the MPDU its transmitter sent last (Retry
        bit, same sequence and fragment number; per TID for QoS data, whose numbers are
        per TID): the receiver's duplicate detection (IEEE 802.11-2016 10.3.2.14). A
        monitor interface hears every retry, and a UDP message or an occurrence would
        count once per retry; counted in :attr:`wifi_retries`, not read twice. One number
        per transmitter and TID is kept, as a receiver's cache (bounded)."""
        key = data[off + 10 : off + 16]
        if fc0 & 0x80:
            q = off + (30 if fc1 & 0x03 == 0x03 else 24)
            if q < end:
                key += bytes((data[q] & 0x0F,))
        sc = data[off + 22 : off + 24]
        last = self._last_sc
        if fc1 & 0x08 and last.get(key) == sc:
            self.wifi_retries += 1
            return True
        if len(last) >= MAX_WIFI_SENDERS:
            last.clear()
        last[key] = sc
        return False

    def _amsdu(self, data: bytes, q: int, end: int, frame: Frame) -> None:
        """An A-MSDU's MSDUs, each read as an Ethernet payload with its own addresses; their
        packets go to :attr:`more` (the caller's to drain: one frame, several packets)."""
        parts, whole = wifi.subframes(data, q, end)
        for at, stop, src, dst in parts:
            pkt = self._ether(_unpack_h(data, at)[0], data[:stop], at + 2, frame, src, dst)
            if pkt is not None:
                self.more.append(pkt)
        if not whole:
            self._anomalies.add(
                "wifi.bad_amsdu",
                frame.input,
                frame.number,
                f"A-MSDU subframe {len(parts) + 1} damaged or cut off; the rest not read",
            )

    def _wifi_unread(self, frame: Frame, why: str) -> None:
        """Count a data frame not read; report the first of each reason in an input."""
        self.wifi_unread += 1
        key = (frame.input, why)
        if key not in self._wifi_reported:
            self._wifi_reported.add(key)
            self._anomalies.add(
                "wifi.unread",
                frame.input,
                frame.number,
                f"802.11 data frames not read, the first {why}; later ones not reported",
            )

    def _raw(self, data: bytes, off: int, frame: Frame) -> Packet | None:
        if len(data) <= off:
            self._truncated(frame, "raw IP", off + 1)
            return None
        version = data[off] >> 4
        if version == 4:
            return self.ip.ipv4(data, off, frame, None, None)
        if version == 6:
            return self.ip.ipv6(data, off, frame, None, None)
        self._anomalies.add(
            "ip.bad_version", frame.input, frame.number, f"raw IP frame with version {version}"
        )
        return None

    def _truncated(self, frame: Frame, what: str, need: int) -> None:
        self._anomalies.add(
            "link.truncated",
            frame.input,
            frame.number,
            f"{what} header needs {need} bytes, frame has {len(frame.data)}",
        )


def radiotap_flags(data: bytes, length: int) -> int:
    """The radiotap Flags field (present bit 1; 0 when absent). The present words chain
    through bit 31, and TSFT (bit 0: 8 bytes, 8-aligned) is the only field before Flags."""
    present = int.from_bytes(data[4:8], "little")
    word = present
    pos = 8
    while word & 0x80000000:
        if pos + 4 > length:
            return 0
        word = int.from_bytes(data[pos : pos + 4], "little")
        pos += 4
    if not present & 0x2:
        return 0
    if present & 0x1:
        pos = ((pos + 7) & ~7) + 8
    return data[pos] if pos < length else 0
