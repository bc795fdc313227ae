"""Tampering with signed APKs, for the signature verification tests: flipped bytes in a
stored entry, stripped signing blocks or single schemes, a signer's public key swapped
for another key's (with a valid signature by that key), an entry added after signing,
re-signed v3 blocks with a damaged lineage, and hand-built v3.1 blocks.

Independent of phonehome's own parser on purpose: these helpers follow the APK Signature
Scheme layout (source.android.com, "APK Signature Scheme v2/v3") with their own code.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

KEYS = Path(__file__).resolve().parent / "apks" / "keys"
MAGIC = b"APK Sig Block 42"
V2, V3, V31 = 0x7109871A, 0xF05368C0, 0x1B93AD61


def key(name: str) -> tuple[Any, bytes]:
    """(private key, certificate DER) of a test keystore (tests/apks/keys)."""
    data = (KEYS / f"test-{name}.p12").read_bytes()
    priv, cert, _ = pkcs12.load_key_and_certificates(data, b"phonehome-test")
    assert priv is not None and cert is not None
    return priv, cert.public_bytes(serialization.Encoding.DER)


def sign(priv: Any, data: bytes) -> tuple[int, bytes]:
    """(APK Signature Scheme algorithm id, signature) with SHA-256."""
    if isinstance(priv, rsa.RSAPrivateKey):
        return 0x0103, priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(priv, ec.EllipticCurvePrivateKey)
    return 0x0201, priv.sign(data, ec.ECDSA(hashes.SHA256()))


def spki(priv: Any) -> bytes:
    return priv.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def lp(data: bytes) -> bytes:
    return u32(len(data)) + data


def split(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


# --- the zip around the block -----------------------------------------------------------


def sections(apk: bytes) -> tuple[int, int, int]:
    """(signing block start, central directory offset, EOCD offset)."""
    eocd = apk.rfind(b"PK\x05\x06")
    (cd,) = struct.unpack_from("<I", apk, eocd + 16)
    if apk[cd - 16 : cd] == MAGIC:
        (size,) = struct.unpack_from("<Q", apk, cd - 24)
        return cd - size - 8, cd, eocd
    return cd, cd, eocd


def pairs(apk: bytes) -> list[tuple[int, bytes]]:
    start, cd, _ = sections(apk)
    body, out, pos = apk[start + 8 : cd - 24], [], 0
    while pos < len(body):
        (n,) = struct.unpack_from("<Q", body, pos)
        (pid,) = struct.unpack_from("<I", body, pos + 8)
        out.append((pid, body[pos + 12 : pos + 8 + n]))
        pos += 8 + n
    return out


def with_pairs(apk: bytes, new: list[tuple[int, bytes]] | None) -> bytes:
    """The APK with its signing block replaced (None: removed), offsets fixed."""
    start, cd, eocd = sections(apk)
    block = b""
    if new is not None:
        body = b"".join(struct.pack("<Q", len(v) + 4) + u32(i) + v for i, v in new)
        size = len(body) + 24
        block = struct.pack("<Q", size) + body + struct.pack("<Q", size) + MAGIC
    out = bytearray(apk[:start] + block + apk[cd:])
    new_eocd = eocd - (cd - start) + len(block)
    struct.pack_into("<I", out, new_eocd + 16, start + len(block))
    return bytes(out)


def flip_in_entry(apk: bytes, name: str, at: int = 10) -> bytes:
    """Flip one byte of a stored entry's data (its CRC is left as it was)."""
    info = zipfile.ZipFile(io.BytesIO(apk)).getinfo(name)
    assert info.compress_type == zipfile.ZIP_STORED
    head = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", apk, head + 26)
    pos = head + 30 + name_len + extra_len + at
    return apk[:pos] + bytes([apk[pos] ^ 0x01]) + apk[pos + 1 :]


def rewrite(
    apk: bytes, replace: dict[str, bytes | None], add: dict[str, bytes] | None = None
) -> bytes:
    """A new zip with some entries replaced or dropped (None) and others added; the APK
    Signing Block does not survive (zipfile does not keep it)."""
    src = zipfile.ZipFile(io.BytesIO(apk))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            data = replace.get(info.filename, src.read(info.filename))
            if data is not None:
                out.writestr(info, data)
        for name, data in (add or {}).items():
            out.writestr(name, data)
    return buf.getvalue()


def append_entry(apk: bytes, name: str, data: bytes) -> bytes:
    """Add an entry after signing, as ``zip -u`` would: written where the central
    directory was, so the signing block is no longer right before it."""
    buf = io.BytesIO(apk)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr(name, data)
    return buf.getvalue()


# --- v2/v3 signers --------------------------------------------------------------------


def swap_public_key(value: bytes, priv: Any, v3: bool) -> bytes:
    """A v2/v3 block whose first signer has another key's public key and a valid
    signature by that key over the unchanged signed data (which still names the old
    certificate): what apksig calls a public key mismatch."""
    (signers_blob,) = split(value)
    signers = split(signers_blob)
    signed_data, pos = _take(signers[0], 0)
    head = signers[0][pos : pos + 8] if v3 else b""  # v3: minSdk, maxSdk
    algo, sig = sign(priv, signed_data)
    new = lp(signed_data) + head + lp(lp(u32(algo) + lp(sig))) + lp(spki(priv))
    return block_of(new, *signers[1:])


def _take(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("<I", data, pos)
    return data[pos + 4 : pos + 4 + n], pos + 4 + n


def v3_signer(
    priv: Any,
    cert: bytes,
    digests: bytes,
    min_sdk: int,
    max_sdk: int,
    attrs: list[tuple[int, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    """One v3/v3.1 signer over ``digests`` (a digests sequence taken from a real block)."""
    attr_blob = b"".join(lp(u32(i) + v) for i, v in attrs)
    signed = lp(digests) + lp(lp(cert)) + u32(min_sdk) + u32(max_sdk) + lp(attr_blob)
    algo, sig = sign(priv, signed)
    return lp(signed) + u32(min_sdk) + u32(max_sdk) + lp(lp(u32(algo) + lp(sig))) + lp(spki(priv))


def v3_parts(value: bytes) -> dict[str, Any]:
    """The first signer of a v3 block: digests, certificates, sdk range, attributes."""
    (signers_blob,) = split(value)
    first = split(signers_blob)[0]
    signed, _ = _take(first, 0)
    digests, pos = _take(signed, 0)
    certs, pos = _take(signed, pos)
    lo, hi = struct.unpack_from("<II", signed, pos)
    attrs_blob, _ = _take(signed, pos + 8)
    attrs = [(struct.unpack_from("<I", a)[0], a[4:]) for a in split(attrs_blob)]
    return {"digests": digests, "certs": split(certs), "min": lo, "max": hi, "attrs": attrs}


def block_of(*signers: bytes) -> bytes:
    """A v2/v3/v3.1 block value: the length-prefixed sequence of length-prefixed signers."""
    return lp(b"".join(lp(s) for s in signers))
