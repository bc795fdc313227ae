"""The ``volte`` scenario: a phone's IMS signalling, as tcpdump on its IMS interface sees it.

A VoLTE/VoWiFi phone registers with its operator's IMS (TS 24.229) and its REGISTER
carries the subscriber and the device in clear on that interface: the IMSI in the
private and temporary public user identities ``sip:<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org``
(From, To, Contact, Authorization ``username``; TS 23.003 13.3-13.4), the IMEI as the
Contact's ``+sip.instance`` URN (RFC 7255: ``urn:gsma:imei:TTTTTTTT-SSSSSS-0``, spare digit
0), and the serving cell in P-Access-Network-Info. The scenario has:

1. initial registration over LTE (UDP 5060): REGISTER, 401 with the AKA challenge,
   REGISTER with the response, 200 OK (P-Associated-URI with the phone number);
2. a call over TCP (the INVITE with SDP is too large for UDP, RFC 3261 18.1.1): INVITE to
   a ``tel:`` number with P-Preferred-Identity = the phone number, 100/180/200, ACK, BYE;
3. after moving to Wi-Fi, a re-registration inside the IPsec tunnel to the ePDG (as seen
   on the phone's tunnel interface), whose P-Access-Network-Info names the Wi-Fi access
   point's BSSID (``IEEE-802.11; i-wlan-node-id``) instead of a cell.

Every identifier is a labelled leak (docs/simulator.md). The P-CSCF and the callee's
number are not the phone's identifiers; the callee number is a decoy.
"""

from __future__ import annotations

from pathlib import Path

from phonehome.simulate.mobile_build import imei_urn, ims_domain, sip_request, sip_response
from phonehome.simulate.nokia7plus import (
    DEVICE_IP6,
    HOUR,
    MINUTE,
    SECOND,
    START_US,
    Scene,
    ip_str,
    make_phone,
)
from phonehome.simulate.packets import Trace
from phonehome.simulate.truth import Decoy, Generated, Leak

MCC, MNC = "242", "01"
"""The simulated phone's SIM: Telenor Norway (its IMSI starts 24201)."""
PCSCF = bytes.fromhex("20010db8470100ff0000000000005060")  # 2001:db8:4701:ff::5060
TAC = 0x00A1
BSSID = "74:83:c2:10:20:30"
"""The Wi-Fi access point the phone moves to (the phone's own MAC is another)."""
CALLEE = "+4790012345"
UA = "Nokia 7 Plus IMS/1.0 (Android 9)"
PORT = 5060


def _cell_param(cell_id: int) -> str:
    """``utran-cell-id-3gpp`` for E-UTRAN: MCC, MNC, TAC (4 hex), ECI (7 hex)."""
    return f"{MCC}{MNC}{TAC:04X}{cell_id:07X}"


class _Ims:
    """The phone's IMS identities and the header lines every request repeats."""

    def __init__(self, scene: Scene) -> None:
        p = scene.phone
        self.scene = scene
        self.domain = ims_domain(MCC, MNC)
        self.impu = f"sip:{p.imsi}@{self.domain}"
        """Temporary public user identity derived from the IMSI (TS 23.003 13.4B)."""
        self.impi = f"{p.imsi}@{self.domain}"
        """Private user identity (TS 23.003 13.3): the Authorization username."""
        self.tel = p.msisdn
        self.ip = ip_str(DEVICE_IP6)
        self.urn = imei_urn(p.imei)
        self.cseq = 0
        self.branch = 0

    def via(self, transport: str) -> tuple[str, str]:
        self.branch += 1
        return (
            "Via",
            f"SIP/2.0/{transport} [{self.ip}]:{PORT};branch=z9hG4bK{self.branch:08x};rport",
        )

    def contact(self) -> tuple[str, str]:
        return (
            "Contact",
            f'<sip:{self.scene.phone.imsi}@[{self.ip}]:{PORT}>;+sip.instance="<{self.urn}>";'
            '+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel";+g.3gpp.smsip',
        )

    def register(self, pani: str, response: str, call_id: str) -> bytes:
        self.cseq += 1
        return sip_request(
            "REGISTER",
            f"sip:{self.domain}",
            [
                self.via("UDP"),
                ("Max-Forwards", "70"),
                ("From", f"<{self.impu}>;tag=r{self.cseq}"),
                ("To", f"<{self.impu}>"),
                ("Call-ID", call_id),
                ("CSeq", f"{self.cseq} REGISTER"),
                self.contact(),
                (
                    "Authorization",
                    f'Digest username="{self.impi}",realm="{self.domain}",'
                    f'uri="sip:{self.domain}",nonce="{response and "ZmFrZW5vbmNl"}",'
                    f'response="{response}",algorithm=AKAv1-MD5',
                ),
                ("P-Access-Network-Info", pani),
                ("Supported", "path,sec-agree"),
                ("Require", "sec-agree"),
                ("Expires", "600000"),
                ("User-Agent", UA),
            ],
        )


