"""Key derivations and record protection against published vectors: RFC 8448's example
TLS 1.3 handshake, the TLS 1.2 PRF vectors from the TLS working group, RFC 9001 and
RFC 9369 Appendix A.5 (ChaCha20 short header packet, key update), and cryptography's own
HKDF."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from phonehome.decrypt.ciphers import SUITES, Tls13Cipher
from phonehome.decrypt.quic import decode_packet_number, packet_keys
from phonehome.decrypt.schedule import (
    hkdf_expand,
    hkdf_expand_label,
    key_block12,
    next_traffic_secret,
    prf12,
    traffic_keys,
)
from phonehome.protocols.quic import VERSION_1, VERSION_2, VERSIONS

h = bytes.fromhex

# RFC 8448 section 3 (Simple 1-RTT Handshake), TLS_AES_128_GCM_SHA256.
HANDSHAKE_SECRET = h("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
HELLO_HASH = h("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
C_HS = h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
S_HS = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
MASTER_SECRET = h("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
FINISHED_HASH = h("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13")
C_AP = h("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
S_AP = h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
PAYLOAD = bytes(range(0x32))
CLIENT_DATA_RECORD = h(
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd5"
    "4a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4"
)
SERVER_DATA_RECORD = h(
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc60"
    "2dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d"
)


def test_rfc8448_traffic_secrets_from_the_handshake_and_master_secrets() -> None:
    assert hkdf_expand_label(HANDSHAKE_SECRET, b"c hs traffic", 32, "sha256", HELLO_HASH) == C_HS
    assert hkdf_expand_label(HANDSHAKE_SECRET, b"s hs traffic", 32, "sha256", HELLO_HASH) == S_HS
    assert hkdf_expand_label(MASTER_SECRET, b"c ap traffic", 32, "sha256", FINISHED_HASH) == C_AP
    assert hkdf_expand_label(MASTER_SECRET, b"s ap traffic", 32, "sha256", FINISHED_HASH) == S_AP


@pytest.mark.parametrize(
    ("secret", "key", "iv"),
    [
        (S_HS, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"),
        (C_HS, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"),
        (S_AP, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"),
        (C_AP, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"),
    ],
)
def test_rfc8448_write_keys_and_ivs(secret: bytes, key: str, iv: str) -> None:
    assert traffic_keys(secret, 16, 12, "sha256") == (h(key), h(iv))


def test_rfc8448_application_records_open() -> None:
    suite = SUITES[0x1301]
    c_key, c_iv = traffic_keys(C_AP, 16, 12, "sha256")
    client = Tls13Cipher(suite.cipher, c_key, c_iv)
    assert client.open(CLIENT_DATA_RECORD[:5], CLIENT_DATA_RECORD[5:], 0) == (23, PAYLOAD)
    assert client.open(CLIENT_DATA_RECORD[:5], CLIENT_DATA_RECORD[5:], 1) is None
    # The server's data record is its second under the application keys (a
    # NewSessionTicket came first).
    s_key, s_iv = traffic_keys(S_AP, 16, 12, "sha256")
    server = Tls13Cipher(suite.cipher, s_key, s_iv)
    assert server.open(SERVER_DATA_RECORD[:5], memoryview(SERVER_DATA_RECORD)[5:], 1) == (
        23,
        PAYLOAD,
    )
    damaged = bytearray(SERVER_DATA_RECORD)
    damaged[-1] ^= 1
    assert server.open(bytes(damaged[:5]), bytes(damaged[5:]), 1) is None


def test_tls12_prf_sha256_vector() -> None:
    out = prf12(h("9bbe436ba940f017b17652849a71db35"), b"test label",
                h("a0ba9f936cda311827a6f796ffd5198c"), 100, "sha256")  # fmt: skip
    assert out == h(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9"
        "c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789ba"
        "a48082d122ee42c5a72e5a5110fff70187347b66"
    )


def test_tls12_prf_sha384_vector() -> None:
    out = prf12(h("b80b733d6ceefcdc71566ea48e5567df"), b"test label",
                h("cd665cf6a8447dd6ff8b27555edb7465"), 148, "sha384")  # fmt: skip
    prefix = h(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe3"
        "4f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3"
        "d416d473ebc2c5fd4abfdad05d9184259b5bf8"
    )
    assert len(out) == 148 and out[: len(prefix)] == prefix


def test_key_block_is_the_prf_cut_in_rfc5246_order() -> None:
    master, server_random, client_random = os.urandom(48), os.urandom(32), os.urandom(32)
    block = prf12(master, b"key expansion", server_random + client_random, 2 * (20 + 16 + 4),
                  "sha256")  # fmt: skip
    parts = key_block12(master, server_random, client_random, 20, 16, 4, "sha256")
    assert b"".join(parts) == block
    assert [len(p) for p in parts] == [20, 20, 16, 16, 4, 4]


@pytest.mark.parametrize("name", ["sha256", "sha384"])
@pytest.mark.parametrize("length", [12, 16, 32, 48, 100])
def test_hkdf_expand_agrees_with_cryptography(name: str, length: int) -> None:
    prk, info = os.urandom(48), os.urandom(20)
    algorithm = hashes.SHA256() if name == "sha256" else hashes.SHA384()
    expected = HKDFExpand(algorithm, length, info).derive(prk)
    assert hkdf_expand(prk, info, length, name) == expected


def test_key_update_secret_is_traffic_upd() -> None:
    # RFC 8446 7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(N, "traffic upd", "", L)
    assert next_traffic_secret(C_AP, "sha256") == hkdf_expand_label(
        C_AP, b"traffic upd", 32, "sha256"
    )


# RFC 9001 A.5 and RFC 9369 A.5: one ChaCha20-Poly1305 short header packet.
QUIC_SECRET = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")


@pytest.mark.parametrize(
    ("version", "key", "iv", "hp", "ku", "packet", "mask"),
    [
        (
            VERSION_1,
            "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
            "e0459b3474bdd0e44a41c144",
            "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
            "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
            "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
            "aefefe7d03",
        ),
        (
            VERSION_2,
            "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
            "a6b5bc6ab7dafce30ffff5dd",
            "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
            "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
            "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
            "97580e32bf",
        ),
    ],
)
def test_quic_chacha20_short_header_packet(
    version: int, key: str, iv: str, hp: str, ku: str, packet: str, mask: str
) -> None:
    v = VERSIONS[version]
    prefix = b"quicv2 " if version == VERSION_2 else b"quic "
    assert traffic_keys(QUIC_SECRET, 32, 12, "sha256", prefix) == (h(key), h(iv))
    assert hkdf_expand_label(QUIC_SECRET, prefix + b"hp", 32, "sha256") == h(hp)
    assert next_traffic_secret(QUIC_SECRET, "sha256", prefix + b"ku") == h(ku)
    keys = packet_keys(SUITES[0x1303], QUIC_SECRET, v)
    raw = h(packet)
    assert keys.hp.mask(raw[5:21]) == h(mask)
    # Header protection off: first byte 0x42 (short header, 3-byte packet number), 00bff4.
    first = raw[0] ^ (h(mask)[0] & 0x1F)
    pn = bytes(b ^ m for b, m in zip(raw[1:4], h(mask)[1:4], strict=True))
    assert bytes((first,)) + pn == h("4200bff4")
    number = decode_packet_number(int.from_bytes(pn, "big"), 3, 654360563)
    assert number == 654360564
    assert keys.open(number, raw[4:], h("4200bff4")) == b"\x01"
    assert keys.open(number + 1, raw[4:], h("4200bff4")) is None
