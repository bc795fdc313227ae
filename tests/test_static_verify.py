"""APK signature verification (static/verify.py) against ``apksigner verify -v``.

Every test APK, and tampered copies of them (tests/tamper_apk.py): a flipped byte in a
stored entry, the signing block stripped, one scheme stripped, a signer's public key
swapped for another key's, a JAR signature block swapped for another signer's, an entry
added after signing, a damaged or foreign proof-of-rotation lineage, an unsigned APK, a
truncated one, v1 alone for minSdk 26 (accepted) and for target API 30 (refused). Our
verdict must be apksigner's, and where apksigner accepts, so must the per-scheme
"Verified using vN" lines.

Debian's apksigner (31.0.2) predates APK Signature Scheme v3.1, so the hand-built v3.1
blocks are checked against the scheme's rules, not against apksigner.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from phonehome.static.manifest import parse_manifest
from phonehome.static.verify import verify_apk
from tests import tamper_apk as t
from tests.needs import needs

APKS = Path(__file__).resolve().parent / "apks"
BUILT = APKS / "built"
NEED_APKSIGNER = needs(tools=["apksigner"])
PASS = "pass:phonehome-test"


def apksigner(path: Path, *extra: str) -> tuple[bool, dict[str, bool], str]:
    out = subprocess.run(
        ["apksigner", "verify", "-v", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = re.findall(r"Verified using (v\d) scheme[^:]*: (true|false)", out.stdout)
    return out.returncode == 0, {s: v == "true" for s, v in lines}, out.stdout + out.stderr


def ours(path: Path):  # type: ignore[no-untyped-def]
    try:
        manifest = parse_manifest(zipfile.ZipFile(path).read("AndroidManifest.xml"))
        sdk, target = manifest.min_sdk, manifest.target_sdk
    except (zipfile.BadZipFile, KeyError, OSError, NotImplementedError):
        sdk = target = None
    return verify_apk(path, sdk, target)


def agree(path: Path):  # type: ignore[no-untyped-def]
    ok, schemes, text = apksigner(path)
    v = ours(path)
    assert v.verified is ok, (v.to_dict(), text)
    if ok:
        for scheme in ("v1", "v2", "v3"):
            r = v.schemes[scheme]
            assert schemes[scheme] is (r.required and r.status == "verified"), (scheme, text)
    return v


@NEED_APKSIGNER
@pytest.mark.parametrize("apk", sorted(p.name for p in BUILT.glob("*.apk")))
def test_every_test_apk_agrees_with_apksigner(apk: str) -> None:
    v = agree(BUILT / apk)
    if apk.endswith("-v1only.apk"):
        assert not v.verified
        assert v.reason and "target SDK version 30 requires APK Signature Scheme v2" in v.reason
    else:
        assert v.verified and v.reason is None


def _resign_v1_only(src: Path, out: Path) -> None:
    subprocess.run(
        ["apksigner", "sign", "--ks", str(APKS / "keys" / "test-platform.p12"),
         "--ks-key-alias", "platform", "--ks-pass", PASS, "--key-pass", PASS,
         "--v1-signing-enabled", "true", "--v2-signing-enabled", "false",
         "--v3-signing-enabled", "false", "--out", str(out), str(src)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def _read(name: str) -> bytes:
    return (BUILT / name).read_bytes()


def _v3_with_lineage(base: str, lineage_from: str, damage: bool) -> bytes:
    """``base``'s v3 signer re-signed (by its own key) with the lineage of
    ``lineage_from``, optionally with a byte of the lineage's last signature flipped."""
    apk = _read(base)
    pairs = t.pairs(apk)
    v3 = dict(pairs)[t.V3]
    parts = t.v3_parts(v3)
    lineage = dict(t.v3_parts(dict(t.pairs(_read(lineage_from)))[t.V3])["attrs"])[0x3BA06F8C]
    if damage:
        lineage = lineage[:-3] + bytes([lineage[-3] ^ 0xFF]) + lineage[-2:]
    attrs = [(i, v) for i, v in parts["attrs"] if i != 0x3BA06F8C] + [(0x3BA06F8C, lineage)]
    owner = "vendor" if base == "Weather-rotated.apk" else "platform"
    priv, cert = t.key(owner)
    assert parts["certs"][0] == cert
    signer = t.v3_signer(priv, cert, parts["digests"], parts["min"], parts["max"], attrs)
    return t.with_pairs(apk, [(i, t.block_of(signer) if i == t.V3 else v) for i, v in pairs])