def _leak(
    scene: Scene,
    identifier: str,
    value: str,
    where: str,
    ref: int,
    *,
    raw: str | None = None,
    host: str | None = None,
    form: str | None = None,
) -> None:
    leak = Leak(
        identifier,
        value,
        host or ims_domain(MCC, MNC),
        ip_str(PCSCF),
        PORT,
        "sip",
        where,
        (),
        raw,
        form=form,
    )
    scene.truth.leak(leak, ref)


def _register_leaks(scene: Scene, ims: _Ims, ref: int, cell: bool) -> None:
    p = scene.phone
    if not cell:  # Wi-Fi access: the access point instead of the cell (not in the profile)
        _leak(scene, "bssid", BSSID, "sip.header:P-Access-Network-Info>bssid", ref, form="pattern")
    for where in ("sip.uri:From", "sip.uri:To", "sip.uri:Contact"):
        _leak(scene, "imsi", p.imsi, where, ref)
    _leak(scene, "imsi", p.imsi, "sip.header:Authorization.username", ref, raw=ims.impi)
    _leak(scene, "imei", p.imei, "sip.header:Contact.+sip.instance", ref, raw=ims.urn, form="urn")
    if cell:
        _leak(
            scene,
            "cell_id",
            f"0x{p.cell_id:x}",
            "sip.header:P-Access-Network-Info>ecgi",
            ref,
            raw=str(p.cell_id),
        )


def registration(scene: Scene, ims: _Ims, t: int, pani: str, cell: bool) -> int:
    lan = scene.lan
    call_id = f"{scene.rng.getrandbits(64):016x}@{ims.ip}"
    first = lan.udp(t, True, PCSCF, PORT, PORT, ims.register(pani, "", call_id))
    _register_leaks(scene, ims, first, cell)
    t += scene.rtt(60)
    challenge = sip_response(
        401,
        "Unauthorized",
        [
            ("Via", f"SIP/2.0/UDP [{ims.ip}]:{PORT};branch=z9hG4bK{ims.branch:08x};rport={PORT}"),
            ("From", f"<{ims.impu}>;tag=r{ims.cseq}"),
            ("To", f"<{ims.impu}>;tag=s{ims.cseq}"),
            ("Call-ID", call_id),
            ("CSeq", f"{ims.cseq} REGISTER"),
            (
                "WWW-Authenticate",
                f'Digest realm="{ims.domain}",nonce="{scene.rng.randbytes(32).hex()}",'
                'algorithm=AKAv1-MD5,qop="auth"',
            ),
        ],
    )
    lan.udp(t, False, PCSCF, PORT, PORT, challenge)
    t += 200_000
    second = lan.udp(
        t, True, PCSCF, PORT, PORT, ims.register(pani, scene.rng.randbytes(16).hex(), call_id)
    )
    _register_leaks(scene, ims, second, cell)
    t += scene.rtt(60)
    ok = sip_response(
        200,
        "OK",
        [
            ("Via", f"SIP/2.0/UDP [{ims.ip}]:{PORT};branch=z9hG4bK{ims.branch:08x};rport={PORT}"),
            ("From", f"<{ims.impu}>;tag=r{ims.cseq}"),
            ("To", f"<{ims.impu}>;tag=s{ims.cseq}"),
            ("Call-ID", call_id),
            ("CSeq", f"{ims.cseq} REGISTER"),
            ims.contact(),
            ("P-Associated-URI", f"<sip:{ims.tel}@{ims.domain};user=phone>, <tel:{ims.tel}>"),
            ("Service-Route", f"<sip:orig@scscf.{ims.domain};lr>"),
        ],
    )
    lan.udp(t, False, PCSCF, PORT, PORT, ok)
    return t + SECOND


