"""IKE: IKE_SA_INIT in clear, IKE_AUTH's identity inside the encrypted payload (only its
type is visible), NAT-T's non-ESP marker, IKEv1 Aggressive Mode's identity in clear."""

from __future__ import annotations

from phonehome.model.message import RawPayload
from phonehome.protocols.ike import EspPacket, IkeMessage
from phonehome.simulate.mobile_build import ike, ike_payload

from .builders_mobile import by_where, fields, only, udp

SPI = bytes.fromhex("0102030405060708")
NAI = "0262019876543210@nai.epc.mnc001.mcc262.3gppnetwork.org"


def sa_init() -> bytes:
    payloads = (
        ike_payload(34, bytes(8))  # SA (body not parsed), next KE
        + ike_payload(40, b"\x00\x13\x00\x00" + bytes(32))  # KE, next Nonce
        + ike_payload(41, bytes(32))  # Nonce, next Notify
        + ike_payload(0, b"\x00\x00\x40\x04" + bytes(20))  # N(NAT_DETECTION_SOURCE_IP)
    )
    return ike(34, 33, payloads, SPI)


def auth() -> bytes:
    """IKE_AUTH as sent: IDi and the rest inside SK (here opaque bytes)."""
    return ike(35, 46, ike_payload(35, bytes(16) + b"\xde\xad" * 40), SPI, SPI[::-1], 1)


def test_sa_init_in_clear() -> None:
    ctx, out = udp(sa_init(), 500, 500)
    msg = only(out)
    assert isinstance(msg, IkeMessage) and ctx.anomalies.total() == 0
    assert (msg.version, msg.exchange_name, msg.response, msg.initiator) == (
        2,
        "IKE_SA_INIT",
        False,
        True,
    )
    assert msg.payloads == ("SA", "KE", "Nonce", "N") and not msg.encrypted
    assert msg.spi_i == SPI.hex() and fields(msg, "ike") == []


def test_auth_identity_is_encrypted_only_its_type_shows() -> None:
    _, out = udp(b"\x00\x00\x00\x00" + auth(), 4500, 4500)
    msg = only(out)
    assert isinstance(msg, IkeMessage)
    assert msg.exchange_name == "IKE_AUTH" and msg.message_id == 1
    assert msg.payloads == ("SK{IDi}",) and msg.encrypted and msg.identities == ()
    assert fields(msg, "ike") == []


def test_nat_t_port_keepalive_and_esp() -> None:
    assert isinstance(only(udp(b"\xff", 4500, 4500)[1]), RawPayload)
    esp = only(udp(SPI + b"\x00\x00\x00\x01" + bytes(40), 40000, 4500)[1])
    assert esp == EspPacket(0x01020304, 0x05060708, 52)
    assert fields(esp, "esp") == []
    assert isinstance(only(udp(SPI + bytes(40), 40000, 45000)[1]), RawPayload)  # not NAT-T


def test_ikev1_aggressive_mode_identity_is_in_clear() -> None:
    ident = b"\x03\x11\x01\xf4" + NAI.encode()  # USER_FQDN, UDP, port 500
    payloads = ike_payload(4, bytes(8)) + ike_payload(5, bytes(16)) + ike_payload(0, ident)
    data = ike(4, 1, payloads, SPI, flags=0, version=0x10)
    msg = only(udp(data, 500, 500)[1])
    assert isinstance(msg, IkeMessage) and msg.version == 1
    assert msg.exchange_name == "Aggressive" and msg.payloads == ("SA", "KE", "ID")
    assert msg.identities == (("ID", "RFC822_ADDR", NAI),)
    (f,) = by_where(fields(msg, "ike"))["ike.id:ID"]
    assert f.text == NAI


def test_ikev1_encrypted_flag_hides_every_payload() -> None:
    data = ike(2, 5, bytes(40), SPI, SPI, flags=0x01, version=0x10)
    msg = only(udp(data, 500, 500)[1])
    assert isinstance(msg, IkeMessage) and msg.encrypted and msg.payloads == ()


def test_a_payload_chain_past_the_message_is_counted() -> None:
    data = bytearray(sa_init())
    data[28 + 3] = 0xFF  # SA payload length past the end
    ctx, out = udp(bytes(data), 500, 500)
    msg = only(out)
    assert isinstance(msg, IkeMessage) and msg.payloads == ()
    assert ctx.anomalies.counts["ike.malformed"] == 1


def test_a_length_that_does_not_match_is_not_ike() -> None:
    assert isinstance(only(udp(sa_init() + b"x", 500, 500)[1]), RawPayload)
