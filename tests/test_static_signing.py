"""Signer fingerprints of the committed test APKs (checked against the test keystores they
were signed with) and of hand-built signing blocks, PKCS#7 files and damaged APKs."""

from __future__ import annotations

import datetime
import hashlib
import io
import random
import re
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from phonehome.static.signing import read_signing, same_signer
from tests.needs import need_tool

APKS = Path(__file__).resolve().parent / "apks"
BUILT = APKS / "built"


def keystore_fingerprint(name: str) -> str:
    data = (APKS / "keys" / f"test-{name}.p12").read_bytes()
    _key, cert, _chain = pkcs12.load_key_and_certificates(data, b"phonehome-test")
    assert cert is not None
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@pytest.mark.parametrize(
    ("apk", "key", "schemes"),
    [
        ("AutoReg.apk", "platform", ["v1", "v2", "v3"]),
        ("Weather.apk", "platform", ["v1", "v2", "v3"]),
        ("Weather-2.0.apk", "vendor", ["v1", "v2", "v3"]),
        ("ImeiLog.apk", "ec", ["v1", "v2", "v3"]),
        ("OatOnly.apk", "platform", ["v2", "v3"]),
    ],
)
def test_signer_is_the_key_the_apk_was_signed_with(apk: str, key: str, schemes: list[str]) -> None:
    s = read_signing(BUILT / apk)
    assert s.problems == []
    assert s.schemes() == schemes
    assert s.signer() == (keystore_fingerprint(key),)
    # Every scheme present names the same certificate.
    assert {c.sha256 for c in s.certificates} == {keystore_fingerprint(key)}
    assert s.subjects() == [f"CN=phonehome TEST ONLY {key} key,O=phonehome test suite,C=XX"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Weather.apk", "Weather-2.0.apk", False),
        ("AutoReg.apk", "Weather.apk", True),
        ("AutoReg.apk", "OatOnly.apk", True),
        ("ImeiLog.apk", "AutoReg.apk", False),
    ],
)
def test_same_signer(a: str, b: str, same: bool) -> None:
    assert same_signer(read_signing(BUILT / a), read_signing(BUILT / b)) is same


