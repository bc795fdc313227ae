"""Who signed an APK: the SHA-256 fingerprints of its signer certificates.

A firmware update that ships an app under the same package name but another signer is
either a vendor re-keying or a substituted app; both deserve a line in a diff. Android
verifies the strongest scheme present (v3, then v2, then the v1 JAR signature), so that
scheme's certificates are "the signer"; the others are reported too, and a disagreement
between schemes is a problem of its own.

- v1: ``META-INF/*.RSA|*.DSA|*.EC`` are PKCS#7 SignedData; the signer certificates are the
  ones in it that issued no other certificate there (a chain may ride along).
- v2/v3: the APK Signing Block sits right before the zip central directory and ends with
  its size and the magic ``APK Sig Block 42``; its ID-value pairs hold length-prefixed
  signers, each with signed data that lists the X.509 certificates.

Fingerprints are over the certificate's DER bytes as stored (what ``apksigner verify
--print-certs`` prints), so a certificate that ``cryptography`` cannot parse still has one.
Nothing here verifies signatures: this is identification. Whether the claim holds (the
signatures verify, as ``apksigner verify`` decides) is :mod:`phonehome.static.verify`.
"""

from __future__ import annotations

import hashlib
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

EOCD_SIG = b"PK\x05\x06"
EOCD_LEN = 22
MAX_COMMENT = 0xFFFF
BLOCK_MAGIC = b"APK Sig Block 42"
MAX_BLOCK = 16 * 1024 * 1024
"""Real signing blocks are a few KB (plus 4 KB verity padding); larger is damage."""
MAX_SIGNERS = 16
MAX_CERTS = 16
MAX_V1_BYTES = 1024 * 1024
"""A PKCS#7 block with a few certificates is a few KB."""
MAX_V1_FILES = 16

SCHEME_IDS = {0x7109871A: "v2", 0xF05368C0: "v3", 0x1B93AD61: "v3.1"}
STRENGTH = ("v3.1", "v3", "v2", "v1")
"""Scheme order Android verifies in: the first present one decides the signer."""
V1_SUFFIXES = (".RSA", ".DSA", ".EC")


@dataclass(frozen=True, slots=True)
class Certificate:
    scheme: str
    sha256: str
    """Hex SHA-256 of the certificate's DER bytes."""
    subject: str
    """RFC 4514 subject, or "" when the certificate does not parse."""

    def to_dict(self) -> dict[str, str]:
        return {"scheme": self.scheme, "sha256": self.sha256, "subject": self.subject}


