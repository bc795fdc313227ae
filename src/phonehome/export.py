"""``phonehome export SCAN --pcap FILE``: the packets behind a scan's findings, to share.

A regulator or a vendor's security team needs the evidence, not the user's whole day of
traffic: only the packets of the flows that carry findings are copied (all of a flow's
packets, so Wireshark can reassemble a request split over segments), from the original
captures (checked against the SHA-256 the scan recorded), into a fresh pcapng. Nothing
else of the inputs is copied — in particular no Decryption Secrets Block (TLS key log)
and no other flow. The frame where a finding's message starts carries a comment naming
what it holds (identifier, where, detector), never the value.

Findings read from TLS or QUIC with a key log come with their encrypted packets only: the
key log is never copied. :func:`key_coverage` says how many of the exported connections a
key log decrypts, so the user knows what handing it over separately would open.
"""

from __future__ import annotations

import hashlib
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from phonehome import wording
from phonehome.context import Context
from phonehome.errors import InputError, UsageError
from phonehome.ingest import open_capture
from phonehome.ingest.pcapng import (
    EPB,
    IDB,
    IF_TSRESOL,
    OPT_COMMENT,
    OPT_ENDOFOPT,
    SHB,
    encode_block,
    encode_option,
)
from phonehome.model.frame import Frame, Packet
from phonehome.net.addr import ntop
from phonehome.net.community_id import community_id
from phonehome.privacy import open_private

if TYPE_CHECKING:
    from phonehome.decrypt.wpa import WifiKeys


class Wanted:
    """What to copy from one input: the flows (Community IDs) and per-frame comments."""

    def __init__(self) -> None:
        self.flows: set[str] = set()
        self.comments: dict[int, list[str]] = defaultdict(list)


def evidence(doc: dict[str, Any]) -> dict[int, Wanted]:
    """input index -> the flows and frames its findings' evidence names."""
    out: dict[int, Wanted] = defaultdict(Wanted)
    for f in doc.get("findings", []):
        note = f"phonehome: {f.get('identifier')} at {f.get('where')} ({f.get('detector')})"
        for ev in f.get("evidence", []):
            w = out[int(ev["input"])]
            w.flows.add(str(ev["community_id"]))
            comments = w.comments[int(ev["frame"])]
            if note not in comments:
                comments.append(note)
    return out


def export_pcap(
    doc: dict[str, Any],
    out: Path,
    inputs: list[Path] | None = None,
    wifi: WifiKeys | None = None,
) -> int:
    """Write the evidence frames of ``doc`` to ``out`` (pcapng, mode 0600).

    ``inputs`` overrides the capture paths recorded in the scan (in the same order), for
    when the files moved. ``wifi``: the scan's ``--wifi-key`` keys, to find the flows
    inside protected 802.11 frames (one state for all inputs, as the scan's); the WPA
    handshakes are copied too, so the recipient can decrypt the exported frames with the
    passphrase (which is not copied). Returns the number of packets written.
    """
    recorded = doc.get("inputs", [])
    paths = inputs or [Path(i["path"]) for i in recorded]
    if len(paths) != len(recorded):
        raise UsageError(
            f"the scan has {wording.count(len(recorded), 'input')}, {len(paths)} given"
        )
    wanted = evidence(doc)
    if not wanted:
        raise UsageError("the scan has no findings: nothing to export")
    for i in wanted:
        if recorded[i]["format"] not in ("pcap", "pcapng"):
            raise UsageError(
                f"{paths[i]}: a {recorded[i]['format']} input has no packets to export"
            )
        _check_hash(paths[i], recorded[i].get("sha256", ""))
    with open_private(out) as fh:
        writer = _PcapngWriter(fh)
        for i in sorted(wanted):
            for frame in _flow_frames(paths[i], i, wanted[i], wifi):
                writer.write(frame, wanted[i].comments.get(frame.number, []))
    return writer.packets


def _check_hash(path: Path, expected: str) -> None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise InputError(str(path), e.strerror or str(e)) from None
    if expected and h.hexdigest() != expected:
        raise InputError(str(path), "is not the file this scan read (SHA-256 differs)")


