"""WPA2-Personal decryption of 802.11 data frames (IEEE 802.11-2016 12.7, 12.5.3).

An IoT device that cannot run PCAPdroid or trust a proxy is watched from the air: a
monitor-mode capture of one's own Wi-Fi network. Its data frames are encrypted with a key
each station agrees with the access point in the 4-way handshake, from the network's
passphrase, its name (SSID) and two random nonces the handshake shows. Given the
passphrase and SSID (or the 256-bit PSK), as Wireshark's ``wpa-pwd``/``wpa-psk`` keys,
:class:`WifiKeys` follows every station's handshake and decrypts its frames:

- PMK = PBKDF2-HMAC-SHA1(passphrase, SSID, 4096, 256 bits) (12.7.1.3, Annex J.4), or the
  PSK as given;
- PTK from the PMK, both MAC addresses and both nonces: PRF-384 with HMAC-SHA1 for key
  descriptor version 2 (AKM 00-0F-AC:2, PSK), KDF-SHA256 for version 3 (AKM 6,
  PSK-SHA256) (12.7.1.2, 12.7.1.7.2); a PMK is taken only when message 2's MIC checks
  with the PTK's KCK, so a wrong passphrase is told, not guessed at;
- the group key (GTK) from message 3 or a group key handshake: its Key Data unwrapped
  with the KEK (RFC 3394), for broadcast and multicast frames (mDNS, SSDP: where IoT
  devices announce themselves);
- CCMP-128 (12.5.3): AES-CCM with an 8-byte MIC, nonce from the priority, A2 and the
  packet number, AAD from the masked header; a frame decrypts only when its MIC checks.

WPA3-Personal (SAE, AKM 8) and OWE derive their PMK from a Diffie-Hellman exchange, not
from the passphrase: given that PMK as the PSK (hostapd or wpa_supplicant debug output
shows it; Wireshark takes it the same way), their handshakes (key descriptor version 0,
the SHA-256 key schedule of AKM 8 and of OWE's group 19; SAE's MIC is AES-CMAC, OWE's
HMAC-SHA-256) are followed like the others. Not decrypted, counted by the caller: TKIP
and WEP (deprecated, and rare now), FT (802.11r key hierarchy), SAE/OWE groups with
SHA-384, GCMP and CCMP-256 (WPA3-Enterprise 192-bit), and any station whose handshake
the capture missed (it started before the capture: reconnect the device while
capturing). Keys are secrets: never written to any output.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote_to_bytes

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

DECRYPTED: Final = 0
NO_KEY: Final = 1
"""No handshake of this station (or no group key of this access point) was seen."""
BAD_MIC: Final = 2
"""The frame did not authenticate with the station's key (damaged, or keyed by a
handshake the capture missed)."""
NOT_CCMP: Final = 3
"""WEP, TKIP or a cipher whose key is not derived here."""
SHORT: Final = 4

MAX_STATIONS: Final = 4096
"""(access point, station) pairs whose handshake state is kept; the oldest is forgotten."""
PMK_ITERATIONS: Final = 4096
_LABEL: Final = b"Pairwise key expansion"
_GTK_KDE: Final = b"\x00\x0f\xac\x01"
_ZERO_NONCE: Final = bytes(32)

# Key Information bits (12.7.2, Figure 12-33)
_VERSION: Final = 0x0007
_PAIRWISE: Final = 0x0008
_INSTALL: Final = 0x0040
_ACK: Final = 0x0080
_MIC: Final = 0x0100
_SECURE: Final = 0x0200
_ENCRYPTED_DATA: Final = 0x1000

# Offsets in an EAPOL-Key frame, from the 802.1X header (4 bytes) on
_KEY_INFO: Final = 5
_REPLAY: Final = 9
_NONCE: Final = 17
_MIC_AT: Final = 81
_DATA_LEN: Final = 97
_DATA: Final = 99


class BadWifiKey(ValueError):
    """A ``--wifi-key`` value that is neither a PSK nor ``passphrase:ssid``."""


EAPOL_KEY: Final = 3
"""802.1X packet type EAPOL-Key (``protocols.eapol.KEY``; not imported: the packages
import the other way)."""


def is_eapol_key(pdu: bytes) -> bool:
    """An EAPOL PDU (from its 802.1X header on) of packet type 3, EAPOL-Key: a WPA
    handshake message (IEEE 802.1X-2010 11.3.2)."""
    return len(pdu) > 1 and pdu[1] == EAPOL_KEY


def _is_psk(text: str) -> bool:
    """64 hex digits: a PSK (a passphrase has at most 63 characters)."""
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def pmk_of(key: str) -> bytes:
    """The PMK a ``--wifi-key`` value stands for: 64 hex digits (the PSK itself), or
    ``passphrase:ssid`` split at the last colon, each part percent-decoded (as Wireshark's
    ``wpa-pwd``: a colon in the SSID is written ``%3A``)."""
    text = key.strip()
    if _is_psk(text):
        return bytes.fromhex(text)
    passphrase, sep, ssid = text.rpartition(":")
    if not sep:
        raise BadWifiKey("expected PASSPHRASE:SSID or a 64-hex-digit PSK")
    secret = unquote_to_bytes(passphrase)
    name = unquote_to_bytes(ssid)
    if not 8 <= len(secret) <= 63:
        raise BadWifiKey("a WPA passphrase has 8 to 63 characters")
    if not 1 <= len(name) <= 32:
        raise BadWifiKey("an SSID has 1 to 32 bytes")
    return hashlib.pbkdf2_hmac("sha1", secret, name, PMK_ITERATIONS, 32)


def passphrase_of(key: str) -> bytes | None:
    """A ``--wifi-key`` value without an SSID (no colon, not a PSK): the passphrase,
    percent-decoded, its network's name to be learnt from the capture; else None."""
    text = key.strip()
    if ":" in text or _is_psk(text):
        return None
    secret = unquote_to_bytes(text)
    if not 8 <= len(secret) <= 63:
        raise BadWifiKey("a WPA passphrase has 8 to 63 characters")
    return secret