@dataclass(slots=True)
class Signing:
    """The certificates of every signature scheme found, and what could not be read."""

    certificates: list[Certificate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def schemes(self) -> list[str]:
        present = {c.scheme for c in self.certificates}
        return [s for s in reversed(STRENGTH) if s in present]

    def signer(self) -> tuple[str, ...]:
        """Fingerprints of the scheme Android would verify; () for an unsigned APK."""
        for scheme in STRENGTH:
            prints = sorted({c.sha256 for c in self.certificates if c.scheme == scheme})
            if prints:
                return tuple(prints)
        return ()

    def subjects(self) -> list[str]:
        signer = set(self.signer())
        return sorted({c.subject for c in self.certificates if c.sha256 in signer and c.subject})

    def to_dict(self) -> dict[str, object]:
        return {
            "schemes": self.schemes(),
            "signer": list(self.signer()),
            "subjects": self.subjects(),
            "certificates": [c.to_dict() for c in self.certificates],
            "problems": list(self.problems),
        }


def read_signing(path: Path) -> Signing:
    """All signer certificates of the APK at ``path``; damage goes to ``problems``.

    Raises OSError only when the file cannot be opened.
    """
    out = Signing()
    with path.open("rb") as fh:
        _read_block(fh, out)
    _read_v1(path, out)
    _check_agreement(out)
    return out


def same_signer(a: Signing, b: Signing) -> bool | None:
    """Whether two APKs have the same signer; None when either is unsigned."""
    sa, sb = a.signer(), b.signer()
    if not sa or not sb:
        return None
    return sa == sb


def _check_agreement(out: Signing) -> None:
    by_scheme: dict[str, set[str]] = {}
    for c in out.certificates:
        by_scheme.setdefault(c.scheme, set()).add(c.sha256)
    if "v1" in by_scheme and "v2" in by_scheme and by_scheme["v1"] != by_scheme["v2"]:
        out.problems.append("v1 and v2 signatures name different signers")


# --- v2/v3: the APK Signing Block -----------------------------------------------------


def _read_block(fh: BinaryIO, out: Signing) -> None:
    cd_offset = _central_directory_offset(fh, out)
    if cd_offset is None:
        return
    block = _signing_block(fh, cd_offset, out)
    if block is None:
        return
    for pair_id, value in _pairs(block, out):
        scheme = SCHEME_IDS.get(pair_id)
        if scheme is not None:
            _read_scheme(scheme, value, out)


def _central_directory_offset(fh: BinaryIO, out: Signing) -> int | None:
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
        out.problems.append("no end of central directory: not a zip archive")
        return None
    (cd_offset,) = struct.unpack_from("<I", tail, pos + 16)
    if cd_offset == 0xFFFFFFFF:
        out.problems.append("zip64 archive: APK signing block not read")
        return None
    if cd_offset > size:
        out.problems.append("central directory offset past the end of the file")
        return None
    return int(cd_offset)


def _signing_block(fh: BinaryIO, cd_offset: int, out: Signing) -> bytes | None:
    if cd_offset < 24 + 8:
        return None
    fh.seek(cd_offset - 24)
    footer = fh.read(24)
    if footer[8:] != BLOCK_MAGIC:
        return None  # no v2+ signature: a v1-only or unsigned APK
    (size,) = struct.unpack_from("<Q", footer, 0)
    start = cd_offset - size - 8
    if size < 24 or size > MAX_BLOCK or start < 0:
        out.problems.append(f"APK signing block size {size} is implausible")
        return None
    fh.seek(start)
    block = fh.read(size + 8)
    (head,) = struct.unpack_from("<Q", block, 0)
    if head != size:
        out.problems.append("APK signing block sizes at its start and end differ")
        return None
    return block[8:-24]


def _pairs(block: bytes, out: Signing) -> list[tuple[int, bytes]]:
    pairs: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(block):
        if pos + 12 > len(block):
            out.problems.append("APK signing block: truncated ID-value pair")
            break
        (length,) = struct.unpack_from("<Q", block, pos)
        if length < 4 or pos + 8 + length > len(block):
            out.problems.append("APK signing block: ID-value pair runs past the block")
            break
        (pair_id,) = struct.unpack_from("<I", block, pos + 8)
        pairs.append((pair_id, block[pos + 12 : pos + 8 + length]))
        pos += 8 + length
    return pairs


class _Damaged(ValueError):
    """A length prefix that runs past its container."""


def _prefixed(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        raise _Damaged("length prefix past the end")
    (n,) = struct.unpack_from("<I", data, pos)
    end = pos + 4 + n
    if end > len(data):
        raise _Damaged("length-prefixed value runs past its container")
    return data[pos + 4 : end], end


def _sequence(data: bytes, limit: int) -> list[bytes]:
    items: list[bytes] = []
    pos = 0
    while pos < len(data) and len(items) < limit:
        item, pos = _prefixed(data, pos)
        items.append(item)
    return items


def _read_scheme(scheme: str, value: bytes, out: Signing) -> None:
    try:
        signers_blob, _ = _prefixed(value, 0)
        signers = _sequence(signers_blob, MAX_SIGNERS)
        for signer in signers:
            signed_data, _ = _prefixed(signer, 0)
            _digests, pos = _prefixed(signed_data, 0)
            certs_blob, _ = _prefixed(signed_data, pos)
            for der in _sequence(certs_blob, MAX_CERTS):
                out.certificates.append(_certificate(scheme, der, out))
    except _Damaged as exc:
        out.problems.append(f"{scheme} signature block damaged: {exc}")
        return
    if not signers:
        out.problems.append(f"{scheme} signature block has no signer")


_PARSE_ERRORS = (ValueError, x509.InvalidVersion, UnsupportedAlgorithm)
"""What cryptography raises for bytes it cannot load: a ContentInfo of an unknown type
(a flipped OID byte) is UnsupportedAlgorithm, not ValueError."""


def _certificate(scheme: str, der: bytes, out: Signing) -> Certificate:
    try:
        with warnings.catch_warnings():
            # Many real app certificates have negative serial numbers (cryptography warns).
            warnings.simplefilter("ignore")
            subject = _subject(x509.load_der_x509_certificate(der))
    except _PARSE_ERRORS:
        subject = ""
        out.problems.append(f"{scheme} certificate does not parse; fingerprinted as stored")
    return Certificate(scheme, hashlib.sha256(der).hexdigest(), subject)


def _subject(cert: x509.Certificate) -> str:
    """The subject as RFC 4514 text; "" when a damaged name will not print (cryptography
    parses names lazily and raises KeyError/ValueError on some malformed attributes)."""
    try:
        return cert.subject.rfc4514_string()
    except (ValueError, KeyError):
        return ""


# --- v1: JAR signature ----------------------------------------------------------------


def _read_v1(path: Path, out: Signing) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [
                info
                for info in zf.infolist()
                if info.filename.upper().startswith("META-INF/")
                and info.filename.upper().endswith(V1_SUFFIXES)
                and info.filename.count("/") == 1
            ]
            for info in names[:MAX_V1_FILES]:
                if info.file_size > MAX_V1_BYTES:
                    out.problems.append(f"{info.filename}: {info.file_size} bytes, not read")
                    continue
                with zf.open(info) as member:
                    data = member.read(MAX_V1_BYTES + 1)
                _read_pkcs7(info.filename, data[:MAX_V1_BYTES], out)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        if not any("not a zip" in p for p in out.problems):
            out.problems.append(f"v1 signature not read: {exc}")
    except (ValueError, RuntimeError, OSError, struct.error, zlib.error) as exc:
        # zipfile raises these for encrypted members, bad CRCs, damaged local headers.
        out.problems.append(f"v1 signature not read: {exc}")


def _read_pkcs7(name: str, data: bytes, out: Signing) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = pkcs7.load_der_pkcs7_certificates(data)
    except _PARSE_ERRORS as exc:
        out.problems.append(f"{name}: not a PKCS#7 signature ({exc})")
        return
    if not certs:
        out.problems.append(f"{name}: PKCS#7 signature without certificates")
        return
    try:
        issuers = {c.issuer for c in certs if c.issuer != c.subject}
        leaves = [c for c in certs if c.subject not in issuers] or certs
    except (ValueError, KeyError):
        leaves = certs  # names too damaged to compare: report every certificate
    for cert in leaves:
        der = cert.public_bytes(Encoding.DER)
        out.certificates.append(Certificate("v1", hashlib.sha256(der).hexdigest(), _subject(cert)))
