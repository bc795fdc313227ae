"""Capture file writers for simulated traffic: classic pcap (default) and pcapng.

Timestamps are integer microseconds so that a seed always yields the same bytes (float
arithmetic on epoch seconds would not round the same way everywhere). Files are created
private (0600) because the tool's house rule is that everything it writes may hold
personal data, and a simulated profile is shaped exactly like a real one.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType

from phonehome.ingest.pcapng import (
    DSB,
    IDB,
    IF_TSRESOL,
    OPT_ENDOFOPT,
    SHB,
    TLS_KEY_LOG,
    encode_block,
    encode_option,
)
from phonehome.privacy import open_private

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
_BUFFER = 8 * 1024 * 1024


class PcapWriter:
    """Writes Ethernet frames to a classic pcap (µs) or pcapng file.

    ``write`` returns the 1-based frame number, which is what the ground truth cites and
    what Wireshark shows as ``frame.number``.
    """

    def __init__(self, path: Path, *, pcapng: bool = False) -> None:
        self.path = path
        self.pcapng = pcapng
        self.frames = 0
        self.bytes = 0
        self._f = open_private(path, buffering=_BUFFER)
        if pcapng:
            self._write_pcapng_header()
        else:
            # magic, version 2.4, thiszone, sigfigs, snaplen, linktype
            self._f.write(
                struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
            )

    def _write_pcapng_header(self) -> None:
        self._f.write(encode_block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        # if_tsresol = 6 -> microseconds, the pcapng default, stated explicitly
        opts = encode_option(IF_TSRESOL, bytes([6])) + encode_option(OPT_ENDOFOPT, b"")
        self._f.write(encode_block(IDB, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN) + opts))

    def write(self, ts_us: int, frame: bytes) -> int:
        n = len(frame)
        if self.pcapng:
            pad = -n % 4
            total = 32 + n + pad
            self._f.write(
                struct.pack("<IIIIIII", 6, total, 0, ts_us >> 32, ts_us & 0xFFFFFFFF, n, n)
                + frame
                + b"\0" * pad
                + struct.pack("<I", total)
            )
        else:
            sec, usec = divmod(ts_us, 1_000_000)
            self._f.write(struct.pack("<IIII", sec, usec, n, n))
            self._f.write(frame)
        self.frames += 1
        self.bytes += n
        return self.frames

    def emit(self, ts_us: int, frame: bytes) -> int:
        """:class:`~phonehome.simulate.packets.FrameSink` interface: stream frames as built."""
        return self.write(ts_us, frame)

    def secrets(self, keylog: bytes) -> None:
        """pcapng only: a Decryption Secrets Block with these TLS key log lines, before the
        packets written next (as PCAPdroid and editcap place them)."""
        if self.pcapng:
            body = struct.pack("<II", TLS_KEY_LOG, len(keylog)) + keylog
            self._f.write(encode_block(DSB, body))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
