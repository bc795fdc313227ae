"""APK signature verification the way ``apksigner verify`` (apksig) and Android do it.

:mod:`phonehome.static.signing` says *who* an APK claims to be signed by; this module
says whether that claim holds. For each scheme:

- **v1 (JAR signing)**: every zip entry outside ``META-INF/`` has a digest in
  ``MANIFEST.MF`` that matches its uncompressed bytes, is named in every signer's
  ``.SF``; each ``.SF`` matches the manifest (the whole-file digest, or the main
  attributes and each section); the PKCS#7 ``SignedData`` in ``.RSA``/``.DSA``/``.EC``
  signs the ``.SF`` (signed attributes included) with the key of the certificate it
  names. ``X-Android-APK-Signed`` in a ``.SF`` protects against stripping the v2/v3
  blocks.
- **v2 / v3 / v3.1 (APK Signature Scheme)**: the block before the central directory;
  per signer the signature over its signed data verifies with its public key, the
  public key is the first certificate's, the digest and signature algorithm lists agree,
  and the content digests (1 MiB chunks of the entries, the central directory and the
  end-of-central-directory record with the directory offset pointing at the signing
  block) match the file. v2's stripping-protection attribute names v3 when v3 was
  there; v3's SDK ranges of its signers must cover the platforms; a v3/v3.1
  proof-of-rotation lineage must verify link by link and end in the signer's
  certificate. v3.1 covers API 33+ with v3 covering the rest (its rotation-min-SDK
  attribute protects v3.1 from stripping).

**Policy**, as apksig applies it for the APK's ``minSdkVersion`` (and any newer
platform): v3 is checked when present; v2 when present and the APK supports platforms
before 28 (or there is no v3); v1 when the APK supports platforms before 24 or there is no
v2/v3 at all. Each scheme is reported ``verified``, ``failed`` (with the reason) or
``absent``, whether it is required or not, and the APK is ``verified`` only when every
scheme the policy checks verifies, the schemes name consistent signers (v1 = v2, v3's
oldest certificate = the v1/v2 one), and an app targeting API 30+ has v2 or later:
exactly when ``apksigner verify`` exits 0.

Not covered (docs/static.md): APK Signature Scheme v4 (a separate ``.idsig`` file),
source stamps, the verity digest algorithms (IDs 0x0421/0x0423/0x0425: their signature is
verified, their digest is not recomputed), the per-API-level availability of
digest/signature algorithms for very old minSdk values, and certificate trust (Android
trusts any self-signed certificate; so do we).

Primitives come from ``cryptography``; PKCS#7/CMS structure from ``asn1crypto`` (which
``cryptography`` does not expose).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

from phonehome.static.signing import (
    BLOCK_MAGIC,
    EOCD_LEN,
    EOCD_SIG,
    MAX_BLOCK,
    MAX_COMMENT,
)
from phonehome.static.zipsafe import SafeZip, open_zip

V2_ID, V3_ID, V31_ID = 0x7109871A, 0xF05368C0, 0x1B93AD61
STRIPPING_PROTECTION_ATTR = 0xBEEFF00D
PROOF_OF_ROTATION_ATTR = 0x3BA06F8C
ROTATION_MIN_SDK_ATTR = 0x559F8B02
SCHEMES = ("v1", "v2", "v3", "v3.1")
SDK_N, SDK_P, SDK_R, SDK_T = 24, 28, 30, 33
MAX_SDK = 0x7FFFFFFF
CHUNK = 1024 * 1024
MAX_ENTRY = 512 * 1024 * 1024
MAX_META = 16 * 1024 * 1024

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_JAR_DIGESTS = {"SHA1": "sha1", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                "SHA-512": "sha512", "MD5": "md5"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Algo:
    key: str
    """``rsa-pss``, ``rsa``, ``ec``, ``dsa``."""
    hash: str
    digest: str
    """Content digest: ``chunked-sha256``, ``chunked-sha512``, ``verity-sha256``."""


SIG_ALGOS: dict[int, _Algo] = {
    0x0101: _Algo("rsa-pss", "sha256", "chunked-sha256"),
    0x0102: _Algo("rsa-pss", "sha512", "chunked-sha512"),
    0x0103: _Algo("rsa", "sha256", "chunked-sha256"),
    0x0104: _Algo("rsa", "sha512", "chunked-sha512"),
    0x0201: _Algo("ec", "sha256", "chunked-sha256"),
    0x0202: _Algo("ec", "sha512", "chunked-sha512"),
    0x0301: _Algo("dsa", "sha256", "chunked-sha256"),
    0x0421: _Algo("rsa", "sha256", "verity-sha256"),
    0x0423: _Algo("ec", "sha256", "verity-sha256"),
    0x0425: _Algo("dsa", "sha256", "verity-sha256"),
}
"""APK Signature Scheme v2/v3 signature algorithm IDs (apksig ``SignatureAlgorithm``)."""


class Failed(Exception):
    """A scheme that is present does not verify; the message is the reason."""


@dataclass(slots=True)
class SchemeResult:
    scheme: str
    status: str = "absent"
    """``verified``, ``failed`` or ``absent``."""
    reason: str | None = None
    signers: list[bytes] = field(default_factory=list)
    """DER of each signer's certificate (the first of its chain)."""
    lineage: list[bytes] = field(default_factory=list)
    """v3/v3.1 proof of rotation: certificates, oldest first."""
    required: bool = False
    """Checked by the policy for the APK's SDK range (apksigner's "Verified using")."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "required": self.required}
        if self.reason:
            out["reason"] = self.reason
        if self.signers:
            out["signers"] = [hashlib.sha256(c).hexdigest() for c in self.signers]
        if self.lineage:
            out["lineage"] = [hashlib.sha256(c).hexdigest() for c in self.lineage]
        return out


@dataclass(slots=True)
class Verification:
    min_sdk: int
    schemes: dict[str, SchemeResult]
    target_sdk: int | None = None
    verified: bool = False
    reason: str | None = None
    """Why the APK does not verify (the first error apksigner would report)."""

    @property
    def required(self) -> list[str]:
        return [s for s in SCHEMES if self.schemes[s].required]

    def signer(self) -> tuple[str, ...]:
        """Fingerprints of the verified signer Android uses on current platforms (the
        strongest verified scheme); () when the APK does not verify."""
        if not self.verified:
            return ()
        for scheme in ("v3.1", "v3", "v2", "v1"):
            result = self.schemes[scheme]
            if result.status == "verified" and result.signers:
                return tuple(sorted({hashlib.sha256(c).hexdigest() for c in result.signers}))
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "reason": self.reason,
            "schemes": {s: r.to_dict() for s, r in self.schemes.items()},
            "policy": {
                "min_sdk": self.min_sdk,
                "target_sdk": self.target_sdk,
                "required": self.required,
                "rule": (
                    "v3 (and v3.1) when present; v2 when present and minSdk < 28 or no v3; "
                    "v1 when minSdk < 24 or no v2/v3; targetSdk >= 30 needs v2 or later "
                    "(apksigner verify)"
                ),
            },
        }


def verify_apk(path: Path, min_sdk: int | None, target_sdk: int | None = None) -> Verification:
    """Verify every signature scheme of the APK at ``path`` for platforms ``min_sdk``
    (the manifest's ``minSdkVersion``; 1 when unknown) and newer. ``target_sdk`` (the
    manifest's) matters from 30 on: Android 11+ requires v2 or later for such apps.

    Raises OSError only when the file cannot be read.
    """
    sdk = min_sdk if isinstance(min_sdk, int) and min_sdk > 0 else 1
    target = target_sdk if isinstance(target_sdk, int) and target_sdk > 0 else None
    out = Verification(sdk, {s: SchemeResult(s) for s in SCHEMES}, target)
    with path.open("rb") as fh:
        try:
            zs = _zip_sections(fh)
        except Failed as exc:
            out.reason = f"not a valid APK: {exc}"
            return out
        block, start = _block_pairs(fh, zs)
        found = {pid for pid in (V2_ID, V3_ID, V31_ID) if pid in block}
        digester = _Digester(fh, zs, start)
        for scheme, pid in (("v3.1", V31_ID), ("v3", V3_ID), ("v2", V2_ID)):
            if pid in found:
                result = out.schemes[scheme]
                try:
                    result.signers, result.lineage = _verify_block(
                        scheme, block[pid], digester, found, sdk
                    )
                    result.status = "verified"
                except Failed as exc:
                    result.status, result.reason = "failed", str(exc)
                except (struct.error, IndexError, ValueError) as exc:
                    result.status, result.reason = "failed", f"malformed: {exc}"
    _verify_v1_into(path, out, found)
    _policy(out, found)
    return out


# --- zip sections ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sections:
    size: int
    cd_offset: int
    cd_size: int
    eocd_offset: int
    eocd: bytes


def _zip_sections(fh: BinaryIO) -> _Sections:
    size = fh.seek(0, 2)
    tail_len = min(size, EOCD_LEN + MAX_COMMENT)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(EOCD_SIG)
    while pos >= 0:
        if pos + EOCD_LEN <= len(tail):
            (comment_len,) = struct.unpack_from("<H", tail, pos + 20)
            if pos + EOCD_LEN + comment_len == len(tail):
                break
        pos = tail.rfind(EOCD_SIG, 0, pos)
    if pos < 0:
        raise Failed("no ZIP End of Central Directory record")
    eocd = tail[pos:]
    cd_size, cd_offset = struct.unpack_from("<II", eocd, 12)
    eocd_offset = size - tail_len + pos
    if cd_offset + cd_size != eocd_offset:
        raise Failed(
            "ZIP Central Directory is not immediately followed by End of Central Directory"
        )
    return _Sections(size, cd_offset, cd_size, eocd_offset, eocd)


def _block_pairs(fh: BinaryIO, zs: _Sections) -> tuple[dict[int, bytes], int]:
    """ID-value pairs of the APK Signing Block and where it starts. A block whose sizes do
    not add up counts as no block, as in apksig (the APK then stands on v1 alone)."""
    none: tuple[dict[int, bytes], int] = ({}, zs.cd_offset)
    if zs.cd_offset < 32:
        return none
    fh.seek(zs.cd_offset - 24)
    footer = fh.read(24)
    if footer[8:] != BLOCK_MAGIC:
        return none
    (size,) = struct.unpack_from("<Q", footer, 0)
    start = zs.cd_offset - size - 8
    if size < 24 or size > MAX_BLOCK or start < 0:
        return none
    fh.seek(start)
    raw = fh.read(size + 8)
    if struct.unpack_from("<Q", raw, 0)[0] != size:
        return none
    pairs: dict[int, bytes] = {}
    body = raw[8:-24]
    pos = 0
    while pos < len(body):
        if pos + 12 > len(body):
            break
        (length,) = struct.unpack_from("<Q", body, pos)
        if length < 4 or pos + 8 + length > len(body):
            break
        (pid,) = struct.unpack_from("<I", body, pos + 8)
        pairs.setdefault(pid, body[pos + 12 : pos + 8 + length])
        pos += 8 + length
    return pairs, start


# --- v2 / v3 / v3.1 ---------------------------------------------------------------------


class _Reader:
    """Length-prefixed values as the APK Signature Scheme lays them out."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def more(self) -> bool:
        return self.pos < len(self.data)

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise Failed(f"malformed {self.what}: truncated")
        (v,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(v)

    def prefixed(self) -> bytes:
        n = self.u32()
        if self.pos + n > len(self.data):
            raise Failed(f"malformed {self.what}: length-prefixed value runs past its end")
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v


def _verify_block(scheme: str, value: bytes, digester: _Digester, found: set[int],
                  min_sdk: int) -> tuple[list[bytes], list[bytes]]:  # fmt: skip
    """Verify one v2/v3/v3.1 block: (signer certificates, longest lineage) or Failed."""
    result_signers: list[tuple[bytes, list[bytes], int, int]] = []
    outer = _Reader(_Reader(value, f"{scheme} block").prefixed(), f"{scheme} signers")
    v3 = scheme != "v2"
    expected: dict[str, bytes] = {}
    signers: list[bytes] = []
    lineages: list[list[bytes]] = []
    rotation_min_sdk: int | None = None
    count = 0
    while outer.more():
        count += 1
        signer = _Reader(outer.prefixed(), f"{scheme} signer #{count}")
        signed_data = signer.prefixed()
        if v3:
            min_s, max_s = signer.u32(), signer.u32()
        signatures = _Reader(signer.prefixed(), f"{scheme} signatures")
        public_key = signer.prefixed()
        sig_algos: list[int] = []
        supported: list[tuple[int, bytes]] = []
        while signatures.more():
            sig = _Reader(signatures.prefixed(), f"{scheme} signature")
            algo = sig.u32()
            sig_algos.append(algo)
            blob = sig.prefixed()
            if algo in SIG_ALGOS:
                supported.append((algo, blob))
        if not supported:
            raise Failed(f"signer #{count}: no signatures with a supported algorithm")
        key = _load_public_key(public_key)
        for algo, blob in supported:
            if not _verify_sig(key, SIG_ALGOS[algo], blob, signed_data):
                raise Failed(f"signer #{count}: signature over signed data did not verify")
        data = _Reader(signed_data, f"{scheme} signed data")
        digests = _Reader(data.prefixed(), f"{scheme} digests")
        certs = _Reader(data.prefixed(), f"{scheme} certificates")
        if v3:
            s_min, s_max = data.u32(), data.u32()
            if (s_min, s_max) != (min_s, max_s):
                raise Failed(f"signer #{count}: SDK range differs between signer and signed data")
        attrs = _Reader(data.prefixed(), f"{scheme} additional attributes")
        cert_list: list[bytes] = []
        while certs.more():
            cert_list.append(certs.prefixed())
        if not cert_list:
            raise Failed(f"signer #{count}: no certificates")
        cert_key = _cert_public_key_der(cert_list[0], f"signer #{count}")
        if cert_key != public_key:
            raise Failed(
                f"signer #{count}: public key mismatch between certificate and signature record"
            )
        digest_algos: list[int] = []
        while digests.more():
            d = _Reader(digests.prefixed(), f"{scheme} digest")
            algo = d.u32()
            digest_algos.append(algo)
            value_ = d.prefixed()
            if algo in SIG_ALGOS and any(a == algo for a, _ in supported):
                name = SIG_ALGOS[algo].digest
                if name in expected and expected[name] != value_:
                    raise Failed(f"signers disagree on the {name} content digest")
                expected[name] = value_
        if digest_algos != sig_algos:
            raise Failed(
                f"signer #{count}: signature algorithms differ between signatures and digests"
            )
        lineage: list[bytes] = []
        while attrs.more():
            attr = _Reader(attrs.prefixed(), f"{scheme} attribute")
            aid = attr.u32()
            aval = attr.data[attr.pos :]
            if aid == STRIPPING_PROTECTION_ATTR and not v3 and len(aval) >= 4:
                (claimed,) = struct.unpack_from("<I", aval, 0)
                if claimed == 3 and V3_ID not in found:
                    raise Failed(
                        "v2 signature says the APK was also signed with v3, but there is no "
                        "v3 signature: it was stripped"
                    )
            elif aid == PROOF_OF_ROTATION_ATTR and v3:
                lineage = _lineage(aval)
                if lineage and lineage[-1] != cert_list[0]:
                    raise Failed(
                        f"signer #{count}: last certificate of the proof-of-rotation lineage "
                        "is not the signer's"
                    )
            elif aid == ROTATION_MIN_SDK_ATTR and scheme == "v3" and len(aval) >= 4:
                (rotation_min_sdk,) = struct.unpack_from("<I", aval, 0)
        signers.append(cert_list[0])
        if lineage:
            lineages.append(lineage)
        if v3:
            result_signers.append((cert_list[0], lineage, min_s, max_s))
    if not count:
        raise Failed("no signers")
    if rotation_min_sdk is not None and V31_ID not in found:
        raise Failed(
            f"v3 signature says a v3.1 signature covers API {rotation_min_sdk}+, but there is "
            "no v3.1 signature: it was stripped"
        )
    if v3:
        top = rotation_min_sdk - 1 if rotation_min_sdk is not None else MAX_SDK
        _check_sdk_ranges(scheme, result_signers, min_sdk, top)
    for name, value_ in expected.items():
        actual = digester.digest(name)
        if actual is None:
            continue  # verity: the signature was verified, the digest is not recomputed
        if actual != value_:
            raise Failed(
                f"APK integrity check failed: {name} digest mismatch "
                f"(expected {value_.hex()[:16]}…, actual {actual.hex()[:16]}…)"
            )
    return signers, max(lineages, key=len, default=[])


def _check_sdk_ranges(scheme: str, signers: list[tuple[bytes, list[bytes], int, int]],
                      min_sdk: int, top: int) -> None:  # fmt: skip
    """apksig's V3 check: the signers' SDK ranges follow each other without a gap and
    cover every platform the scheme is for."""
    ordered = sorted(signers, key=lambda s: s[3])
    first_min, last_max, last_lineage = ordered[0][2], 0, 0
    for k, (_cert, lineage, lo, hi) in enumerate(ordered):
        if k and lo != last_max + 1:
            raise Failed(f"{scheme} signers' SDK version ranges are not contiguous")
        last_max = hi
        if lineage:
            if len(lineage) < last_lineage:
                raise Failed(f"{scheme} signers' lineages are inconsistent")
            last_lineage = len(lineage)
    lowest = max(min_sdk, SDK_T if scheme == "v3.1" else SDK_P)
    if scheme == "v3.1":
        lowest = max(lowest, first_min)  # v3.1 covers only what it says; v3 covers the rest
    if first_min > lowest or last_max < top:
        raise Failed(
            f"{scheme} signers cover API {first_min}-{last_max}, not all of {lowest}-{top}"
        )


def _lineage(value: bytes) -> list[bytes]:
    """The proof-of-rotation lineage: each certificate signed by the one before it."""
    r = _Reader(value, "proof-of-rotation lineage")
    if r.u32() != 1:
        raise Failed("proof-of-rotation lineage: unknown version")
    certs: list[bytes] = []
    last_key: Any = None
    last_algo: int | None = None
    while r.more():
        node = _Reader(r.prefixed(), "lineage node")
        signed = node.prefixed()
        _flags = node.u32()
        algo = node.u32()
        signature = node.prefixed()
        sd = _Reader(signed, "lineage signed data")
        cert = sd.prefixed()
        signed_algo = sd.u32()
        if last_key is not None:
            if last_algo != signed_algo:
                raise Failed(f"lineage certificate #{len(certs) + 1}: algorithm ID mismatch")
            spec = SIG_ALGOS.get(signed_algo)
            if spec is None or not _verify_sig(last_key, spec, signature, signed):
                raise Failed(
                    f"lineage certificate #{len(certs) + 1} is not signed by the one before it"
                )
        if cert in certs:
            raise Failed("lineage repeats a certificate")
        certs.append(cert)
        last_key = _load_public_key(_cert_public_key_der(cert, "lineage certificate"))
        last_algo = algo
    return certs


class _Digester:
    """Content digests over the three zip sections the APK Signature Scheme protects."""

    def __init__(self, fh: BinaryIO, zs: _Sections, block_start: int) -> None:
        self.fh, self.zs = fh, zs
        self.cache: dict[str, bytes | None] = {}
        self.block_start = block_start

    def digest(self, name: str) -> bytes | None:
        if name not in self.cache:
            self.cache[name] = self._compute(name)
        return self.cache[name]

    def _compute(self, name: str) -> bytes | None:
        if name == "verity-sha256":
            return None
        algo = "sha256" if name == "chunked-sha256" else "sha512"
        zs = self.zs
        start = self.block_start
        eocd = zs.eocd[:16] + struct.pack("<I", start) + zs.eocd[20:]
        chunks: list[bytes] = []
        for offset, length in ((0, start), (zs.cd_offset, zs.cd_size)):
            pos = 0
            while pos < length:
                n = min(CHUNK, length - pos)
                self.fh.seek(offset + pos)
                data = self.fh.read(n)
                if len(data) != n:
                    raise Failed("file truncated while computing the content digest")
                chunks.append(_chunk(algo, data))
                pos += n
        for pos in range(0, len(eocd), CHUNK):
            chunks.append(_chunk(algo, eocd[pos : pos + CHUNK]))
        top = hashlib.new(algo, b"\x5a" + struct.pack("<I", len(chunks)))
        for c in chunks:
            top.update(c)
        return top.digest()


def _chunk(algo: str, data: bytes) -> bytes:
    h = hashlib.new(algo, b"\xa5" + struct.pack("<I", len(data)))
    h.update(data)
    return h.digest()


def _load_public_key(der: bytes) -> Any:
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Failed(f"malformed public key ({exc})") from exc


def _cert_public_key_der(cert: bytes, what: str) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = x509.load_der_x509_certificate(cert)
        return parsed.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Failed(f"{what}: malformed certificate ({exc})") from exc


def _verify_sig(key: Any, algo: _Algo, signature: bytes, data: bytes) -> bool:
    h = _HASHES[algo.hash]()
    try:
        if algo.key in ("rsa", "rsa-pss"):
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(_HASHES[algo.hash]()), h.digest_size)
                if algo.key == "rsa-pss"
                else padding.PKCS1v15()
            )
            key.verify(signature, data, pad, h)
        elif algo.key == "ec":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signature, data, ec.ECDSA(h))
        else:
            if not isinstance(key, dsa.DSAPublicKey):
                return False
            key.verify(signature, data, h)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- v1: JAR signing ------------------------------------------------------------------

