"""``phonehome export``: the evidence packets, and nothing else, in a pcapng."""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.context import Context
from phonehome.ingest import open_capture
from phonehome.net.addr import ntop
from phonehome.net.link import Decoder


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("export")
    cap = d / "nokia.pcap"
    simulate.run("nokia7plus", cap, seed=2)
    report = d / "scan.json"
    res = CliRunner().invoke(
        main,
        [
            "scan",
            str(cap),
            "--device",
            str(d / "nokia.device.toml"),
            "--format",
            "json",
            "-o",
            str(report),
            "--no-store",
        ],
    )
    assert res.exit_code == 1, res.output
    return cap, report


def block_types(path: Path) -> list[int]:
    data, off, out = path.read_bytes(), 0, []
    while off < len(data):
        kind, length = struct.unpack_from("<II", data, off)
        out.append(kind)
        off += length
    return out


def test_export_writes_only_the_finding_flows(scanned: tuple[Path, Path], tmp_path: Path) -> None:
    cap, report = scanned
    out = tmp_path / "evidence.pcapng"
    res = CliRunner().invoke(main, ["export", str(report), "--pcap", str(out)])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert 0x0000000A not in block_types(out)  # no key log block, ever
    ctx = Context()
    c = open_capture(str(out))
    decoder = Decoder(ctx)
    peers, comments, n = set(), [], 0
    for frame in c.frames(ctx):
        n += 1
        pkt = decoder.decode(frame)
        assert pkt is not None
        peers.add(ntop(pkt.dst) if pkt.dport == 80 else ntop(pkt.src))
        if frame.comment:
            comments.append(frame.comment)
    c.close()
    doc = json.loads(report.read_text())
    zzhc_ips = {ip for f in doc["findings"] for ip in f["ips"]}
    assert peers == zzhc_ips  # only the registration flows, in both directions
    assert n > len({e["frame"] for f in doc["findings"] for e in f["evidence"]})
    assert any("imei at http.body:$.IMEI1" in x for x in comments)
    # Comments name what a packet carries, never the value.
    values = [
        v
        for v in (cap.with_name("nokia.device.toml").read_text()).split('"')
        if v.isdigit() and len(v) >= 14
    ]
    assert values and not any(v in x for v in values for x in comments)


def test_export_refuses_a_capture_that_changed(scanned: tuple[Path, Path], tmp_path: Path) -> None:
    cap, report = scanned
    other = tmp_path / "other.pcap"
    other.write_bytes(cap.read_bytes()[:-10])
    res = CliRunner().invoke(
        main, ["export", str(report), "--pcap", str(tmp_path / "x.pcapng"), "--input", str(other)]
    )
    assert res.exit_code == 2
    assert "SHA-256 differs" in res.stderr
