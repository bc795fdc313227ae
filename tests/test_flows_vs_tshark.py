"""``phonehome flows --format jsonl`` against tshark on the same simulated captures.

Every scenario and mix the simulator has (``nokia7plus``, ``encodings``, ``bench --mix
phone`` and ``--mix stress``), each as pcap and pcapng, is dissected twice: by phonehome's
own readers, reassembly and parsers, and by Wireshark's (``tshark -2``). The two must
report the same multisets of

- HTTP requests: (frame, method, request URI, Host),
- DNS names: (frame, query or response, name) for every question of every DNS message,
- TLS ClientHello SNIs over TCP: (frame, SNI),
- QUIC Initial SNIs: (frame, SNI) — tshark 4.0 decrypts client Initials itself (RFC 9001
  section 5.2 keys from the Destination Connection ID), so this is an independent check
  of phonehome's QUIC decryption and CRYPTO-frame reassembly too.

Frames are compared, not just values: a message attributed to the wrong packet is a wrong
dissection. The one difference by design is which frame names a message that spans TCP
segments: phonehome's ``frame`` is the frame where the message starts (docs: "the capture
frame where the message starts"), tshark reports it in the frame that completes the
reassembly; the first of tshark's ``tcp.segment`` list for that PDU is the frame phonehome
reports, so that is what is compared. Nothing else is excused.

tshark is told to read UDP port 443 as QUIC (``-d udp.port==443,quic``): it finds QUIC only
heuristically, so a client port that happens to be another protocol's registered port
wins over it — in a 50 MB ``stress`` capture the Initial from UDP port 44818 (EtherNet/IP's)
is dissected as ENIP and its SNI missed, while phonehome, which recognises protocols by
content on any port, reports it. Every other protocol here is on its registered port.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from tests import tshark

SEP = "\x1f"
"""tshark's separator for several occurrences of a field in one frame: a character no
URI, host or DNS name in these captures contains (a comma can be in a URI)."""

SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "nokia7plus": ("nokia7plus", {}),
    "encodings": ("encodings", {}),
    "bench-phone": ("bench", {"size_mb": 2, "mix": "phone"}),
    "bench-stress": ("bench", {"size_mb": 2, "mix": "stress"}),
}
CAPTURES = [(shape, fmt) for shape in SHAPES for fmt in ("pcap", "pcapng")]

Key = tuple[object, ...]
Kinds = dict[str, Counter[Key]]
KINDS = ("http", "dns", "tls", "quic")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flows-vs-tshark")


def capture(folder: Path, shape: str, fmt: str) -> Path:
    scenario, kw = SHAPES[shape]
    path = folder / f"{shape}.{fmt}"
    simulate.run(scenario, path, seed=11, pcapng=fmt == "pcapng", **kw)
    return path


def phonehome_view(path: Path) -> Kinds:
    res = CliRunner().invoke(main, ["flows", "--format", "jsonl", str(path)])
    assert res.exit_code == 0, res.output
    out: Kinds = {k: Counter() for k in KINDS}
    for line in res.stdout.splitlines():
        m = json.loads(line)
        frame = m["frame"]
        if m["protocol"] == "http" and m.get("method") is not None:
            out["http"][(frame, m["method"], m["uri"], m.get("http_host") or "")] += 1
        elif m["protocol"] == "dns":
            for name in m["qnames"]:
                out["dns"][(frame, bool(m["response"]), name)] += 1
        elif m["protocol"] in ("tls", "quic") and m.get("sni"):
            out[m["protocol"]][(frame, m["sni"])] += 1
    return out


FIELDS = (
    "frame.number",
    "tcp.segment",
    "http.request.method",
    "http.request.uri",
    "http.host",
    "dns.flags.response",
    "dns.qry.name",
    "tls.handshake.extensions_server_name",
    "quic.long.packet_type",
)


def tshark_view(path: Path) -> Kinds:
    out: Kinds = {k: Counter() for k in KINDS}
    rows = tshark.fields(
        path, *FIELDS, two_pass=True, decode_as={"udp.port==443": "quic"}, aggregator=SEP
    )
    for row in rows:
        f = dict(zip(FIELDS, row, strict=True))
        frame = int(f["frame.number"])
        # A PDU reassembled from several TCP segments: phonehome names its first segment.
        segments = [int(s) for s in f["tcp.segment"].split(SEP) if s]
        start = min(segments, default=frame)
        if f["http.request.method"]:
            methods = f["http.request.method"].split(SEP)
            uris = f["http.request.uri"].split(SEP)
            hosts = f["http.host"].split(SEP) if f["http.host"] else [""] * len(methods)
            for method, uri, host in zip(methods, uris, hosts, strict=True):
                out["http"][(start, method, uri, host)] += 1
        if f["dns.qry.name"]:
            responses = f["dns.flags.response"].split(SEP)
            names = f["dns.qry.name"].split(SEP)
            assert len(responses) == 1, "one DNS message per frame in these captures"
            for name in names:
                out["dns"][(frame, responses[0] in ("1", "True"), name)] += 1
        if f["tls.handshake.extensions_server_name"]:
            kind = "quic" if f["quic.long.packet_type"] else "tls"
            for sni in f["tls.handshake.extensions_server_name"].split(SEP):
                out[kind][(start if kind == "tls" else frame, sni)] += 1
    return out


@pytest.mark.parametrize(("shape", "fmt"), CAPTURES, ids=[f"{s}.{f}" for s, f in CAPTURES])
def test_flows_reports_what_tshark_reports(folder: Path, shape: str, fmt: str) -> None:
    path = capture(folder, shape, fmt)
    ours, theirs = phonehome_view(path), tshark_view(path)
    for kind in KINDS:
        only_ours, only_theirs = ours[kind] - theirs[kind], theirs[kind] - ours[kind]
        assert not only_ours and not only_theirs, (
            f"{kind}: phonehome only {sorted(only_ours.elements())[:5]}, "
            f"tshark only {sorted(only_theirs.elements())[:5]}"
        )
    # The comparison is not vacuous: each capture has the messages its scenario makes.
    expected = {
        "nokia7plus": {"http", "dns", "tls", "quic"},
        "encodings": {"http", "dns"},
        "bench-phone": {"http", "dns", "tls", "quic"},
        "bench-stress": {"http", "dns", "tls", "quic"},
    }[shape]
    assert {k for k in KINDS if ours[k]} == expected