def call(scene: Scene, ims: _Ims, t: int, pani: str) -> int:
    """An outgoing call over TCP: INVITE with SDP and the caller's identity."""
    p = scene.phone
    conn = scene.lan.tcp(t, PCSCF, PORT, rtt_us=scene.rtt(60), isn=scene.isn())
    conn.open()
    call_id = f"{scene.rng.getrandbits(64):016x}@{ims.ip}"
    sdp = (
        f"v=0\r\no=- {scene.rng.getrandbits(32)} 1 IN IP6 {ims.ip}\r\ns=-\r\n"
        f"c=IN IP6 {ims.ip}\r\nt=0 0\r\nm=audio 50010 RTP/AVP 116 118\r\n"
        "b=AS:49\r\na=rtpmap:116 AMR-WB/16000/1\r\na=rtpmap:118 AMR/8000/1\r\n"
        "a=sendrecv\r\n"
    ).encode()
    me = f"<sip:{ims.tel}@{ims.domain};user=phone>"
    headers = [
        ims.via("TCP"),
        ("Max-Forwards", "70"),
        ("From", f"{me};tag=c1"),
        ("To", f"<tel:{CALLEE}>"),
        ("Call-ID", call_id),
        ("CSeq", "1 INVITE"),
        ims.contact(),
        ("P-Preferred-Identity", me),
        ("P-Access-Network-Info", pani),
        ("Accept-Contact", '*;+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"'),
        ("Content-Type", "application/sdp"),
        ("User-Agent", UA),
    ]
    invite = conn.send(sip_request("INVITE", f"tel:{CALLEE}", headers, sdp))
    ref = invite[-1]
    host = ip_str(PCSCF)  # a tel: Request-URI names no host
    for where in ("sip.uri:From", "sip.uri:P-Preferred-Identity"):
        _leak(scene, "msisdn", p.msisdn, where, ref, host=host)
    _leak(scene, "imsi", p.imsi, "sip.uri:Contact", ref, host=host)
    _leak(
        scene,
        "imei",
        p.imei,
        "sip.header:Contact.+sip.instance",
        ref,
        raw=ims.urn,
        host=host,
        form="urn",
    )
    _leak(
        scene,
        "cell_id",
        f"0x{p.cell_id:x}",
        "sip.header:P-Access-Network-Info>ecgi",
        ref,
        raw=str(p.cell_id),
        host=host,
    )
    scene.truth.decoy(
        Decoy(CALLEE, "sip.uri:Request-URI", "the number called, not the phone's", host), ref
    )
    conn.wait(scene.rtt(60))
    base = [
        ("Via", f"SIP/2.0/TCP [{ims.ip}]:{PORT};branch=z9hG4bK{ims.branch:08x}"),
        ("From", f"{me};tag=c1"),
        ("To", f"<tel:{CALLEE}>;tag=callee1"),
        ("Call-ID", call_id),
        ("CSeq", "1 INVITE"),
    ]
    conn.send(sip_response(100, "Trying", base[:1] + base[1:3] + base[3:]), from_client=False)
    conn.wait(2 * SECOND)
    conn.send(sip_response(180, "Ringing", base), from_client=False)
    conn.wait(6 * SECOND)
    conn.send(
        sip_response(200, "OK", [*base, ("Content-Type", "application/sdp")], sdp),
        from_client=False,
    )
    conn.wait(scene.rtt(60))
    tail = [("From", f"{me};tag=c1"), ("To", f"<tel:{CALLEE}>;tag=callee1"), ("Call-ID", call_id)]
    ack = conn.send(sip_request("ACK", f"tel:{CALLEE}", [ims.via("TCP"), *tail, ("CSeq", "1 ACK")]))
    conn.wait(40 * SECOND)
    bye = conn.send(sip_request("BYE", f"tel:{CALLEE}", [ims.via("TCP"), *tail, ("CSeq", "2 BYE")]))
    for later in (ack[-1], bye[-1]):  # the caller's From is on every request of the dialog
        _leak(scene, "msisdn", p.msisdn, "sip.uri:From", later, host=host)
    conn.wait(scene.rtt(60))
    conn.send(sip_response(200, "OK", [*tail, ("CSeq", "2 BYE")]), from_client=False)
    conn.wait(SECOND)
    conn.close()
    return conn.t_us


def generate(out: Path, seed: int, size_mb: float | None, pcapng: bool) -> Generated:
    trace = Trace()
    scene = Scene(make_phone(seed), trace, seed)
    ims = _Ims(scene)
    t = START_US + 7 * HOUR
    scene.event(t, "boot")
    scene.event(t + 15 * SECOND, "network_change")
    lte = f"3GPP-E-UTRAN-FDD; utran-cell-id-3gpp={_cell_param(scene.phone.cell_id)}"
    t = registration(scene, ims, t + 20 * SECOND, lte, cell=True)
    scene.event(t + 10 * MINUTE, "screen_on")
    scene.event(t + 10 * MINUTE + 2 * SECOND, "unlock")
    t = call(scene, ims, t + 10 * MINUTE + 30 * SECOND, lte)
    scene.event(t + 20 * MINUTE, "network_change")
    wifi = f'IEEE-802.11; i-wlan-node-id={BSSID.replace(":", "")}; "country=NO"'
    ref_t = t + 20 * MINUTE + 10 * SECOND
    registration(scene, ims, ref_t, wifi, cell=False)
    return scene.finish(trace, out, scenario="volte", seed=seed, pcapng=pcapng)