def wifi_keys_of(values: Sequence[str]) -> WifiKeys:
    """The run's keys from ``--wifi-key`` values; :class:`BadWifiKey` says which one is
    bad (1st, 2nd ...) without repeating it: it is a secret."""
    pmks: list[bytes] = []
    passphrases: list[bytes] = []
    for n, value in enumerate(values, 1):
        try:
            secret = passphrase_of(value)
            if secret is not None:
                passphrases.append(secret)
            else:
                pmks.append(pmk_of(value))
        except BadWifiKey as e:
            nth = {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
            raise BadWifiKey(f"--wifi-key (the {nth}): {e}") from None
    return WifiKeys(pmks, passphrases=passphrases)


def ptk_of(pmk: bytes, version: int, aa: bytes, spa: bytes, anonce: bytes, snonce: bytes) -> bytes:
    """The 48-byte PTK (KCK, KEK, TK) of a CCMP-128 pairwise key (12.7.1.3)."""
    macs = min(aa, spa) + max(aa, spa)
    nonces = min(anonce, snonce) + max(anonce, snonce)
    if version in (0, 3):  # KDF-SHA256-384 (12.7.1.7.2): counter and length little-endian
        context = macs + nonces
        out = b"".join(
            hmac.digest(pmk, i.to_bytes(2, "little") + _LABEL + context + b"\x80\x01", "sha256")
            for i in (1, 2)
        )
        return out[:48]
    data = _LABEL + b"\x00" + macs + nonces
    out = b"".join(hmac.digest(pmk, data + bytes((i,)), "sha1") for i in range(3))
    return out[:48]


def key_mic(kck: bytes, version: int, frame: bytes) -> bytes:
    """The MIC of an EAPOL-Key frame whose MIC field is zeroed (12.7.2 b 11): HMAC-MD5,
    HMAC-SHA1-128, else AES-128-CMAC (version 3, and version 0 for SAE)."""
    if version == 1:
        return hmac.digest(kck, frame, "md5")
    if version == 2:
        return hmac.digest(kck, frame, "sha1")[:16]
    c = CMAC(algorithms.AES(kck))
    c.update(frame)
    return c.finalize()


def _mic_checks(kck: bytes, version: int, zeroed: bytes, mic: bytes) -> bool:
    """Whether ``mic`` is the frame's under ``kck``. Version 0 leaves the algorithm to
    the AKM, which the frame does not name: SAE's AES-CMAC, else OWE's HMAC-SHA-256
    (group 19, truncated to 128 bits)."""
    if hmac.compare_digest(key_mic(kck, version, zeroed)[:16], mic):
        return True
    return version == 0 and hmac.compare_digest(hmac.digest(kck, zeroed, "sha256")[:16], mic)


def gtks(kek: bytes, key_data: bytes) -> list[tuple[int, bytes]]:
    """The group keys (key id, GTK) in an EAPOL-Key frame's encrypted Key Data."""
    if len(key_data) < 24 or len(key_data) % 8:
        return []
    try:
        plain = aes_key_unwrap(kek, key_data)
    except InvalidUnwrap:
        return []
    found: list[tuple[int, bytes]] = []
    i = 0
    while i + 2 <= len(plain):
        kind, size = plain[i], plain[i + 1]
        body = plain[i + 2 : i + 2 + size]
        if kind == 0xDD and size == 0:  # padding
            break
        if kind == 0xDD and body[:4] == _GTK_KDE and len(body) >= 6 + 16:
            found.append((body[4] & 0x03, body[6:22]))
        i += 2 + size
    return found


class _Station:
    """One station's handshake with one access point, and the keys it gave."""

    __slots__ = ("anonce", "kek", "old_tk", "pending", "tk", "version", "wrong")

    def __init__(self) -> None:
        self.anonce = b""
        self.pending: tuple[bytes, int, bytes] | None = None
        """Message 2 waiting for an ANonce: (SNonce, descriptor version, EAPOL frame)."""
        self.tk = b""
        self.old_tk = b""
        """The key of the handshake before, for frames sent while the new one completes."""
        self.kek = b""
        self.version = 0
        self.wrong = False


class WifiKeys:
    """The run's WPA keys and every station's handshake state (one per run: a handshake
    and the frames it keys may be in different files of a rotated capture)."""

    def __init__(
        self,
        pmks: list[bytes],
        max_stations: int = MAX_STATIONS,
        passphrases: list[bytes] | None = None,
    ) -> None:
        self.pmks = pmks
        self.passphrases = passphrases or []
        """Passphrases given without an SSID: each access point's is learnt from the
        capture (:meth:`learn_ssid`), as Wireshark does for ``wpa-pwd`` without one."""
        self._ssids: dict[bytes, bytes] = {}
        self._ssid_pmks: dict[bytes, list[bytes]] = {}
        self.max_stations = max_stations
        self._stations: dict[tuple[bytes, bytes], _Station] = {}
        self._group: dict[tuple[bytes, int], bytes] = {}
        self._ccms: dict[bytes, AESCCM] = {}
        self.handshakes = 0
        """4-way handshakes whose PTK was derived (message 2's MIC checked)."""
        self.decrypted = 0
        self.not_decrypted = 0
        """Protected data frames not decrypted (the link decoder counts them here)."""

    def eapol_key(self, frame: bytes, ap: bytes, sta: bytes) -> None:
        """An EAPOL frame (from its 802.1X header on) sent between ``ap`` and ``sta``:
        a 4-way or group key handshake message updates the station's keys."""
        if len(frame) < _DATA or not is_eapol_key(frame) or frame[4] not in (2, 254):
            return
        length = int.from_bytes(frame[2:4], "big") + 4
        if length < _DATA or length > len(frame):
            return
        frame = frame[:length]
        info = int.from_bytes(frame[_KEY_INFO : _KEY_INFO + 2], "big")
        version = info & _VERSION
        nonce = frame[_NONCE : _NONCE + 32]
        data_len = int.from_bytes(frame[_DATA_LEN:_DATA], "big")
        key_data = frame[_DATA : _DATA + data_len]
        st = self._station(ap, sta)
        if info & _PAIRWISE:
            if info & _ACK:  # message 1 or 3: the authenticator's nonce
                st.anonce = nonce
                if st.pending is not None:
                    self._derive(st, ap, sta)
                if info & _MIC and info & _INSTALL and info & _ENCRYPTED_DATA and st.kek:
                    self._take_gtks(st, ap, key_data)
            elif info & _MIC and not info & _SECURE and nonce != _ZERO_NONCE:  # message 2
                st.pending = (nonce, version, frame)
                if st.anonce:
                    self._derive(st, ap, sta)
        elif info & _ACK and info & _ENCRYPTED_DATA and st.kek:  # group key message 1
            self._take_gtks(st, ap, key_data)

    def decrypt(self, frame: bytes, hl: int, qos: int) -> tuple[int, bytes]:
        """A protected data frame (its header ``hl`` bytes long, ``qos`` its QoS Control
        first byte or -1, no FCS): (DECRYPTED, the frame with the Protected bit cleared
        and its body in clear) or (why not, b"")."""
        end = len(frame)
        if end < hl + 8 + 8:
            return SHORT, b""
        if not frame[hl + 3] & 0x20:  # no Extended IV: WEP
            return NOT_CCMP, b""
        fc1 = frame[1]
        a1 = frame[4:10]
        a2 = frame[10:16]
        # (net.wifi.ap_and_station's rule; not imported: net imports this module)
        if fc1 & 0x03 == 0x01:  # to the AP
            ap, sta = a1, a2
        elif fc1 & 0x03 == 0x02:  # from the AP
            ap, sta = a2, a1
        else:
            return NO_KEY, b""
        keys: list[bytes] = []
        if a1[0] & 0x01:  # group addressed
            gtk = self._group.get((ap, frame[hl + 3] >> 6))
            if gtk is not None:
                keys.append(gtk)
        else:
            st = self._stations.get((ap, sta))
            if st is not None:
                if st.version == 1:
                    return NOT_CCMP, b""
                keys.extend(k for k in (st.tk, st.old_tk) if k)
        if not keys:
            return NO_KEY, b""
        c = frame[hl : hl + 8]
        pn = bytes((c[7], c[6], c[5], c[4], c[1], c[0]))
        nonce = bytes((qos & 0x0F if qos >= 0 else 0,)) + a2 + pn
        fc0 = frame[0]
        aad_fc1 = (fc1 & 0xC7) | 0x40
        if qos >= 0:
            aad_fc1 &= 0x7F
        aad = bytes((fc0 & 0x8F, aad_fc1)) + frame[4:22] + bytes((frame[22] & 0x0F, 0))
        if fc1 & 0x03 == 0x03:
            aad += frame[24:30]
        aads = [aad]
        if qos >= 0:
            aads[0] += bytes((qos & 0x0F, 0))
            if qos & 0x80:  # A-MSDU Present is in the AAD only between SPP A-MSDU peers
                aads.append(aad + bytes((qos & 0x8F, 0)))
        sealed = frame[hl + 8 :]
        for key in keys:
            ccm = self._ccms.get(key)
            if ccm is None:  # its key schedule once per key, not per frame
                if len(self._ccms) >= 2 * self.max_stations:
                    self._ccms.clear()
                ccm = self._ccms[key] = AESCCM(key, tag_length=8)
            for a in aads:
                try:
                    plain = ccm.decrypt(nonce, sealed, a)
                except InvalidTag:
                    continue
                self.decrypted += 1
                return DECRYPTED, bytes((fc0, fc1 & 0xBF)) + frame[2:hl] + plain
        return BAD_MIC, b""

    def learn_ssid(self, bssid: bytes, ssid: bytes) -> None:
        """An access point's network name, from its beacons, probe responses or a
        station's association request (for the passphrases given without one)."""
        if ssid and self._ssids.get(bssid) != ssid:
            if len(self._ssids) >= self.max_stations:
                self._ssids.clear()
            self._ssids[bssid] = ssid

    def knows_ssid(self, ap: bytes) -> bool:
        return ap in self._ssids

    def _candidates(self, ap: bytes) -> list[bytes]:
        """The PMKs to try on a handshake with ``ap``: those given, then each passphrase
        with the access point's SSID (4,096 PBKDF2 rounds once per SSID)."""
        ssid = self._ssids.get(ap)
        if not self.passphrases or ssid is None:
            return self.pmks
        derived = self._ssid_pmks.get(ssid)
        if derived is None:
            if len(self._ssid_pmks) >= 64:
                self._ssid_pmks.clear()
            derived = self._ssid_pmks[ssid] = [
                hashlib.pbkdf2_hmac("sha1", p, ssid, PMK_ITERATIONS, 32) for p in self.passphrases
            ]
        return self.pmks + derived

    def counts(self) -> dict[str, int]:
        """What was opened, for the scan document's ``decryption.wifi`` (never a key)."""
        return {
            "keys": len(self.pmks) + len(self.passphrases),
            "handshakes": self.handshakes,
            "frames_decrypted": self.decrypted,
            "frames_not_decrypted": self.not_decrypted,
        }

    def unmatched(self) -> list[tuple[bytes, bytes]]:
        """(access point, station) pairs whose last handshake no key matched (a wrong
        passphrase or SSID), each told once."""
        found = []
        for pair, st in self._stations.items():
            if st.wrong:
                st.wrong = False
                found.append(pair)
        return found

    def _station(self, ap: bytes, sta: bytes) -> _Station:
        key = (ap, sta)
        st = self._stations.get(key)
        if st is None:
            if len(self._stations) >= self.max_stations:
                del self._stations[next(iter(self._stations))]
            st = self._stations[key] = _Station()
        return st

    def _derive(self, st: _Station, ap: bytes, sta: bytes) -> None:
        """Message 2 and an ANonce: the PTK of the first key whose KCK checks its MIC."""
        assert st.pending is not None
        snonce, version, frame = st.pending
        mic = frame[_MIC_AT : _MIC_AT + 16]
        zeroed = frame[:_MIC_AT] + bytes(16) + frame[_MIC_AT + 16 :]
        if version not in (0, 1, 2, 3):
            st.pending = None
            return
        for pmk in self._candidates(ap):
            ptk = ptk_of(pmk, version, ap, sta, st.anonce, snonce)
            if _mic_checks(ptk[:16], version, zeroed, mic):
                if ptk[32:48] != st.tk:
                    st.old_tk = st.tk
                    st.tk = ptk[32:48]
                    self.handshakes += 1
                st.kek = ptk[16:32]
                st.version = version
                st.pending = None
                st.wrong = False
                return
        # Message 1 may be a retransmission whose ANonce message 2 does not answer:
        # message 2 waits for message 3's; :meth:`unmatched` tells what never matched.
        st.wrong = True

    def _take_gtks(self, st: _Station, ap: bytes, key_data: bytes) -> None:
        if st.version in (0, 2, 3):
            for key_id, gtk in gtks(st.kek, key_data):
                self._group[(ap, key_id)] = gtk