def _flow_frames(path: Path, index: int, wanted: Wanted, wifi: WifiKeys | None) -> Iterator[Frame]:
    """Frames of the wanted flows, matched by Community ID (direction-independent)."""
    from phonehome.decrypt.wpa import is_eapol_key
    from phonehome.net.link import Decoder

    ctx = Context()
    ctx.wifi = wifi
    decoder = Decoder(ctx)
    known: dict[tuple[bytes, int, bytes, int, int], bool] = {}
    cap = open_capture(str(path), index)
    try:
        for frame in cap.frames(ctx):
            pkt = decoder.decode(frame)
            if pkt is None:
                if decoder.eapol:  # link-layer evidence has no Community ID: by frame
                    key = wifi is not None and any(is_eapol_key(e[1]) for e in decoder.eapol)
                    decoder.eapol.clear()
                    if frame.number in wanted.comments or key:  # (EAPOL-Key: a handshake)
                        yield frame
                        continue
                if decoder.more:  # an 802.11 A-MSDU: wanted when one of its MSDUs is
                    pkts = list(decoder.more)
                    decoder.more.clear()
                    if any(_wanted(p, known, wanted) for p in pkts):
                        yield frame
                continue
            if _wanted(pkt, known, wanted):
                yield frame
    finally:
        cap.close()


def _wanted(
    pkt: Packet, known: dict[tuple[bytes, int, bytes, int, int], bool], wanted: Wanted
) -> bool:
    """Whether the packet's flow (by Community ID, remembered per 5-tuple) is wanted."""
    key = (pkt.src, pkt.sport, pkt.dst, pkt.dport, pkt.proto)
    hit = known.get(key)
    if hit is None:
        if len(known) > 1_000_000:  # bounded: a long capture has many flows
            known.clear()
        transport = "tcp" if pkt.proto == 6 else "udp"
        cid = community_id(transport, ntop(pkt.src), pkt.sport, ntop(pkt.dst), pkt.dport)
        hit = known[key] = cid in wanted.flows
    return hit


class _PcapngWriter:
    """Little-endian pcapng with one interface per link type, nanosecond timestamps."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.ifaces: dict[int, int] = {}
        self.packets = 0
        self._block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))

    def _block(self, kind: int, body: bytes) -> None:
        self.fh.write(encode_block(kind, body))

    def _iface(self, linktype: int) -> int:
        if linktype not in self.ifaces:
            opts = encode_option(IF_TSRESOL, bytes([9])) + encode_option(OPT_ENDOFOPT, b"")
            self._block(IDB, struct.pack("<HHI", linktype, 0, 0) + opts)
            self.ifaces[linktype] = len(self.ifaces)
        return self.ifaces[linktype]

    def write(self, frame: Frame, comments: list[str]) -> None:
        iface = self._iface(frame.linktype)
        ns = round(frame.ts * 1e9)
        data = bytes(frame.data)
        # One comment per packet, one line per finding: readers that keep only the first
        # comment (ours, many scripts) still see them all.
        opts = encode_option(OPT_COMMENT, "\n".join(comments).encode()) if comments else b""
        opts += encode_option(OPT_ENDOFOPT, b"")
        head = struct.pack(
            "<IIIII", iface, ns >> 32, ns & 0xFFFFFFFF, len(data), max(frame.wirelen, len(data))
        )
        self._block(EPB, head + data + b"\0" * (-len(data) % 4) + opts)
        self.packets += 1


def key_coverage(path: Path, keylogs: list[Path]) -> tuple[int, int]:
    """(connections the key logs decrypt, TLS and QUIC connections) of an exported file."""
    from phonehome.context import Context
    from phonehome.decrypt.keylog import load_files
    from phonehome.pipeline import iter_messages, open_all

    ctx = Context()
    ctx.keylog = load_files([str(p) for p in keylogs], ctx.anomalies)
    for _ in iter_messages(open_all([str(path)], hash_inputs=False), ctx):
        pass
    cov = ctx.coverage
    decrypted = cov.tls.get("decrypted", 0) + cov.quic.get("decrypted", 0)
    return decrypted, cov.connections("tls") + cov.connections("quic")