TAMPERED: dict[str, tuple[Callable[[], bytes], str]] = {
    "flipped byte in a stored entry": (
        lambda: t.flip_in_entry(_read("Flows.apk"), "assets/flows.txt"),
        "v3: APK integrity check failed: chunked-sha256 digest mismatch",
    ),
    "signing block stripped": (
        lambda: t.with_pairs(_read("AutoReg.apk"), None),
        "says the APK is also signed with APK Signature Scheme v2, but there is no such "
        "signature: it was stripped",
    ),
    "signing block stripped, no v1 to fall back on": (
        lambda: t.with_pairs(_read("OatOnly.apk"), None),
        "v1: required for minSdkVersion 26 but absent",
    ),
    "v3 stripped, v2 kept": (
        lambda: t.with_pairs(
            _read("AutoReg.apk"), [p for p in t.pairs(_read("AutoReg.apk")) if p[0] != t.V3]
        ),
        "v2: v2 signature says the APK was also signed with v3",
    ),
    "v2 stripped, v3 kept": (
        lambda: t.with_pairs(
            _read("ImeiLog.apk"), [p for p in t.pairs(_read("ImeiLog.apk")) if p[0] != t.V2]
        ),
        "APK Signature Scheme v2, but there is no such signature: it was stripped",
    ),
    "v2 public key swapped": (
        lambda: t.with_pairs(
            _read("AutoReg.apk"),
            [
                (i, t.swap_public_key(v, t.key("vendor")[0], False) if i == t.V2 else v)
                for i, v in t.pairs(_read("AutoReg.apk"))
            ],
        ),
        "v2: signer #1: public key mismatch between certificate and signature record",
    ),
    "v3 public key swapped": (
        lambda: t.with_pairs(
            _read("Weather.apk"),
            [
                (i, t.swap_public_key(v, t.key("vendor")[0], True) if i == t.V3 else v)
                for i, v in t.pairs(_read("Weather.apk"))
            ],
        ),
        "v3: signer #1: public key mismatch between certificate and signature record",
    ),
    "JAR signature block of another signer": (
        lambda: t.rewrite(
            _read("AutoReg.apk"),
            {
                "META-INF/PLATFORM.RSA": zipfile.ZipFile(BUILT / "Weather-2.0.apk").read(
                    "META-INF/VENDOR.RSA"
                )
            },
        ),
        "v1: META-INF/PLATFORM.RSA: PKCS#7 signature over the .SF did not verify",
    ),
    "entry added after signing": (
        lambda: t.append_entry(_read("AutoReg.apk"), "assets/extra.txt", b"added later"),
        "v1: META-INF/PLATFORM.SF says the APK is also signed with APK Signature Scheme v2",
    ),
    "unsigned": (
        lambda: t.rewrite(
            _read("AutoReg.apk"),
            {
                n: None
                for n in zipfile.ZipFile(BUILT / "AutoReg.apk").namelist()
                if n.startswith("META-INF/")
            },
        ),
        "v1: required for minSdkVersion 21 but absent",
    ),
    "truncated": (
        lambda: _read("Weather.apk")[:-40],
        "not a valid APK",
    ),
    "damaged proof-of-rotation lineage": (
        lambda: _v3_with_lineage("Weather-rotated.apk", "Weather-rotated.apk", damage=True),
        "v3: lineage certificate #2 is not signed by the one before it",
    ),
    "lineage that does not end in the signer": (
        lambda: _v3_with_lineage("Weather.apk", "Weather-rotated.apk", damage=False),
        "v3: signer #1: last certificate of the proof-of-rotation lineage is not the signer's",
    ),
}


