"""Cipher suites and the record protection they stand for (RFC 5246 6.2.3, RFC 8446 5.2).

One :class:`RecordCipher` per direction and key: ``open`` authenticates and decrypts one
record and returns None when it does not authenticate (wrong key, wrong sequence number,
damaged record), so the caller can try another key or count the record. The AEAD and
block ciphers are cryptography's (OpenSSL); only the TLS framing around them is here.
"""

from __future__ import annotations

import hmac
from typing import Final, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

AES_GCM: Final = "aes-gcm"
AES_CCM: Final = "aes-ccm"
AES_CCM_8: Final = "aes-ccm-8"
CHACHA20: Final = "chacha20-poly1305"
AES_CBC: Final = "aes-cbc"


class Suite:
    """What a cipher suite number means for decryption."""

    __slots__ = ("cipher", "hash", "id", "key_len", "mac", "name", "tls13")

    def __init__(
        self, id: int, name: str, cipher: str, key_len: int, hash: str, mac: str = ""
    ) -> None:
        self.id = id
        self.name = name
        self.cipher = cipher
        self.key_len = key_len
        self.hash = hash
        """The PRF hash (TLS 1.2) or the HKDF hash (TLS 1.3, QUIC)."""
        self.mac = mac
        """HMAC hash of a CBC suite (``sha1``, ``sha256``, ``sha384``); empty for AEADs."""
        self.tls13 = 0x1301 <= id <= 0x1305

    @property
    def fixed_iv_len(self) -> int:
        """IV bytes taken from the TLS 1.2 key block: the implicit nonce part of an AEAD
        (RFC 5288 3, RFC 7905 2); none for CBC, whose IV travels in each record."""
        if self.cipher == CHACHA20:
            return 12
        if self.cipher == AES_CBC:
            return 0
        return 4

    @property
    def mac_len(self) -> int:
        return {"": 0, "sha1": 20, "sha256": 32, "sha384": 48}[self.mac]

    def __repr__(self) -> str:
        return f"<Suite {self.name}>"


