"""A WPA2-Personal network on the air, built byte by byte: the 4-way handshake of one
station and CCMP-protected data frames (IEEE 802.11-2016 12.7.6, 12.5.3).

Written from the standard apart from :mod:`phonehome.decrypt.wpa` (the nonce, the AAD and
the key schedule are spelled out again here), and checked against Wireshark: tshark
decrypts what this builds with the same passphrase (tests/test_decrypt_wpa.py).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

SNAP = b"\xaa\xaa\x03\x00\x00\x00"
PASSPHRASE = "correct horse battery"
SSID = "HomeNet"
BSSID = bytes.fromhex("7483c2102030")
STA = bytes.fromhex("2039565c7a13")
ANONCE = bytes(range(0x20, 0x40))
SNONCE = bytes(range(0x80, 0xA0))
GTK = bytes.fromhex("00112233445566778899aabbccddeeff")

RSN_IE_PSK = bytes.fromhex("30140100000fac040100000fac040100000fac020000")
RSN_IE_SHA256 = bytes.fromhex("30140100000fac040100000fac040100000fac06c000")
RSN_IE_SAE = bytes.fromhex("30140100000fac040100000fac040100000fac08c000")
RSN_IE_OWE = bytes.fromhex("30140100000fac040100000fac040100000fac12c000")
"""RSN elements with AKM 00-0F-AC:2 (PSK), :6 (PSK-SHA256), :8 (SAE) and :18 (OWE), all
but the first with management frame protection required and capable."""


def radiotap() -> bytes:
    """The smallest radiotap header: no fields, so no FCS."""
    return struct.pack("<BBHI", 0, 0, 8, 0)


def header(
    to_ds: bool, a1: bytes, a2: bytes, a3: bytes, *, tid: int | None, seq: int, retry: bool = False
) -> bytes:
    """An 802.11 data frame header (Protected bit clear), QoS Data when ``tid`` is given."""
    subtype = 0x88 if tid is not None else 0x08
    fc1 = (0x01 if to_ds else 0x02) | (0x08 if retry else 0)
    out = bytes([subtype, fc1]) + b"\x00\x00" + a1 + a2 + a3 + struct.pack("<H", (seq & 0xFFF) << 4)
    if tid is not None:
        out += bytes([tid, 0])
    return out


def pmk(passphrase: str = PASSPHRASE, ssid: str = SSID) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32)


def ptk(pmk: bytes, sha256: bool) -> bytes:
    """KCK | KEK | TK for this module's station and access point."""
    b = min(BSSID, STA) + max(BSSID, STA) + min(ANONCE, SNONCE) + max(ANONCE, SNONCE)
    label = b"Pairwise key expansion"
    if sha256:
        blocks = [
            hmac.new(pmk, struct.pack("<H", i) + label + b + struct.pack("<H", 384), "sha256")
            for i in (1, 2)
        ]
    else:
        blocks = [hmac.new(pmk, label + b"\x00" + b + bytes([i]), "sha1") for i in range(3)]
    return b"".join(h.digest() for h in blocks)[:48]