_SIG_BLOCK = re.compile(r"^META-INF/([^/]+)\.(RSA|DSA|EC)$", re.I)


def _verify_v1_into(path: Path, out: Verification, found: set[int]) -> None:
    result = out.schemes["v1"]
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist()]
    except (
        zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
        NotImplementedError,  # an entry's "version needed to extract" over 6.3
    ) as exc:  # fmt: skip
        result.status, result.reason = "failed", f"not a readable zip ({exc})"
        return
    blocks = [n for n in names if _SIG_BLOCK.match(n)]
    if "META-INF/MANIFEST.MF" not in names and not blocks:
        return  # absent
    opened = open_zip(path)
    if isinstance(opened, str):
        result.status, result.reason = "failed", opened
        return
    with opened as archive:
        try:
            result.signers = _verify_v1(archive, names, blocks, found, out.min_sdk)
            result.status = "verified"
        except Failed as exc:
            result.status, result.reason = "failed", str(exc)
        except (struct.error, IndexError, ValueError) as exc:
            result.status, result.reason = "failed", f"malformed: {exc}"


def _read_member(archive: SafeZip, name: str, limit: int) -> bytes:
    """The entry's bytes as stored in it (a CRC that does not match is not checked here:
    the digest says whether the bytes are the signed ones)."""
    entry = archive.entries.get(name)
    if entry is not None and entry.size > limit:
        raise Failed(f"{name}: {entry.size} bytes, over the {limit}-byte limit")
    data = archive.read(name, limit=limit)
    if data is None:
        why = archive.problems[-1] if archive.problems else "unreadable"
        raise Failed(f"{name}: cannot be read ({why})")
    return data


