"""The ``vowifi`` scenario: Wi-Fi calling's IKEv2 tunnel to the ePDG, as a capture on the
Wi-Fi network sees it.

The phone looks the ePDG up by name (``epdg.epc.mnc<MNC>.mcc<MCC>.pub.3gppnetwork.org``,
TS 23.003 19.4.2.9), runs IKE_SA_INIT on UDP 500, moves to 4500 because NAT detection
found the home router's NAT (RFC 7296 2.23), and authenticates in IKE_AUTH with EAP-AKA
(TS 33.402 8.2): IDi is the NAI ``0<IMSI>@nai.epc.mnc<MNC>.mcc<MCC>.3gppnetwork.org``.
IDi and the EAP exchange travel inside the Encrypted payload, so the ground truth has
no leak here: the NAI is a decoy that a scan must not report, because a passive capture
cannot read it (the IMSI exposure of Wi-Fi calling needs an attacker posing as the ePDG).
Then ESP in UDP carries the calls, with NAT keep-alives.
"""

from __future__ import annotations

import struct
from pathlib import Path

from phonehome.simulate.mobile_build import ike, ike_payload
from phonehome.simulate.nokia7plus import HOUR, SECOND, START_US, Scene, ip_str, make_phone
from phonehome.simulate.packets import Trace
from phonehome.simulate.truth import Decoy, Generated

MCC, MNC = "242", "01"
EPDG_NAME = f"epdg.epc.mnc{MNC.zfill(3)}.mcc{MCC}.pub.3gppnetwork.org"
EPDG_IP = bytes([198, 51, 100, 50])
IKE_SA_INIT, IKE_AUTH, INFORMATIONAL = 34, 35, 37
SA, KE, IDI, NONCE, NOTIFY, VENDOR, SK = 33, 34, 35, 40, 41, 43, 46
NAT_SOURCE, NAT_DESTINATION = 16388, 16389


def _sa() -> bytes:
    """One proposal: AES-CBC-256, HMAC-SHA2-256-128, PRF-HMAC-SHA2-256, DH group 14."""
    transforms = [(1, 12, b"\x80\x0e\x01\x00"), (3, 12, b""), (2, 5, b""), (4, 14, b"")]
    body = b""
    for i, (ttype, tid, attrs) in enumerate(transforms):
        last = i == len(transforms) - 1
        body += struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs
    proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(body), 1, 1, 0, len(transforms)) + body
    return proposal


def _notify(kind: int, data: bytes) -> bytes:
    return struct.pack("!BBH", 0, 0, kind) + data


def _sk(scene: Scene, size: int) -> bytes:
    """An Encrypted payload: IV, ciphertext (opaque), integrity checksum."""
    return scene.rng.randbytes(16) + scene.rng.randbytes(size) + scene.rng.randbytes(16)


def generate(out: Path, seed: int, size_mb: float | None, pcapng: bool) -> Generated:
    trace = Trace()
    scene = Scene(make_phone(seed), trace, seed)
    lan = scene.lan
    p = scene.phone
    t = START_US + 18 * HOUR
    scene.event(t, "network_change")
    t = scene.dns(t + SECOND, EPDG_NAME, [EPDG_IP])
    spi_i = scene.rng.randbytes(8)
    spi_r = scene.rng.randbytes(8)
    rng = scene.rng
    init = (
        ike_payload(KE, _sa())
        + ike_payload(NONCE, struct.pack("!HH", 14, 0) + rng.randbytes(256))
        + ike_payload(NOTIFY, rng.randbytes(32))
        + ike_payload(NOTIFY, _notify(NAT_SOURCE, rng.randbytes(20)))
        + ike_payload(0, _notify(NAT_DESTINATION, rng.randbytes(20)))
    )
    lan.udp(t, True, EPDG_IP, 500, 500, ike(IKE_SA_INIT, SA, init, spi_i))
    t += scene.rtt(40)
    lan.udp(t, False, EPDG_IP, 500, 500, ike(IKE_SA_INIT, SA, init, spi_i, spi_r, flags=0x20))
    t += 20_000
    nai = f"0{p.imsi}@nai.epc.mnc{MNC.zfill(3)}.mcc{MCC}.3gppnetwork.org"
    port = lan.ephemeral_port()
    auth = ike(IKE_AUTH, SK, ike_payload(IDI, _sk(scene, 336)), spi_i, spi_r, 1)
    ref = lan.udp(t, True, EPDG_IP, 4500, port, bytes(4) + auth)
    scene.truth.decoy(
        Decoy(
            nai,
            "ike (IKE_AUTH, inside the Encrypted payload)",
            "IDi is encrypted: a passive capture cannot read it",
            ip_str(EPDG_IP),
        ),
        ref,
    )
    for msg_id, size in ((1, 96), (2, 80), (2, 64), (3, 48)):
        from_phone = size in (80, 48)
        t += scene.rtt(40) if not from_phone else 30_000
        flags = 0x08 if from_phone else 0x20
        body = ike(
            IKE_AUTH,
            SK,
            ike_payload(48 if msg_id < 3 else 39, _sk(scene, size)),
            spi_i,
            spi_r,
            msg_id,
            flags,
        )
        lan.udp(t, from_phone, EPDG_IP, 4500, port, bytes(4) + body)
    esp_spi = rng.randbytes(4)
    for i in range(6):
        t += 20_000
        esp = esp_spi + struct.pack("!I", i + 1) + rng.randbytes(120)
        lan.udp(t, True, EPDG_IP, 4500, port, esp)
    t += 20 * SECOND
    lan.udp(t, True, EPDG_IP, 4500, port, b"\xff")  # NAT keep-alive (RFC 3948 2.3)
    return scene.finish(trace, out, scenario="vowifi", seed=seed, pcapng=pcapng)
