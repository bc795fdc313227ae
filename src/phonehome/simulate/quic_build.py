"""Build protected QUIC client Initial packets carrying a given ClientHello.

Used by the simulator and by tests. Key derivation and header protection come from
:mod:`phonehome.protocols.quic`, so the builder and the reader share one implementation
that the RFC test vectors check. ``shuffle_frames`` mimics Chrome/Cronet, which cut the
hello into several CRYPTO frames and send them out of order, mixed with PING frames.
"""

from __future__ import annotations

import random

from phonehome.protocols.quic import (
    INITIAL,
    TAG_LEN,
    VERSION_2,
    VERSIONS,
    client_initial_keys,
    encode_varint,
)

PN_LEN = 2


def _wire_version(version: int) -> int:
    """Accept 1/2 (the names) as well as the wire numbers."""
    if version == 2:
        return VERSION_2
    if version in VERSIONS:
        return version
    raise ValueError(f"unsupported QUIC version {version:#x}")


def _crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + encode_varint(offset) + encode_varint(len(data)) + data


Pieces = list[tuple[int, bytes]]


def _pieces(hello: bytes, packets: int, shuffle: bool, seed: bytes) -> list[Pieces]:
    """CRYPTO (offset, data) pieces per packet."""
    parts = packets * 2 if shuffle else packets
    size = max(1, -(-len(hello) // parts))
    pieces = [(off, hello[off : off + size]) for off in range(0, len(hello), size)]
    per_packet: list[Pieces] = [[] for _ in range(packets)]
    if shuffle:
        random.Random(seed).shuffle(pieces)
        # Make sure the start of the hello is never first on the wire.
        if pieces and pieces[0][0] == 0 and len(pieces) > 1:
            pieces.append(pieces.pop(0))
    for i, piece in enumerate(pieces):
        per_packet[i * packets // len(pieces)].append(piece)
    return per_packet


def client_initial_datagrams(
    hello: bytes,
    dcid: bytes,
    scid: bytes,
    *,
    version: int = 1,
    packets: int = 1,
    shuffle_frames: bool = False,
    pad_to: int = 1200,
) -> list[bytes]:
    """One protected client Initial per datagram, packet numbers 0, 1, ...

    ``version`` is 1 or 2 (or a wire version number). Each datagram is padded with
    PADDING frames to ``pad_to`` bytes when its frames leave room (RFC 9000 14.1 asks
    clients for at least 1200); a packet whose frames need more is simply larger.
    """
    if packets < 1:
        raise ValueError("packets must be at least 1")
    if len(dcid) > 20 or len(scid) > 20:
        raise ValueError("connection ids are at most 20 bytes")
    wire = _wire_version(version)
    spec = VERSIONS[wire]
    keys = client_initial_keys(dcid, wire)
    datagrams: list[bytes] = []
    for number, pieces in enumerate(_pieces(hello, packets, shuffle_frames, dcid + scid)):
        frames = b""
        for i, (offset, data) in enumerate(pieces):
            if shuffle_frames and i:
                frames += b"\x01"  # PING between pieces, as Chrome does
            frames += _crypto_frame(offset, data)
        first = 0xC0 | (spec.type_bits(INITIAL) << 4) | (PN_LEN - 1)
        prefix = (
            bytes((first,))
            + wire.to_bytes(4, "big")
            + bytes((len(dcid),))
            + dcid
            + bytes((len(scid),))
            + scid
            + encode_varint(0)  # no token
        )
        # Length is written as a 2-byte varint (as most stacks do), so its size is known.
        room = pad_to - (len(prefix) + 2 + PN_LEN + TAG_LEN)
        if len(frames) < room:
            frames += bytes(room - len(frames))
        if len(frames) + PN_LEN < 4:
            frames += bytes(4 - PN_LEN - len(frames))  # header protection needs a sample
        length = PN_LEN + len(frames) + TAG_LEN
        if length < 0x4000:
            length_field = (0x4000 | length).to_bytes(2, "big")
        else:
            length_field = encode_varint(length)
        pn = number.to_bytes(PN_LEN, "big")
        header = prefix + length_field + pn
        sealed = keys.aead.encrypt(keys.nonce(number), frames, header)
        sample_at = 4 - PN_LEN
        mask = keys.mask(sealed[sample_at : sample_at + 16])
        protected = bytearray(header)
        protected[0] ^= mask[0] & 0x0F
        pn_at = len(header) - PN_LEN
        for i in range(PN_LEN):
            protected[pn_at + i] ^= mask[1 + i]
        datagrams.append(bytes(protected) + sealed)
    return datagrams