@pytest.mark.parametrize(
    "apk", sorted(p.name for p in BUILT.glob("*.apk") if not p.name.endswith("-v1only.apk"))
)
def test_fingerprints_agree_with_apksigner(apk: str) -> None:
    out = subprocess.run(
        [need_tool("apksigner"), "verify", "--print-certs", str(BUILT / apk)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    theirs = set(re.findall(r"certificate SHA-256 digest: ([0-9a-f]{64})", out))
    assert set(read_signing(BUILT / apk).signer()) == theirs


# --- hand-built material ----------------------------------------------------------------


def make_cert(cn: str, issuer: x509.Certificate | None = None) -> tuple[x509.Certificate, object]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    return builder.sign(key, hashes.SHA256()), key


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def prefixed(data: bytes) -> bytes:
    return u32(len(data)) + data


def v2_value(certs: list[bytes]) -> bytes:
    signed_data = prefixed(b"") + prefixed(b"".join(prefixed(c) for c in certs)) + prefixed(b"")
    signer = prefixed(signed_data) + prefixed(b"") + prefixed(b"")
    return prefixed(prefixed(signer))


def signing_block(pairs: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(struct.pack("<Q", len(v) + 4) + u32(i) + v for i, v in pairs)
    size = len(body) + 24
    return struct.pack("<Q", size) + body + struct.pack("<Q", size) + b"APK Sig Block 42"


def zip_with_block(block: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    raw = buf.getvalue()
    eocd = raw.rfind(b"PK\x05\x06")
    (cd,) = struct.unpack_from("<I", raw, eocd + 16)
    out = raw[:cd] + block + raw[cd:]
    eocd += len(block)
    return out[: eocd + 16] + u32(cd + len(block)) + out[eocd + 20 :]


def test_hand_built_v2_and_v3_blocks(tmp_path: Path) -> None:
    c2, _ = make_cert("v2 signer")
    c3, _ = make_cert("v3 signer")
    d2, d3 = c2.public_bytes(Encoding.DER), c3.public_bytes(Encoding.DER)
    block = signing_block([(0x7109871A, v2_value([d2])), (0xF05368C0, v2_value([d3]))])
    apk = tmp_path / "x.apk"
    apk.write_bytes(zip_with_block(block))
    s = read_signing(apk)
    assert s.problems == []
    assert s.schemes() == ["v2", "v3"]
    assert s.signer() == (hashlib.sha256(d3).hexdigest(),)  # v3 decides, as on Android
    assert s.subjects() == ["CN=v3 signer"]


def test_unknown_pairs_are_skipped(tmp_path: Path) -> None:
    cert, _ = make_cert("only")
    der = cert.public_bytes(Encoding.DER)
    padding = (0x42726577, b"\0" * 4000)  # verity padding pair
    apk = tmp_path / "x.apk"
    apk.write_bytes(zip_with_block(signing_block([padding, (0x7109871A, v2_value([der]))])))
    assert read_signing(apk).signer() == (hashlib.sha256(der).hexdigest(),)


def test_v1_chain_names_the_leaf_not_the_ca(tmp_path: Path) -> None:
    ca, ca_key = make_cert("test CA")
    leaf, _ = make_cert("leaf", issuer=ca)
    # Re-sign the leaf with the CA key so the chain is real.
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca.subject)
        .public_key(leaf.public_key())
        .serial_number(leaf.serial_number)
        .not_valid_before(leaf.not_valid_before_utc)
        .not_valid_after(leaf.not_valid_after_utc)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    p7 = pkcs7.serialize_certificates([ca, leaf], Encoding.DER)
    apk = tmp_path / "x.apk"
    apk.write_bytes(zip_with_block(b"", {"META-INF/CERT.RSA": p7}))
    s = read_signing(apk)
    assert s.schemes() == ["v1"]
    assert s.signer() == (hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest(),)


def test_v1_and_v2_disagreeing_is_a_problem(tmp_path: Path) -> None:
    a, _ = make_cert("a")
    b, _ = make_cert("b")
    p7 = pkcs7.serialize_certificates([a], Encoding.DER)
    block = signing_block([(0x7109871A, v2_value([b.public_bytes(Encoding.DER)]))])
    apk = tmp_path / "x.apk"
    apk.write_bytes(zip_with_block(block, {"META-INF/A.EC": p7}))
    s = read_signing(apk)
    assert "v1 and v2 signatures name different signers" in s.problems


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: b"not a zip at all" * 10, "not a zip"),
        (lambda: b"", "not a zip"),
        (lambda: zip_with_block(b""), None),  # unsigned: no signer, nothing wrong
        (lambda: zip_with_block(b"", {"META-INF/X.RSA": b"garbage"}), "not a PKCS#7"),
        (
            lambda: zip_with_block(signing_block([(0x7109871A, u32(1000) + b"short")])),
            "v2 signature block damaged",
        ),
        (lambda: zip_with_block(signing_block([(0x7109871A, u32(0))])), "has no signer"),
        (
            lambda: zip_with_block(signing_block([(0x7109871A, v2_value([b"not der"]))])),
            "does not parse",
        ),
    ],
)
def test_damage_is_reported_not_raised(make: object, problem: str | None, tmp_path: Path) -> None:
    apk = tmp_path / "x.apk"
    apk.write_bytes(make())  # type: ignore[operator]
    s = read_signing(apk)
    if problem is None:
        assert s.problems == [] and s.signer() == ()
    else:
        assert any(problem in p for p in s.problems), s.problems


SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2


@pytest.mark.parametrize(
    ("oid_tail", "problem"),
    [
        (0x02, None),  # signedData: the control
        (0x01, "not a PKCS#7 signature"),  # data: cryptography says ValueError
        (0x7F, "not a PKCS#7 signature"),  # unknown type: cryptography says UnsupportedAlgorithm
    ],
)
def test_v1_content_type_that_is_not_signed_data(
    oid_tail: int, problem: str | None, tmp_path: Path
) -> None:
    cert, _ = make_cert("v1 signer")
    p7 = pkcs7.serialize_certificates([cert], Encoding.DER)
    at = p7.index(SIGNED_DATA_OID) + len(SIGNED_DATA_OID) - 1
    mutated = p7[:at] + bytes([oid_tail]) + p7[at + 1 :]
    apk = tmp_path / "x.apk"
    apk.write_bytes(zip_with_block(b"", {"META-INF/CERT.RSA": mutated}))
    s = read_signing(apk)
    if problem is None:
        assert s.problems == [] and s.schemes() == ["v1"]
    else:
        assert any(p.startswith("META-INF/CERT.RSA: " + problem) for p in s.problems), s.problems
        assert s.signer() == ()


def test_block_size_lies_are_caught(tmp_path: Path) -> None:
    data = bytearray((BUILT / "AutoReg.apk").read_bytes())
    magic = data.rfind(b"APK Sig Block 42")
    struct.pack_into("<Q", data, magic - 8, 1 << 40)
    apk = tmp_path / "x.apk"
    apk.write_bytes(bytes(data))
    s = read_signing(apk)
    assert any("implausible" in p for p in s.problems)
    assert s.schemes() == ["v1"]  # the JAR signature is still read


def test_mutated_apks_never_raise(tmp_path: Path) -> None:
    original = (BUILT / "AutoReg.apk").read_bytes()
    rng = random.Random(6)
    apk = tmp_path / "x.apk"
    for _ in range(1000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        apk.write_bytes(bytes(data))
        s = read_signing(apk)
        assert isinstance(s.problems, list)
