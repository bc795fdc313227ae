"""Wireshark's reading of a capture, for the tests that cross-check phonehome against it.

The one place tests run tshark, so that every cross-check asks it the same way and needs
it the same way (:func:`tests.needs.need_tool`: a skip on a developer's machine without
it, a failure under ``CI=true``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.needs import need_tool

TIMEOUT = 300


def run(path: Path, *args: str) -> str:
    """``tshark -r PATH ARGS...``, its standard output as text."""
    tshark = need_tool("tshark")
    return subprocess.run(
        [tshark, "-r", str(path), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT,
    ).stdout


def fields(
    path: Path,
    *names: str,
    display_filter: str | None = None,
    two_pass: bool = False,
    prefs: Mapping[str, str] | None = None,
    decode_as: Mapping[str, str] | None = None,
    aggregator: str = ",",
) -> list[list[str]]:
    """One row per (filtered) frame: the values of ``names``, several occurrences of a
    field joined by ``aggregator``. ``two_pass`` (``-2``) lets reassembled messages be
    reported in the frame that completes them, as Wireshark shows them; ``prefs`` are
    ``-o`` preferences, ``decode_as`` ``-d`` rules (``{"udp.port==443": "quic"}``)."""
    args = ["-T", "fields", "-E", "separator=\t", "-E", f"aggregator={aggregator}"]
    if two_pass:
        args.append("-2")
    for key, value in (prefs or {}).items():
        args += ["-o", f"{key}:{value}"]
    for selector, protocol in (decode_as or {}).items():
        args += ["-d", f"{selector},{protocol}"]
    if display_filter is not None:
        args += ["-Y", display_filter]
    for name in names:
        args += ["-e", name]
    return [line.split("\t") for line in run(path, *args).splitlines()]


def follow_tcp(path: Path) -> dict[tuple[str, str], bytes]:
    """(sender, receiver) ``ip:port`` -> the bytes tshark's "Follow TCP stream"
    reassembles for that direction, for every TCP stream of the capture."""
    streams = {int(s) for (col,) in fields(path, "tcp.stream") for s in col.split(",") if s}
    out: dict[tuple[str, str], bytes] = {}
    for stream in sorted(streams):
        text = run(path, "-q", "-z", f"follow,tcp,raw,{stream}")
        nodes = re.findall(r"^Node [01]: (\S+)$", text, re.M)
        a, b = nodes[0], nodes[1]
        if a.startswith(":"):  # a stream seen only inside ICMP errors
            continue
        out.setdefault((a, b), b"")
        out.setdefault((b, a), b"")
        for line in text.splitlines():
            if re.fullmatch(r"[0-9a-f]+", line):
                out[(a, b)] += bytes.fromhex(line)
            elif re.fullmatch(r"\t[0-9a-f]+", line):
                out[(b, a)] += bytes.fromhex(line[1:])
    return out