def _suites() -> dict[int, Suite]:
    table: list[tuple[int, str, str, int, str, str]] = [
        # TLS 1.3 (RFC 8446 B.4)
        (0x1301, "TLS_AES_128_GCM_SHA256", AES_GCM, 16, "sha256", ""),
        (0x1302, "TLS_AES_256_GCM_SHA384", AES_GCM, 32, "sha384", ""),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA20, 32, "sha256", ""),
        (0x1304, "TLS_AES_128_CCM_SHA256", AES_CCM, 16, "sha256", ""),
        (0x1305, "TLS_AES_128_CCM_8_SHA256", AES_CCM_8, 16, "sha256", ""),
    ]
    # TLS 1.2 AEAD suites (RFC 5288, RFC 5289, RFC 7905, RFC 7251, RFC 6655)
    for kx, base in (("ECDHE_ECDSA", 0xC02B), ("ECDHE_RSA", 0xC02F)):
        table.append((base, f"TLS_{kx}_WITH_AES_128_GCM_SHA256", AES_GCM, 16, "sha256", ""))
        table.append((base + 1, f"TLS_{kx}_WITH_AES_256_GCM_SHA384", AES_GCM, 32, "sha384", ""))
    for kx, base in (("RSA", 0x009C), ("DHE_RSA", 0x009E)):
        table.append((base, f"TLS_{kx}_WITH_AES_128_GCM_SHA256", AES_GCM, 16, "sha256", ""))
        table.append((base + 1, f"TLS_{kx}_WITH_AES_256_GCM_SHA384", AES_GCM, 32, "sha384", ""))
    for kx, number in (("ECDHE_RSA", 0xCCA8), ("ECDHE_ECDSA", 0xCCA9), ("DHE_RSA", 0xCCAA)):
        table.append((number, f"TLS_{kx}_WITH_CHACHA20_POLY1305_SHA256", CHACHA20, 32, "sha256",
                      ""))  # fmt: skip
    for kx, base in (("RSA", 0xC09C), ("ECDHE_ECDSA", 0xC0AC)):
        table.append((base, f"TLS_{kx}_WITH_AES_128_CCM", AES_CCM, 16, "sha256", ""))
        table.append((base + 1, f"TLS_{kx}_WITH_AES_256_CCM", AES_CCM, 32, "sha256", ""))
        table.append((base + 4, f"TLS_{kx}_WITH_AES_128_CCM_8", AES_CCM_8, 16, "sha256", ""))
        table.append((base + 5, f"TLS_{kx}_WITH_AES_256_CCM_8", AES_CCM_8, 32, "sha256", ""))
    # TLS 1.2 CBC suites (RFC 5246 A.5, RFC 4492, RFC 5289): the legacy fallbacks.
    cbc: list[tuple[int, str, int, str, str]] = [
        (0x002F, "RSA_WITH_AES_128_CBC_SHA", 16, "sha1", "sha256"),
        (0x0035, "RSA_WITH_AES_256_CBC_SHA", 32, "sha1", "sha256"),
        (0x003C, "RSA_WITH_AES_128_CBC_SHA256", 16, "sha256", "sha256"),
        (0x003D, "RSA_WITH_AES_256_CBC_SHA256", 32, "sha256", "sha256"),
        (0x0033, "DHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1", "sha256"),
        (0x0039, "DHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1", "sha256"),
        (0x0067, "DHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256", "sha256"),
        (0x006B, "DHE_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256", "sha256"),
        (0xC009, "ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, "sha1", "sha256"),
        (0xC00A, "ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, "sha1", "sha256"),
        (0xC013, "ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1", "sha256"),
        (0xC014, "ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1", "sha256"),
        (0xC023, "ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, "sha256", "sha256"),
        (0xC024, "ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, "sha384", "sha384"),
        (0xC027, "ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256", "sha256"),
        (0xC028, "ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, "sha384", "sha384"),
    ]
    for number, name, key_len, mac, prf in cbc:
        table.append((number, f"TLS_{name}", AES_CBC, key_len, prf, mac))
    return {row[0]: Suite(*row) for row in table}


SUITES: Final = _suites()


def suite_name(number: int) -> str:
    suite = SUITES.get(number)
    return suite.name if suite is not None else f"0x{number:04x}"


class Aead(Protocol):
    """cryptography's AEAD classes as used here. They take any buffer (records are opened
    straight from memoryviews of the stream, without a copy); their stubs say ``bytes``."""

    def decrypt(
        self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None
    ) -> bytes: ...

    def encrypt(
        self, nonce: bytes, data: bytes | memoryview, associated_data: bytes | None
    ) -> bytes: ...


def aead_for(cipher: str, key: bytes) -> Aead:
    aead: AESGCM | AESCCM | ChaCha20Poly1305
    if cipher == AES_GCM:
        aead = AESGCM(key)
    elif cipher == CHACHA20:
        aead = ChaCha20Poly1305(key)
    else:
        aead = AESCCM(key, 8 if cipher == AES_CCM_8 else 16)
    return cast(Aead, aead)


def tag_len(cipher: str) -> int:
    return 8 if cipher == AES_CCM_8 else 16


class RecordCipher:
    """Opens the records one side sent under one key (base class)."""

    __slots__ = ()

    def open(
        self, header: bytes, fragment: bytes | memoryview, seq: int
    ) -> tuple[int, bytes] | None:
        """(content type, plaintext) of one record, or None when it does not authenticate.
        ``header`` is the 5-byte record header as sent."""
        raise NotImplementedError


class Tls13Cipher(RecordCipher):
    """TLS 1.3 record protection (RFC 8446 5.2-5.3): nonce = iv XOR sequence number, the
    record header as additional data, the real content type inside, zero padding after it."""

    __slots__ = ("_aead", "_iv", "_tag")

    def __init__(self, cipher: str, key: bytes, iv: bytes) -> None:
        self._aead = aead_for(cipher, key)
        self._iv = int.from_bytes(iv, "big")
        self._tag = tag_len(cipher)

    def open(
        self, header: bytes, fragment: bytes | memoryview, seq: int
    ) -> tuple[int, bytes] | None:
        if len(fragment) < self._tag + 1:
            return None
        nonce = (self._iv ^ seq).to_bytes(12, "big")
        try:
            inner = self._aead.decrypt(nonce, fragment, header)
        except InvalidTag:
            return None
        end = len(inner)
        while end and inner[end - 1] == 0:
            end -= 1
        if end == 0:
            return 0, b""  # authenticated but no content type: the caller counts it
        return inner[end - 1], inner[: end - 1]


class Tls12AeadCipher(RecordCipher):
    """TLS 1.2 AES-GCM/CCM (RFC 5288 3, RFC 6655 3): a 4-byte implicit salt from the key
    block plus the 8-byte explicit nonce that starts each record."""

    __slots__ = ("_aead", "_salt", "_tag")

    def __init__(self, cipher: str, key: bytes, salt: bytes) -> None:
        self._aead = aead_for(cipher, key)
        self._salt = salt
        self._tag = tag_len(cipher)

    def open(
        self, header: bytes, fragment: bytes | memoryview, seq: int
    ) -> tuple[int, bytes] | None:
        size = len(fragment) - 8 - self._tag
        if size < 0:
            return None
        nonce = self._salt + bytes(fragment[:8])
        aad = seq.to_bytes(8, "big") + header[:3] + size.to_bytes(2, "big")
        try:
            return header[0], self._aead.decrypt(nonce, fragment[8:], aad)
        except InvalidTag:
            return None


class Tls12ChaChaCipher(RecordCipher):
    """TLS 1.2 ChaCha20-Poly1305 (RFC 7905 2): nonce = the 12-byte IV XOR the sequence
    number, no explicit nonce in the record."""

    __slots__ = ("_aead", "_iv")

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._aead = aead_for(CHACHA20, key)
        self._iv = int.from_bytes(iv, "big")

    def open(
        self, header: bytes, fragment: bytes | memoryview, seq: int
    ) -> tuple[int, bytes] | None:
        size = len(fragment) - 16
        if size < 0:
            return None
        nonce = (self._iv ^ seq).to_bytes(12, "big")
        aad = seq.to_bytes(8, "big") + header[:3] + size.to_bytes(2, "big")
        try:
            return header[0], self._aead.decrypt(nonce, fragment, aad)
        except InvalidTag:
            return None


class Tls12CbcCipher(RecordCipher):
    """TLS 1.2 AES-CBC with HMAC (RFC 5246 6.2.3.2): an explicit IV per record, then
    MAC-then-encrypt, or encrypt-then-MAC when the extension was negotiated (RFC 7366).

    A passive reader needs no constant-time checks: there is no oracle to protect."""

    __slots__ = ("_etm", "_hash", "_key", "_mac_key", "_mac_len")

    def __init__(self, key: bytes, mac_key: bytes, mac: str, etm: bool) -> None:
        self._key = algorithms.AES(key)
        self._mac_key = mac_key
        self._hash = mac
        self._mac_len = len(mac_key)
        self._etm = etm

    def _mac(self, seq: int, header: bytes, size: int, data: bytes) -> bytes:
        pseudo = seq.to_bytes(8, "big") + header[:3] + size.to_bytes(2, "big")
        return hmac.digest(self._mac_key, pseudo + data, self._hash)

    def _decrypt(self, iv: bytes, data: bytes) -> bytes | None:
        if not data or len(data) % 16:
            return None
        decryptor = Cipher(self._key, modes.CBC(iv)).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-1 - pad :] != bytes((pad,)) * (pad + 1):
            return None
        return plain[: -1 - pad]

    def open(
        self, header: bytes, fragment: bytes | memoryview, seq: int
    ) -> tuple[int, bytes] | None:
        data = bytes(fragment)
        mac_len = self._mac_len
        if self._etm:
            if len(data) < 16 + mac_len:
                return None
            body, tag = data[:-mac_len], data[-mac_len:]
            if not hmac.compare_digest(self._mac(seq, header, len(body), body), tag):
                return None
            plain = self._decrypt(body[:16], body[16:])
            return None if plain is None else (header[0], plain)
        if len(data) < 32:
            return None
        plain = self._decrypt(data[:16], data[16:])
        if plain is None or len(plain) < mac_len:
            return None
        content, tag = plain[: len(plain) - mac_len], plain[len(plain) - mac_len :]
        if not hmac.compare_digest(self._mac(seq, header, len(content), content), tag):
            return None
        return header[0], content


def tls13_cipher(suite: Suite, key: bytes, iv: bytes) -> Tls13Cipher:
    return Tls13Cipher(suite.cipher, key, iv)


def tls12_ciphers(
    suite: Suite, key_block: tuple[bytes, bytes, bytes, bytes, bytes, bytes], etm: bool
) -> tuple[RecordCipher, RecordCipher]:
    """(client's, server's) record ciphers from a cut TLS 1.2 key block."""
    c_mac, s_mac, c_key, s_key, c_iv, s_iv = key_block
    if suite.cipher == AES_CBC:
        return (
            Tls12CbcCipher(c_key, c_mac, suite.mac, etm),
            Tls12CbcCipher(s_key, s_mac, suite.mac, etm),
        )
    if suite.cipher == CHACHA20:
        return Tls12ChaChaCipher(c_key, c_iv), Tls12ChaChaCipher(s_key, s_iv)
    return Tls12AeadCipher(suite.cipher, c_key, c_iv), Tls12AeadCipher(suite.cipher, s_key, s_iv)
