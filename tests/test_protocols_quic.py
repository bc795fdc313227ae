"""QUIC Initial decryption: RFC 9001 / RFC 9369 Appendix A vectors, builder round-trips,
split and reordered hellos, coalesced packets, and damage that must never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonehome.model.message import QuicInitial
from phonehome.protocols import quic
from phonehome.protocols.quic import (
    MAX_INITIAL_PACKETS,
    VERSION_1,
    VERSION_2,
    QuicInitialTracker,
    _long_header,
    client_initial_keys,
    crypto_frames,
    encode_varint,
    hkdf_expand_label,
    hkdf_extract,
    looks_like_quic_initial,
    open_packet,
)
from phonehome.simulate.quic_build import client_initial_datagrams
from phonehome.simulate.tls_build import client_hello
from tests import tshark
from tests.builders_capture import udp_pcap

RFC_DCID = bytes.fromhex("8394c8f03e515708")

# RFC 9001 Appendix A.2: the protected client Initial (1200 bytes, packet number 2).
RFC9001_CLIENT_INITIAL = bytes.fromhex(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934"
)

# RFC 9369 Appendix A.2: the same ClientHello protected with QUIC version 2.
RFC9369_CLIENT_INITIAL = bytes.fromhex(
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc"
)

# Start of the unprotected payload in A.2 of both RFCs: a CRYPTO frame at offset 0
# holding the whole 241-byte ClientHello message.
RFC_PAYLOAD_START = bytes.fromhex("060040f1010000ed0303ebf8fa56f129")

HELLO = client_hello("api.tracker.example", ("h3",), padding_to=1400)
SMALL_HELLO = client_hello("small.example", ("h3",))
DCID = bytes.fromhex("0011223344556677")
SCID = bytes.fromhex("a1b2c3d4")


def _feed_all(datagrams: list[bytes]) -> tuple[QuicInitialTracker, list[QuicInitial]]:
    tracker = QuicInitialTracker()
    out = [r for d in datagrams if (r := tracker.feed(d)) is not None]
    return tracker, out


def test_rfc9001_initial_secrets() -> None:
    initial = hkdf_extract(bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), RFC_DCID)
    assert initial.hex() == "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44"
    client = hkdf_expand_label(initial, b"client in", 32)
    assert client.hex() == "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"


@pytest.mark.parametrize(
    ("version", "key", "iv", "hp", "sample", "mask"),
    [
        (
            VERSION_1,
            "1f369613dd76d5467730efcbe3b1a22d",
            "fa044b2f42a3fd3b46fb255c",
            "9f50449e04a0e810283a1e9933adedd2",
            "d1b1c98dd7689fb8ec11d242b123dc9b",
            "437b9aec36",
        ),
        (
            VERSION_2,
            "8b1a0bc121284290a29e0971b5cd045d",
            "91f73e2351d8fa91660e909f",
            "45b95e15235d6f45a6b19cbcb0294ba9",
            "ffe67b6abcdb4298b485dd04de806071",
            "94a0c95e80",
        ),
    ],
)
def test_rfc_client_keys_and_mask(
    version: int, key: str, iv: str, hp: str, sample: str, mask: str
) -> None:
    keys = client_initial_keys(RFC_DCID, version)
    assert (keys.key.hex(), keys.iv.hex(), keys.hp.hex()) == (key, iv, hp)
    assert keys.mask(bytes.fromhex(sample)).hex() == mask


@pytest.mark.parametrize(
    ("packet", "version"),
    [(RFC9001_CLIENT_INITIAL, VERSION_1), (RFC9369_CLIENT_INITIAL, VERSION_2)],
    ids=["v1", "v2"],
)
def test_rfc_client_initial_decrypts(packet: bytes, version: int) -> None:
    assert len(packet) == 1200
    header = _long_header(packet, 0)
    assert header is not None
    opened = open_packet(packet, header, client_initial_keys(RFC_DCID, version))
    assert opened is not None
    packet_number, plaintext = opened
    assert packet_number == 2
    assert len(plaintext) == 1162
    assert plaintext.startswith(RFC_PAYLOAD_START)
    pieces, problem = crypto_frames(plaintext)
    assert problem is None
    assert [(offset, len(data)) for offset, data in pieces] == [(0, 241)]


@pytest.mark.parametrize(
    ("packet", "name"),
    [(RFC9001_CLIENT_INITIAL, "v1"), (RFC9369_CLIENT_INITIAL, "v2")],
    ids=["v1", "v2"],
)
def test_rfc_client_initial_gives_sni(packet: bytes, name: str) -> None:
    tracker = QuicInitialTracker()
    initial = tracker.feed(packet)
    assert initial is not None
    assert initial.version == name
    assert initial.dcid == "8394c8f03e515708"
    assert initial.hello is not None
    assert initial.hello.sni == "example.com"
    assert initial.hello.alpn == ("alpn",)
    assert initial.hello.version == "TLS 1.3"
    assert tracker.done and tracker.problem is None
    assert tracker.feed(packet) is None  # one result per connection


def test_rfc_packet_with_wrong_keys_fails_cleanly() -> None:
    header = _long_header(RFC9001_CLIENT_INITIAL, 0)
    assert header is not None
    wrong = client_initial_keys(bytes(8), VERSION_1)
    assert open_packet(RFC9001_CLIENT_INITIAL, header, wrong) is None


@pytest.mark.parametrize(
    ("datagram", "expected"),
    [
        (RFC9001_CLIENT_INITIAL, True),
        (RFC9369_CLIENT_INITIAL, True),
        (client_initial_datagrams(HELLO, DCID, SCID, version=2)[0], True),
        (RFC9001_CLIENT_INITIAL[:600], False),  # length field runs past the datagram
        (b"\xc0\xff\x00\x00\x1d" + RFC9001_CLIENT_INITIAL[5:], False),  # draft-29
        (b"\xd0" + RFC9001_CLIENT_INITIAL[1:], False),  # v1 0-RTT type bits
        (b"\xc0" + RFC9369_CLIENT_INITIAL[1:], False),  # v2 Retry type bits
        (b"\x40" + RFC9001_CLIENT_INITIAL[1:], False),  # short header
        (b"\xc0\x00\x00\x00\x00" + RFC9001_CLIENT_INITIAL[5:], False),  # version negotiation
        (b"GET / HTTP/1.1\r\n\r\n", False),
        (b"", False),
    ],
)
def test_looks_like_quic_initial(datagram: bytes, expected: bool) -> None:
    assert looks_like_quic_initial(datagram) is expected


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("packets", "shuffle"), [(1, False), (1, True), (2, True), (3, False)])
def test_builder_round_trip(version: int, packets: int, shuffle: bool) -> None:
    datagrams = client_initial_datagrams(
        HELLO, DCID, SCID, version=version, packets=packets, shuffle_frames=shuffle
    )
    assert len(datagrams) == packets
    assert all(len(d) >= 1200 for d in datagrams)
    assert all(looks_like_quic_initial(d) for d in datagrams)
    tracker, results = _feed_all(datagrams)
    assert len(results) == 1
    initial = results[0]
    assert initial.version == f"v{version}"
    assert initial.dcid == DCID.hex()
    assert initial.hello is not None
    assert initial.hello.sni == "api.tracker.example"
    assert initial.hello.alpn == ("h3",)
    assert tracker.done
    assert tracker.decrypted == packets


def test_hello_over_two_packets_out_of_order() -> None:
    first, second = client_initial_datagrams(HELLO, DCID, SCID, packets=2, shuffle_frames=True)
    for datagram in (first, second):
        header = _long_header(datagram, 0)
        assert header is not None
        opened = open_packet(datagram, header, client_initial_keys(DCID))
        assert opened is not None
        pieces, _ = crypto_frames(opened[1])
        offsets = [offset for offset, _ in pieces]
        assert offsets != sorted(offsets) or offsets[0] != 0
    tracker = QuicInitialTracker()
    assert tracker.feed(second) is None  # the later packet arrives first
    initial = tracker.feed(first)
    assert initial is not None and initial.hello is not None
    assert initial.hello.sni == "api.tracker.example"


def test_incomplete_hello_needs_the_other_packet() -> None:
    first, _second = client_initial_datagrams(HELLO, DCID, SCID, packets=2)
    tracker = QuicInitialTracker()
    assert tracker.feed(first) is None
    assert not tracker.done


def _fake_long_packet(first_byte: int, version: int, body: bytes) -> bytes:
    return (
        bytes((first_byte,))
        + version.to_bytes(4, "big")
        + b"\x08"
        + DCID
        + b"\x04"
        + SCID
        + encode_varint(len(body))
        + body
    )


@pytest.mark.parametrize(("version", "handshake_bits"), [(1, 0b10), (2, 0b11)])
def test_coalesced_initial_handshake_initial(version: int, handshake_bits: int) -> None:
    """The walk must step over the Handshake packet to reach the second Initial."""
    wire = VERSION_1 if version == 1 else VERSION_2
    part1, part2 = client_initial_datagrams(
        SMALL_HELLO, DCID, SCID, version=version, packets=2, pad_to=0
    )
    handshake = _fake_long_packet(0xC0 | (handshake_bits << 4) | 1, wire, bytes(range(60)))
    datagram = part1 + handshake + part2 + bytes(50)
    tracker = QuicInitialTracker()
    result = tracker.feed(datagram)
    assert result is not None and result.hello is not None
    assert result.hello.sni == "small.example"
    assert tracker.decrypted == 2


def test_coalesced_zero_rtt_before_initial_is_skipped() -> None:
    (initial_packet,) = client_initial_datagrams(SMALL_HELLO, DCID, SCID, pad_to=0)
    zero_rtt = _fake_long_packet(0xD1, VERSION_1, bytes(40))
    result = QuicInitialTracker().feed(zero_rtt + initial_packet)
    assert result is not None and result.hello is not None


def test_short_header_after_initial_ends_the_walk() -> None:
    part1, part2 = client_initial_datagrams(SMALL_HELLO, DCID, SCID, packets=2, pad_to=0)
    tracker = QuicInitialTracker()
    assert tracker.feed(part1 + b"\x40" + part2) is None  # part2 hidden behind a 1-RTT packet
    assert tracker.decrypted == 1


def test_corrupted_packet_is_a_decrypt_failure() -> None:
    damaged = bytearray(RFC9001_CLIENT_INITIAL)
    damaged[500] ^= 0x01
    tracker = QuicInitialTracker()
    assert tracker.feed(bytes(damaged)) is None
    assert tracker.problem is not None and tracker.problem[0] == "quic.decrypt_failed"
    assert tracker.decrypted == 0


def test_gives_up_after_bounded_packets() -> None:
    first, _ = client_initial_datagrams(HELLO, DCID, SCID, packets=2)
    tracker = QuicInitialTracker()
    results = [tracker.feed(first) for _ in range(MAX_INITIAL_PACKETS + 3)]
    found = [r for r in results if r is not None]
    assert len(found) == 1
    assert found[0].hello is None and found[0].dcid == DCID.hex()
    assert tracker.done


def test_not_a_client_hello_in_crypto() -> None:
    server_hello = b"\x02\x00\x00\x04abcd"
    (datagram,) = client_initial_datagrams(server_hello, DCID, SCID)
    tracker = QuicInitialTracker()
    result = tracker.feed(datagram)
    assert result is not None and result.hello is None
    assert tracker.problem is not None and tracker.problem[0] == "quic.not_client_hello"


def test_unparsable_hello_reports_problem() -> None:
    broken = b"\x01\x00\x00\x06\x03\x03abcd"  # ClientHello header, body far too short
    (datagram,) = client_initial_datagrams(broken, DCID, SCID)
    tracker = QuicInitialTracker()
    result = tracker.feed(datagram)
    assert result is not None and result.hello is None
    assert tracker.problem is not None and tracker.problem[0] == "quic.bad_client_hello"


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\xc0",
        b"\xc0\x00\x00\x00\x01",
        b"\xc0\x00\x00\x00\x01\x15" + bytes(40),  # dcid length 21
        b"\xc0\x00\x00\x00\x01\x08" + DCID + b"\x00\x00\x44\x9e",  # length past the end
        RFC9001_CLIENT_INITIAL[:-1],
        RFC9001_CLIENT_INITIAL[:30],
        b"\x00" * 1200,
        bytes(range(256)) * 5,
    ],
)
def test_garbage_and_truncation_give_none(datagram: bytes) -> None:
    tracker = QuicInitialTracker()
    assert tracker.feed(datagram) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500))
def test_fuzz_random_datagrams_never_raise(data: bytes) -> None:
    tracker = QuicInitialTracker()
    tracker.feed(data)
    tracker.feed(b"\xc0\x00\x00\x00\x01" + data)
    looks_like_quic_initial(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=1199), st.integers(min_value=1, max_value=255))
def test_fuzz_damaged_rfc_packet_never_raises(position: int, flip: int) -> None:
    damaged = bytearray(RFC9001_CLIENT_INITIAL)
    damaged[position] ^= flip
    tracker = QuicInitialTracker()
    result = tracker.feed(bytes(damaged))
    # Only damage to the 4 reserved/pn-length-free bits could survive; the AEAD tag
    # catches everything else.
    assert result is None or result.hello is not None


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_fuzz_frames_in_valid_packets_never_raise(frames: bytes) -> None:
    for datagram in client_initial_datagrams(frames, DCID, SCID):
        QuicInitialTracker().feed(datagram)


@pytest.mark.parametrize("version", [1, 2])
def test_tshark_decrypts_built_initials(tmp_path: Path, version: int) -> None:
    """An independent QUIC implementation reads the builder's packets the same way."""
    datagrams = client_initial_datagrams(
        HELLO, DCID, SCID, version=version, packets=2, shuffle_frames=True
    )
    path = tmp_path / "quic.pcap"
    path.write_bytes(udp_pcap(datagrams, sport=40000, dport=443))
    rows = tshark.fields(
        path,
        "quic.version",
        "tls.handshake.extensions_server_name",
        "tls.handshake.extensions_alpn_str",
    )
    wire = "0x00000001" if version == 1 else "0x6b3343cf"
    assert [row[0] for row in rows] == [wire, wire]
    _, results = _feed_all(datagrams)
    assert results[0].hello is not None
    assert [row[1:] for row in rows if row[1]] == [[results[0].hello.sni, "h3"]]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=64), st.binary(max_size=80), st.integers(1, 200))
def test_hkdf_expand_equals_cryptography(prk: bytes, info: bytes, length: int) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    want = HKDFExpand(hashes.SHA256(), length, info).derive(prk)
    assert quic.hkdf_expand(prk, info, length) == want


@given(st.binary(min_size=12, max_size=12), st.integers(0, 2**62 - 1))
def test_nonce_is_iv_xor_left_padded_packet_number(iv: bytes, pn: int) -> None:
    keys = quic.InitialKeys(bytes(16), iv, bytes(16))
    padded = pn.to_bytes(12, "big")
    assert keys.nonce(pn) == bytes(a ^ b for a, b in zip(iv, padded, strict=True))