@NEED_APKSIGNER
@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_apks_fail_like_apksigner(case: str, tmp_path: Path) -> None:
    make, reason = TAMPERED[case]
    apk = tmp_path / "x.apk"
    apk.write_bytes(make())
    v = agree(apk)
    assert v.verified is False
    assert v.reason is not None and reason in v.reason, v.to_dict()


def test_a_flipped_byte_is_named_by_every_scheme(tmp_path: Path) -> None:
    apk = tmp_path / "x.apk"
    apk.write_bytes(t.flip_in_entry(_read("Flows.apk"), "assets/flows.txt"))
    v = ours(apk)
    for scheme in ("v2", "v3"):
        assert v.schemes[scheme].status == "failed"
        assert "digest mismatch" in (v.schemes[scheme].reason or "")
    assert v.schemes["v1"].reason == ("assets/flows.txt: SHA256 digest does not match MANIFEST.MF")
    assert v.signer() == ()


@NEED_APKSIGNER
def test_v1_only_for_min_sdk_26_is_accepted(tmp_path: Path) -> None:
    """No v2/v3 at all: Android falls back to the JAR signature, whatever the minSdk."""
    out = tmp_path / "v1.apk"
    _resign_v1_only(BUILT / "OatOnly.apk", out)
    v = agree(out)
    assert v.verified
    assert v.to_dict()["policy"]["required"] == ["v1"]
    assert [v.schemes[s].status for s in ("v1", "v2", "v3", "v3.1")] == [
        "verified", "absent", "absent", "absent"
    ]  # fmt: skip


@NEED_APKSIGNER
@pytest.mark.parametrize(
    ("apk", "sdk", "levels"),
    [
        ("AutoReg.apk", 8, "9-17"),  # SHA-256 with RSA: API 0-8 and 18+
        ("AutoReg.apk", 10, "10-17"),
        ("AutoReg.apk", 18, None),
        ("ImeiLog.apk", 8, "8-17"),  # ECDSA: API 18+
        ("ImeiLog.apk", 17, "17"),
    ],
)
def test_jar_signature_algorithms_per_api_level(apk: str, sdk: int, levels: str | None) -> None:
    """A v1 signature Android cannot check on some platform the minSdk includes does not
    verify, as apksigner --min-sdk-version says."""
    ok, _, text = apksigner(BUILT / apk, "--min-sdk-version", str(sdk))
    v = verify_apk(BUILT / apk, sdk)
    assert v.verified is ok, text
    if levels is None:
        assert v.verified
    else:
        assert v.reason is not None and f"on API level(s) {levels}, which" in v.reason
        assert f"API Level(s) {levels} for which" in text


def test_policy_follows_min_sdk() -> None:
    """apksig's rule: v1 is checked below API 24, v2 below 28 (or without v3)."""
    apk = BUILT / "AutoReg.apk"
    assert verify_apk(apk, 21).required == ["v1", "v2", "v3"]
    assert verify_apk(apk, 24).required == ["v2", "v3"]
    assert verify_apk(apk, 28).required == ["v3"]
    assert verify_apk(apk, 28).schemes["v1"].status == "verified"  # still reported


def test_rotation_lineage_is_reported() -> None:
    v = verify_apk(BUILT / "Weather-rotated.apk", 21)
    assert v.verified
    v3 = v.to_dict()["schemes"]["v3"]
    platform, vendor = (t.key(k)[1] for k in ("platform", "vendor"))
    import hashlib

    assert v3["lineage"] == [hashlib.sha256(c).hexdigest() for c in (platform, vendor)]
    assert v.signer() == (hashlib.sha256(vendor).hexdigest(),)