def _verify_v1(archive: SafeZip, names: list[str], blocks: list[str],
               found: set[int], min_sdk: int) -> list[bytes]:  # fmt: skip
    """Verify the JAR signature; the signers' certificates, or Failed."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise Failed(f"duplicate zip entry {n!r}")
        seen.add(n)
    if "META-INF/MANIFEST.MF" not in seen:
        raise Failed("no META-INF/MANIFEST.MF")
    if not blocks:
        raise Failed("no JAR signature block (.RSA/.DSA/.EC) in META-INF/")
    manifest = _read_member(archive, "META-INF/MANIFEST.MF", MAX_META)
    main, sections = _jar_sections(manifest)
    by_name: dict[str, tuple[bytes, dict[str, str]]] = {}
    for raw, attrs in sections:
        entry = attrs.get("Name")
        if entry is None:
            raise Failed("MANIFEST.MF section without a Name")
        if entry in by_name:
            raise Failed(f"MANIFEST.MF names {entry!r} twice")
        by_name[entry] = (raw, attrs)
    signed_by: list[set[str]] = []
    signers: list[bytes] = []
    for block in sorted(blocks):
        base = _SIG_BLOCK.match(block).group(1)  # type: ignore[union-attr]
        sf_name = next((n for n in seen if n.upper() == f"META-INF/{base}.SF".upper()), None)
        if sf_name is None:
            raise Failed(f"{block}: no matching META-INF/{base}.SF")
        sf = _read_member(archive, sf_name, MAX_META)
        signers.append(_verify_pkcs7(block, _read_member(archive, block, MAX_META), sf, min_sdk))
        sections_raw = {k: v[0] for k, v in by_name.items()}
        signed_by.append(_verify_sf(sf_name, sf, manifest, main, sections_raw, found))
    for n in names:
        if n.startswith("META-INF/") or n.endswith("/"):
            continue
        section = by_name.get(n)
        if section is None:
            raise Failed(f"{n}: no digest in MANIFEST.MF (entry not protected)")
        if not all(n in entries for entries in signed_by):
            raise Failed(f"{n}: not signed by every signer")
        digests = _digest_attrs(section[1], "-Digest")
        if not digests:
            raise Failed(f"{n}: no supported digest in MANIFEST.MF")
        data = _read_member(archive, n, MAX_ENTRY)
        for algo, want in digests:
            if hashlib.new(algo, data).digest() != want:
                raise Failed(f"{n}: {algo.upper()} digest does not match MANIFEST.MF")
    for entry in by_name:
        if entry not in seen:
            raise Failed(f"MANIFEST.MF names {entry!r}, which is not in the APK")
    return signers


def _jar_sections(
    data: bytes,
) -> tuple[tuple[bytes, dict[str, str]], list[tuple[bytes, dict[str, str]]]]:
    """(main section, individual sections): each as (raw bytes including the blank line
    that ends it, attributes). Continuation lines (a leading space) are joined."""
    lines = re.split(rb"(\r\n|\n|\r)", data)
    sections: list[tuple[bytes, dict[str, str]]] = []
    raw = bytearray()
    attrs: dict[str, str] = {}
    last: str | None = None
    i = 0
    while i < len(lines):
        text = lines[i]
        eol = lines[i + 1] if i + 1 < len(lines) else b""
        i += 2
        if not text and not eol:
            continue
        raw += text + eol
        if not text:
            if raw.strip() and attrs:
                sections.append((bytes(raw), attrs))
            elif not sections and not attrs:
                sections.append((bytes(raw), {}))
            raw, attrs, last = bytearray(), {}, None
            continue
        line = text.decode("utf-8", "replace")
        if line.startswith(" ") and last is not None:
            attrs[last] += line[1:]
            continue
        key, sep, value = line.partition(": ")
        if sep:
            attrs[key] = value
            last = key
    if raw.strip() or attrs:
        sections.append((bytes(raw), attrs))
    if not sections:
        return (b"", {}), []
    return sections[0], sections[1:]


def _digest_attrs(attrs: dict[str, str], suffix: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for key, value in attrs.items():
        if key.endswith(suffix) and key[: -len(suffix)] in _JAR_DIGESTS:
            try:
                digest = base64.b64decode(value, validate=True)
            except ValueError as exc:
                raise Failed(f"malformed {key} value") from exc
            out.append((_JAR_DIGESTS[key[: -len(suffix)]], digest))
    return out


def _verify_sf(name: str, sf: bytes, manifest: bytes,
               main: tuple[bytes, dict[str, str]], by_name: dict[str, bytes],
               found: set[int]) -> set[str]:  # fmt: skip
    (_main_raw, sf_main), sf_sections = _jar_sections(sf)
    signed = sf_main.get("X-Android-APK-Signed", "")
    for claimed in (p.strip() for p in signed.split(",")):
        pid = {"2": V2_ID, "3": V3_ID}.get(claimed)
        if pid is not None and pid not in found:
            raise Failed(
                f"{name} says the APK is also signed with APK Signature Scheme v{claimed}, but "
                "there is no such signature: it was stripped"
            )
    whole = _digest_attrs(sf_main, "-Digest-Manifest")
    whole_ok = bool(whole) and all(hashlib.new(a, manifest).digest() == d for a, d in whole)
    created_by = sf_main.get("Created-By", "")
    if not whole_ok and "signtool" not in created_by:
        for algo, want in _digest_attrs(sf_main, "-Digest-Manifest-Main-Attributes"):
            if hashlib.new(algo, main[0]).digest() != want:
                raise Failed(f"{name}: digest of the MANIFEST.MF main attributes does not match")
    entries: set[str] = set()
    for _raw, attrs in sf_sections:
        entry = attrs.get("Name")
        if entry is None:
            raise Failed(f"{name}: section without a Name")
        if entry in entries:
            raise Failed(f"{name}: names {entry!r} twice")
        entries.add(entry)
        if whole_ok:
            continue
        section = by_name.get(entry)
        if section is None:
            raise Failed(f"{name}: names {entry!r}, which MANIFEST.MF does not")
        digests = _digest_attrs(attrs, "-Digest")
        if not digests:
            raise Failed(f"{name}: no supported digest for {entry!r}")
        for algo, want in digests:
            if hashlib.new(algo, section).digest() != want:
                raise Failed(f"{name}: digest of the MANIFEST.MF section {entry!r} does not match")
    return entries


_SIGNED_DATA = "1.2.840.113549.1.7.2"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_HASH_OF_SIG = {
    "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.113549.1.1.14": "sha224", "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512", "1.2.840.10040.4.3": "sha1",
    "2.16.840.1.101.3.4.3.2": "sha256",
}  # fmt: skip


_JAR_SIG_SUPPORT: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {
    ("sha1", "rsa"): ((0, MAX_SDK),),
    ("sha256", "rsa"): ((0, 8), (18, MAX_SDK)),
    ("sha384", "rsa"): ((18, MAX_SDK),),
    ("sha512", "rsa"): ((18, MAX_SDK),),
    **{(h, "ec"): ((18, MAX_SDK),) for h in ("sha1", "sha224", "sha256", "sha384", "sha512")},
}
"""API levels on which Android verifies a JAR signature of this digest and key type
(apksig's table for the common cases: RSA with SHA-256 broke in API 9-17, SHA-384/512
and ECDSA came with API 18). Other combinations are not checked against the minSdk."""


def _unsupported_levels(digest: str, kind: str, min_sdk: int) -> str | None:
    ranges = _JAR_SIG_SUPPORT.get((digest, kind))
    if ranges is None:
        return None
    gaps: list[str] = []
    start = min_sdk
    for lo, hi in ranges:
        if hi < start:
            continue
        if lo > start:
            gaps.append(f"{start}-{lo - 1}" if lo - 1 > start else str(start))
        start = max(start, hi + 1)
    return ", ".join(gaps) or None


def _verify_pkcs7(name: str, data: bytes, sf: bytes, min_sdk: int = 1) -> bytes:
    """Verify the PKCS#7 SignedData in ``name`` over ``sf``; the signer's certificate."""
    try:
        info = cms.ContentInfo.load(data, strict=False)
        if info["content_type"].dotted != _SIGNED_DATA:
            raise Failed(f"{name}: not a PKCS#7 SignedData")
        signed = info["content"]
        certs = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
        signer_infos = list(signed["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise Failed(f"{name}: malformed PKCS#7 ({exc})") from exc
    if not signer_infos:
        raise Failed(f"{name}: PKCS#7 without a SignerInfo")
    si = signer_infos[0]
    try:
        sid = si["sid"]
        if sid.name == "issuer_and_serial_number":
            issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
            cert = next(
                (c for c in certs if c.serial_number == serial and c.issuer == issuer), None
            )
        else:
            ski = sid.chosen.native
            cert = next((c for c in certs if c.key_identifier == ski), None)
        if cert is None:
            raise Failed(f"{name}: the signer's certificate is not in the PKCS#7 block")
        digest_alg = si["digest_algorithm"]["algorithm"].native
        sig_oid = si["signature_algorithm"]["algorithm"].dotted
        algo = _HASH_OF_SIG.get(sig_oid, digest_alg)
        signature = si["signature"].native
        attrs = si["signed_attrs"]
        if attrs is not None and len(attrs):
            values = {a["type"].dotted: a["values"] for a in attrs}
            md = values.get(_MESSAGE_DIGEST)
            if md is None or values.get(_CONTENT_TYPE) is None:
                raise Failed(f"{name}: signed attributes without content type or message digest")
            if digest_alg not in _HASHES or hashlib.new(digest_alg, sf).digest() != md[0].native:
                raise Failed(
                    f"{name}: message digest in the signed attributes does not match the .SF"
                )
            message = b"\x31" + attrs.dump()[1:]
        else:
            message = sf
        der = cert.dump()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Failed(f"{name}: malformed PKCS#7 SignerInfo ({exc})") from exc
    if algo not in _HASHES:
        raise Failed(f"{name}: unsupported digest algorithm {algo}")
    key = _load_public_key(_cert_public_key_der(der, name))
    kind = "rsa" if isinstance(key, rsa.RSAPublicKey) else (
        "ec" if isinstance(key, ec.EllipticCurvePublicKey) else "dsa")  # fmt: skip
    gaps = _unsupported_levels(str(digest_alg), kind, min_sdk)
    if gaps is not None:
        raise Failed(
            f"{name}: {str(digest_alg).upper()} with {kind.upper()} is not verified by Android "
            f"on API level(s) {gaps}, which minSdkVersion {min_sdk} includes"
        )
    if not _verify_sig(key, _Algo(kind, algo, ""), signature, message):
        raise Failed(f"{name}: PKCS#7 signature over the .SF did not verify")
    return bytes(der)


# --- policy ---------------------------------------------------------------------------


def _policy(out: Verification, found: set[int]) -> None:
    """Which schemes apksig checks for ``minSdk``..newest, and the verdict."""
    sdk = out.min_sdk
    s = out.schemes
    s["v3.1"].required = V31_ID in found
    s["v3"].required = V3_ID in found
    s["v2"].required = V2_ID in found and (sdk < SDK_P or V3_ID not in found)
    s["v1"].required = sdk < SDK_N or not found
    if out.reason is None:
        for scheme in ("v3.1", "v3", "v2", "v1"):
            r = s[scheme]
            if r.required and r.status != "verified":
                out.reason = (
                    f"{scheme}: {r.reason}" if r.status == "failed"
                    else f"{scheme}: required for minSdkVersion {sdk} but absent"
                )  # fmt: skip
                break
    modern = any(s[x].status == "verified" and s[x].required for x in ("v2", "v3", "v3.1"))
    if out.reason is None and (out.target_sdk or 0) >= SDK_R and not modern:
        out.reason = (
            f"target SDK version {out.target_sdk} requires APK Signature Scheme v2 or "
            "later; the APK is not signed with one"
        )
    if out.reason is None:
        out.reason = _consistency(out)
    out.verified = out.reason is None


def _consistency(out: Verification) -> str | None:
    s = out.schemes
    v1 = {hashlib.sha256(c).digest() for c in s["v1"].signers} if s["v1"].required else None
    v2 = {hashlib.sha256(c).digest() for c in s["v2"].signers} if s["v2"].required else None
    if v1 is not None and v2 is not None and v1 != v2:
        return "v1 and v2 signers differ"
    if s["v3"].required and (v1 is not None or v2 is not None):
        v3 = s["v3"]
        oldest = v3.lineage[0] if v3.lineage else (v3.signers[0] if v3.signers else b"")
        older = v2 if v2 is not None else v1
        if older is not None and {hashlib.sha256(oldest).digest()} != older:
            return "v3 signer (oldest in its lineage) differs from the v1/v2 signer"
    return None


def signing_report(
    path: Path, min_sdk: int | None, target_sdk: int | None = None
) -> dict[str, Any]:
    """The APK's signers (:func:`phonehome.static.signing.read_signing`: who it claims)
    with the verification (whether the claim holds): ``verified`` is true only when
    ``apksigner verify`` would accept the APK. Raises OSError when it cannot be read."""
    from phonehome.static.signing import read_signing

    report = read_signing(path).to_dict()
    verification = verify_apk(path, min_sdk, target_sdk)
    report["verified"] = verification.verified
    report["verification"] = verification.to_dict()
    return report
