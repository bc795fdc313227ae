"""The ``eap-aka`` scenario: carrier Wi-Fi with EAP-AKA, captured on the access point.

SIM-based Wi-Fi (Passpoint, carrier hotspots, TS 33.402) authenticates with EAP-AKA: the
phone talks EAP over EAPOL to the access point, which relays it in RADIUS to the
operator's AAA server. The phone's first identity is the 3GPP NAI (TS 23.003 19.3):
``0<IMSI>@wlan.mnc<MNC>.mcc<MCC>.3gppnetwork.org`` the first time, a pseudonym
(``2...``) or a fast re-authentication identity (``4...``) later, which the server may
answer with AT_PERMANENT_ID_REQ to get the IMSI anyway (the IMSI-catcher exposure).

Three sessions: (1) a fresh SIM sends its permanent identity; (2) the phone offers a
pseudonym, the AAA server does not know it and asks for the permanent identity, the
phone sends it in AT_IDENTITY; (3) fast re-authentication with a re-auth identity. The
capture (``tcpdump -i any`` on the access point) holds both legs: the station's EAPOL
frames and the access point's RADIUS exchange with the AAA server, whose attributes also
name the phone's Wi-Fi MAC (Calling-Station-Id) and the access point (Called-Station-Id).
The pseudonym and the re-authentication identity are decoys: they are not IMSIs. The
IMSI is labelled on both legs: in the EAPOL frame the phone sends the access point (host:
the NAI's realm, which routes it to the home AAA server) and in the RADIUS request. (The
decoys are placed on the RADIUS leg only: a decoy is a place, and on the EAPOL leg every
identity's place is the same, ``eapol.eap:identity`` at the realm.)
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from phonehome.simulate.mobile_build import (
    at_bytes,
    at_flag,
    at_identity,
    eap_identity,
    eap_message_attrs,
    eap_sim_aka,
    eapol,
    radius,
    radius_attr,
    radius_vsa,
)
from phonehome.simulate.nokia7plus import (
    DEVICE_MAC,
    HOUR,
    MINUTE,
    SECOND,
    START_US,
    Scene,
    ip_str,
    mac_str,
    make_phone,
)
from phonehome.simulate.packets import Lan, Trace
from phonehome.simulate.truth import Decoy, Generated, Leak

MCC, MNC = "242", "01"
REALM = f"wlan.mnc{MNC.zfill(3)}.mcc{MCC}.3gppnetwork.org"
AP_MAC = bytes.fromhex("7483c2102030")
AP_IP = bytes([192, 168, 1, 2])
SWITCH_MAC = bytes.fromhex("c80e14a291f0")
GATEWAY_IP = bytes([192, 168, 1, 1])
AAA_IP = bytes([198, 51, 100, 18])
PARTNER_AAA_IP = bytes([198, 51, 100, 19])
"""The AAA server behind the partner hotspot of sessions 2 and 3 (it proxies to the home
operator): another destination, so the decoys' places are not the first session's."""
SSID = "Telenor WiFi"
RADIUS_PORT = 1812
EAPOL_TYPE = 0x888E
PAE_GROUP = bytes.fromhex("0180c2000003")

AKA = 23
IDENTITY, CHALLENGE, REAUTH = 5, 1, 13
AT_PERMANENT_ID_REQ, AT_RAND, AT_AUTN, AT_RES, AT_MAC = 10, 1, 2, 3, 11
AT_IV, AT_ENCR_DATA, AT_COUNTER = 129, 130, 19


def _dashed(mac: bytes) -> str:
    return "-".join(f"{b:02X}" for b in mac)


class _Session:
    """One authentication: EAPOL between phone and AP, RADIUS between AP and AAA."""

    def __init__(self, scene: Scene, ap: Lan, t: int, radius_id: int, aaa: bytes) -> None:
        self.scene = scene
        self.ap = ap
        self.aaa = aaa
        self.t = t
        self.radius_id = radius_id
        self.port = ap.ephemeral_port()
        self.state = b""

    def eapol(self, from_phone: bool, packet: bytes, ptype: int = 0) -> int:
        body = struct.pack("!BBH", 2, ptype, len(packet)) + packet if ptype else eapol(packet)
        dst, src = (AP_MAC, DEVICE_MAC) if from_phone else (DEVICE_MAC, AP_MAC)
        if ptype == 1:
            dst = PAE_GROUP
        ref = self.scene.lan.sink.emit(self.t, dst + src + EAPOL_TYPE.to_bytes(2, "big") + body)
        self.t += 3_000
        return ref

    def access_request(self, eap: bytes, user: str) -> int:
        self.radius_id = (self.radius_id + 1) & 0xFF
        attrs = [
            radius_attr(1, user.encode()),
            radius_attr(4, AP_IP),
            radius_attr(30, f"{_dashed(AP_MAC)}:{SSID}".encode()),
            radius_attr(31, _dashed(DEVICE_MAC).encode()),
            radius_attr(61, struct.pack("!I", 19)),  # Wireless - IEEE 802.11
            radius_attr(12, struct.pack("!I", 1400)),
            *eap_message_attrs(eap),
        ]
        if self.state:
            attrs.append(radius_attr(24, self.state))
        attrs.append(radius_attr(80, self.scene.rng.randbytes(16)))
        ref = self.ap.udp(
            self.t,
            True,
            self.aaa,
            RADIUS_PORT,
            self.port,
            radius(1, self.radius_id, attrs, self.scene.rng.randbytes(16)),
        )
        self.t += self.scene.rtt(20)
        p = self.scene.phone
        _leak(
            self.scene,
            self.aaa,
            "mac",
            p.mac_text,
            "radius.attr:Calling-Station-Id",
            ref,
            _dashed(DEVICE_MAC),
        )
        bssid = mac_str(AP_MAC)  # the access point, found by pattern
        called = f"{_dashed(AP_MAC)}:{SSID}"
        _leak(self.scene, self.aaa, "bssid", bssid, "radius.attr:Called-Station-Id", ref, called)
        if user == f"0{p.imsi}@{REALM}":
            _leak(self.scene, self.aaa, "imsi", p.imsi, "radius.attr:User-Name", ref, user)
        return ref

    def answer(self, code: int, eap: bytes, extra: list[bytes] | None = None) -> int:
        self.state = self.scene.rng.randbytes(16)
        attrs = [*eap_message_attrs(eap), radius_attr(24, self.state), *(extra or [])]
        attrs.append(radius_attr(80, self.scene.rng.randbytes(16)))
        ref = self.ap.udp(
            self.t,
            False,
            self.aaa,
            RADIUS_PORT,
            self.port,
            radius(code, self.radius_id, attrs, self.scene.rng.randbytes(16)),
        )
        self.t += 2_000
        return ref

    def challenge(self, ident: int, user: str) -> None:
        """AKA-Challenge and its response, then Access-Accept and EAP-Success."""
        rng = self.scene.rng
        request = eap_sim_aka(
            1,
            ident,
            AKA,
            CHALLENGE,
            [
                at_bytes(AT_RAND, rng.randbytes(16)),
                at_bytes(AT_AUTN, rng.randbytes(16)),
                at_bytes(AT_MAC, rng.randbytes(16)),
            ],
        )
        self.answer(11, request)
        self.eapol(False, request)
        response = eap_sim_aka(
            2,
            ident,
            AKA,
            CHALLENGE,
            [
                bytes([AT_RES, 3, 0, 64]) + rng.randbytes(8),
                at_bytes(AT_MAC, rng.randbytes(16)),
            ],
        )
        self.eapol(True, response)
        self.access_request(response, user)
        success = struct.pack("!BBH", 3, ident, 4)
        keys = [radius_vsa(311, 16, rng.randbytes(34)), radius_vsa(311, 17, rng.randbytes(34))]
        self.answer(2, success, keys)
        self.eapol(False, success)
        self.eapol(False, rng.randbytes(95), ptype=3)  # EAPOL-Key message 1 of the handshake


def _leak(
    scene: Scene, aaa: bytes, identifier: str, value: str, where: str, ref: int, raw: str
) -> None:
    form = {"imsi": "nai-eap-aka", "bssid": "pattern"}.get(identifier)
    leak = Leak(
        identifier,
        value,
        ip_str(aaa),
        ip_str(aaa),
        RADIUS_PORT,
        "radius",
        where,
        (),
        raw,
        form=form,
    )
    scene.truth.leak(leak, ref)


def _link_leak(scene: Scene, imsi: str, where: str, ref: int, raw: str) -> None:
    """The identity on the EAPOL leg: received by the access point, routed by its realm
    to the home AAA server (the finding's host is the realm, its address the AP's MAC)."""
    ap = mac_str(AP_MAC)
    leak = Leak("imsi", imsi, REALM, ap, 0, "eapol", where, (), raw, form="nai-eap-aka")
    scene.truth.leak(leak, ref)


def full_authentication(scene: Scene, ap: Lan, t: int, first_id: str, aaa: bytes) -> int:
    """Sessions 1 and 2: the identity first offered, then (for a pseudonym) the
    permanent one asked for; then the challenge."""
    p = scene.phone
    permanent = f"0{p.imsi}@{REALM}"
    s = _Session(scene, ap, t, scene.rng.randrange(256), aaa)
    s.eapol(True, b"", ptype=1)  # EAPOL-Start
    s.eapol(False, struct.pack("!BBHB", 1, 1, 5, 1))  # EAP-Request/Identity
    offered = eap_identity(1, first_id)
    on_link = s.eapol(True, offered)
    ref = s.access_request(offered, first_id)
    if first_id == permanent:
        _leak(scene, aaa, "imsi", p.imsi, "radius.attr:EAP-Message>identity", ref, permanent)
        _link_leak(scene, p.imsi, "eapol.eap:identity", on_link, permanent)
    else:
        scene.truth.decoy(
            Decoy(
                first_id,
                "radius.attr:User-Name",
                "an EAP-AKA pseudonym (leading 2): not an IMSI",
                ip_str(aaa),
            ),
            ref,
        )
        ask = eap_sim_aka(1, 2, AKA, IDENTITY, [at_flag(AT_PERMANENT_ID_REQ)])
        s.answer(11, ask)
        s.eapol(False, ask)
        reply = eap_sim_aka(2, 2, AKA, IDENTITY, [at_identity(permanent)])
        on_link = s.eapol(True, reply)
        ref = s.access_request(reply, first_id)
        _leak(scene, aaa, "imsi", p.imsi, "radius.attr:EAP-Message>AT_IDENTITY", ref, permanent)
        _link_leak(scene, p.imsi, "eapol.eap:AT_IDENTITY", on_link, permanent)
    s.challenge(3, first_id)
    return s.t


def reauthentication(scene: Scene, ap: Lan, t: int, reauth_id: str) -> int:
    """Session 3: fast re-authentication; the counter and next ids travel encrypted."""
    rng = scene.rng
    s = _Session(scene, ap, t, rng.randrange(256), PARTNER_AAA_IP)
    s.eapol(False, struct.pack("!BBHB", 1, 1, 5, 1))
    offered = eap_identity(1, reauth_id)
    s.eapol(True, offered)
    ref = s.access_request(offered, reauth_id)
    why = "an EAP-AKA fast re-authentication identity (leading 4): not an IMSI"
    scene.truth.decoy(Decoy(reauth_id, "radius.attr:User-Name", why, ip_str(PARTNER_AAA_IP)), ref)
    request = eap_sim_aka(
        1,
        2,
        AKA,
        REAUTH,
        [
            at_bytes(AT_IV, rng.randbytes(16)),
            at_bytes(AT_ENCR_DATA, rng.randbytes(48)),
            at_bytes(AT_MAC, rng.randbytes(16)),
        ],
    )
    s.answer(11, request)
    s.eapol(False, request)
    response = eap_sim_aka(
        2,
        2,
        AKA,
        REAUTH,
        [
            at_bytes(AT_IV, rng.randbytes(16)),
            at_bytes(AT_ENCR_DATA, rng.randbytes(16)),
            at_bytes(AT_MAC, rng.randbytes(16)),
        ],
    )
    s.eapol(True, response)
    s.access_request(response, reauth_id)
    success = struct.pack("!BBH", 3, 2, 4)
    s.answer(2, success, [radius_vsa(311, 16, rng.randbytes(34))])
    s.eapol(False, success)
    return s.t


def generate(out: Path, seed: int, size_mb: float | None, pcapng: bool) -> Generated:
    trace = Trace()
    scene = Scene(make_phone(seed), trace, seed)
    ap = Lan(trace, AP_MAC, AP_IP, bytes(16), SWITCH_MAC, GATEWAY_IP, bytes(16))
    p = scene.phone
    token = hashlib.sha256(f"{seed}/{p.imsi}".encode()).hexdigest()
    pseudonym = f"2{token[:20]}@{REALM}"
    reauth = f"4{token[20:44]}@{REALM}"
    t = START_US + 9 * HOUR
    scene.event(t, "network_change")
    t = full_authentication(scene, ap, t, f"0{p.imsi}@{REALM}", AAA_IP)
    scene.event(t + 2 * HOUR, "network_change")
    t = full_authentication(scene, ap, t + 2 * HOUR, pseudonym, PARTNER_AAA_IP)
    scene.event(t + 30 * MINUTE, "network_change")
    reauthentication(scene, ap, t + 30 * MINUTE + SECOND, reauth)
    return scene.finish(trace, out, scenario="eap-aka", seed=seed, pcapng=pcapng)