@dataclass
class Network:
    """One station's session: the handshake, then protected frames in either direction."""

    pmk: bytes = field(default_factory=pmk)
    sha256: bool = False
    sae: bool = False
    """WPA3-Personal (AKM 00-0F-AC:8): key descriptor version 0, the SHA-256 key schedule
    and AES-CMAC MICs; its PMK comes from the SAE exchange, so it is given as a PSK."""
    owe: bool = False
    """OWE (AKM 00-0F-AC:18, group 19): as :attr:`sae` but its MICs are HMAC-SHA-256."""
    spp: bool = False
    """Both ends SPP A-MSDU capable: the A-MSDU Present bit is in the AAD (12.5.3.3.3)."""
    frames: list[bytes] = field(default_factory=list)
    pn: int = 0
    group_pn: int = 0
    seq: int = 0

    @property
    def version(self) -> int:
        return 0 if self.sae or self.owe else 3 if self.sha256 else 2

    @property
    def keys(self) -> bytes:
        return ptk(self.pmk, self.sha256 or self.sae or self.owe)

    def _mic(self, frame: bytes) -> bytes:
        kck = self.keys[:16]
        if self.owe:
            return hmac.new(kck, frame, "sha256").digest()[:16]
        if self.sha256 or self.sae:
            c = CMAC(algorithms.AES(kck))
            c.update(frame)
            return c.finalize()
        return hmac.new(kck, frame, "sha1").digest()[:16]

    def eapol_key(
        self, info: int, replay: int, nonce: bytes, key_data: bytes, *, key_len: int = 16
    ) -> bytes:
        """An EAPOL-Key frame (802.1X header on), its MIC filled in when ``info`` asks."""
        info |= self.version
        body = (
            bytes([2])
            + struct.pack(">HHQ", info, key_len, replay)
            + nonce
            + bytes(16 + 8 + 8)
            + bytes(16)
            + struct.pack(">H", len(key_data))
            + key_data
        )
        frame = struct.pack(">BBH", 2, 3, len(body)) + body
        if info & 0x0100:
            frame = frame[:81] + self._mic(frame) + frame[97:]
        return frame

    def _send_eapol(self, frame: bytes, from_ap: bool) -> None:
        self.seq += 1
        if from_ap:
            head = header(False, STA, BSSID, BSSID, tid=None, seq=self.seq)
        else:
            head = header(True, BSSID, STA, BSSID, tid=None, seq=self.seq)
        self.frames.append(radiotap() + head + SNAP + b"\x88\x8e" + frame)

    def beacon(self, ssid: str = SSID) -> None:
        """The access point's beacon: its SSID and RSN elements (802.11-2016 9.3.3.3)."""
        rsn = RSN_IE_SHA256 if self.sha256 else RSN_IE_PSK
        name = ssid.encode()
        head = bytes([0x80, 0]) + b"\x00\x00" + b"\xff" * 6 + BSSID + BSSID + b"\x00\x00"
        fixed = struct.pack("<QHH", 1, 100, 0x0411)
        self.frames.append(radiotap() + head + fixed + bytes([0, len(name)]) + name + rsn)

    def handshake(
        self, *, messages: tuple[int, ...] = (1, 2, 3, 4), anonce1: bytes = ANONCE
    ) -> None:
        rsn = (
            RSN_IE_OWE if self.owe else RSN_IE_SAE if self.sae
            else RSN_IE_SHA256 if self.sha256 else RSN_IE_PSK
        )  # fmt: skip
        for n in messages:
            if n == 1:
                self._send_eapol(self.eapol_key(0x0088, 1, anonce1, b""), True)
            elif n == 2:
                self._send_eapol(self.eapol_key(0x0108, 1, SNONCE, rsn, key_len=0), False)
            elif n == 3:
                gtk_kde = b"\xdd\x16\x00\x0f\xac\x01\x01\x00" + GTK
                plain = rsn + gtk_kde
                plain += b"\xdd" + bytes((-len(plain) - 1) % 8)  # padding (12.7.2 j)
                wrapped = aes_key_wrap(self.keys[16:32], plain)
                self._send_eapol(self.eapol_key(0x13C8, 2, ANONCE, wrapped), True)
            else:
                self._send_eapol(self.eapol_key(0x0308, 2, bytes(32), b"", key_len=0), False)

    def protect(self, head: bytes, body: bytes, key: bytes, pn: int, key_id: int = 0) -> bytes:
        """CCMP-128 (12.5.3.3): the CCMP header, the encrypted body and its 8-byte MIC."""
        fc0, fc1 = head[0], head[1]
        qos = fc0 & 0x80
        tid = head[24] & 0x0F if qos else 0
        pn_bytes = pn.to_bytes(6, "big")  # PN5 .. PN0
        nonce = bytes([tid]) + head[10:16] + pn_bytes
        aad = bytes([fc0 & 0x8F, (fc1 & ~0x38 & 0xFF) | 0x40])
        if qos:
            aad = bytes([aad[0], aad[1] & 0x7F])
        aad += head[4:22] + bytes([head[22] & 0x0F, 0])
        if qos:
            aad += bytes([tid | (head[24] & 0x80 if self.spp else 0), 0])
        ccmp = bytes([pn_bytes[5], pn_bytes[4], 0, 0x20 | key_id << 6]) + pn_bytes[3::-1]
        sealed = AESCCM(key, tag_length=8).encrypt(nonce, body, aad)
        return bytes([fc0, fc1 | 0x40]) + head[2:] + ccmp + sealed

    def send(
        self,
        ethernet: bytes,
        *,
        to_ap: bool,
        tid: int | None = 0,
        retry: bool = False,
        also: tuple[bytes, ...] = (),
    ) -> bytes:
        """An Ethernet frame sent over the air by the station (``to_ap``) or to it, protected
        with the pairwise key; returns the radiotap frame (also kept in :attr:`frames`).
        With ``also``, an A-MSDU of this frame and those."""
        self.seq += 1
        self.pn += 1
        dst, src = ethernet[0:6], ethernet[6:12]
        if to_ap:
            head = header(True, BSSID, STA, dst, tid=tid, seq=self.seq, retry=retry)
        else:
            head = header(False, STA, BSSID, src, tid=tid, seq=self.seq, retry=retry)
        body = SNAP + ethernet[12:]
        if also:
            head = head[:24] + bytes([head[24] | 0x80]) + head[25:]
            body = amsdu(ethernet, *also)
        frame = radiotap() + self.protect(head, body, self.keys[32:48], self.pn)
        self.frames.append(frame)
        return frame

    def broadcast(self, ethernet: bytes) -> bytes:
        """A group-addressed frame from the access point, protected with the GTK (key id 1)."""
        self.seq += 1
        self.group_pn += 1
        dst, src = ethernet[0:6], ethernet[6:12]
        head = header(False, dst, BSSID, src, tid=None, seq=self.seq)
        frame = radiotap() + self.protect(head, SNAP + ethernet[12:], GTK, self.group_pn, 1)
        self.frames.append(frame)
        return frame


def amsdu(*ethernet: bytes) -> bytes:
    """Ethernet frames as A-MSDU subframes (IEEE 802.11-2016 9.3.2.2.2): DA, SA, length,
    LLC/SNAP and the payload, each but the last padded to a multiple of 4 bytes."""
    out = b""
    for i, e in enumerate(ethernet):
        msdu = SNAP + e[12:]
        sub = e[0:6] + e[6:12] + struct.pack(">H", len(msdu)) + msdu
        if i < len(ethernet) - 1:
            sub += bytes(-len(sub) % 4)
        out += sub
    return out


def pcap(frames: list[bytes], linktype: int = 127) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f)
    return b"".join(out)