# --- v3.1 (hand-built) ------------------------------------------------------------------


def _with_v31(strip: bool = False, damage: bool = False) -> bytes:
    """Weather.apk with v3 covering API 28-32 (and saying v3.1 takes over at 33) and a
    v3.1 block for 33+, both signed by the platform key."""
    apk = _read("Weather.apk")
    pairs = dict(t.pairs(apk))
    parts = t.v3_parts(pairs[t.V3])
    priv, cert = t.key("platform")
    v3 = t.v3_signer(priv, cert, parts["digests"], 28, 32, [(0x559F8B02, t.u32(33))])
    v31 = t.block_of(t.v3_signer(priv, cert, parts["digests"], 33, 0x7FFFFFFF))
    if damage:
        v31 = v31[:-300] + bytes([v31[-300] ^ 1]) + v31[-299:]
    new = [(t.V2, pairs[t.V2]), (t.V3, t.block_of(v3))]
    if not strip:
        new.append((t.V31, v31))
    return t.with_pairs(apk, new)


@pytest.mark.parametrize(
    ("strip", "damage", "verified", "reason"),
    [
        (False, False, True, None),
        (True, False, False, "v3: v3 signature says a v3.1 signature covers API 33+"),
        (False, True, False, "v3.1: signer #1: signature over signed data did not verify"),
    ],
)
def test_v3_1(strip: bool, damage: bool, verified: bool, reason: str | None,
              tmp_path: Path) -> None:  # fmt: skip
    apk = tmp_path / "x.apk"
    apk.write_bytes(_with_v31(strip, damage))
    v = verify_apk(apk, 21)
    assert v.verified is verified, v.to_dict()
    assert v.reason == reason or (reason and v.reason and v.reason.startswith(reason))
    if verified:
        assert v.schemes["v3.1"].status == "verified" and v.schemes["v3.1"].required


def test_v3_signers_must_cover_every_platform(tmp_path: Path) -> None:
    apk = _read("Weather.apk")
    pairs = dict(t.pairs(apk))
    parts = t.v3_parts(pairs[t.V3])
    priv, cert = t.key("platform")
    short = t.block_of(t.v3_signer(priv, cert, parts["digests"], 28, 30))
    out = tmp_path / "x.apk"
    out.write_bytes(t.with_pairs(apk, [(t.V2, pairs[t.V2]), (t.V3, short)]))
    v = verify_apk(out, 21)
    assert not v.verified
    assert v.reason == "v3: v3 signers cover API 28-30, not all of 28-2147483647"


def test_damage_never_raises(tmp_path: Path) -> None:
    import random

    original = _read("AutoReg.apk")
    rng = random.Random(17)
    apk = tmp_path / "x.apk"
    start, cd, _ = t.sections(original)
    for _ in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(start, cd) if rng.random() < 0.7 else rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        apk.write_bytes(bytes(data))
        v = verify_apk(apk, 21)
        assert isinstance(v.verified, bool)
        assert v.verified or isinstance(v.reason, str)


@NEED_APKSIGNER
def test_an_entry_zipfile_refuses_to_list_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    """A central directory entry claiming "version needed to extract" 25.5 (a fuzz find:
    zipfile then refuses the whole listing). The directory is signed data, so apksigner
    refuses the APK; so do we, with a reason for each scheme and no exception."""
    data = bytearray(_read("AutoReg.apk"))
    _, cd, _ = t.sections(bytes(data))
    assert data[cd : cd + 4] == b"PK\x01\x02"
    data[cd + 6 : cd + 8] = (255).to_bytes(2, "little")  # version needed: 25.5
    apk = tmp_path / "x.apk"
    apk.write_bytes(bytes(data))
    v = agree(apk)
    assert not v.verified
    assert v.schemes["v1"].status == "failed"
    assert v.schemes["v1"].reason == "not a readable zip (zip file version 25.5)"
    assert v.schemes["v3"].reason.startswith("APK integrity check failed")
