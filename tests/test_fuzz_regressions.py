"""Every input the fuzzer ever crashed on (``fuzz/regressions/<target>/``) and every seed
of the corpus (``fuzz/corpus/<target>/``), replayed through the same targets without
atheris: each must end with nothing or the entry point's documented refusal.

A crash found by ``fuzz/run_all.py`` becomes a regression by copying the saved input to
``fuzz/regressions/<target>/<what it broke>``; the specific assertions below say what
the right answer to it is.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fuzz import targets

from phonehome.context import Context
from tests.needs import need_module

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
CASES = sorted(
    (kind, path.parent.name, path)
    for kind in ("regressions", "corpus")
    for path in (FUZZ / kind).glob("*/*")
    if path.is_file()
)


def test_every_target_has_seeds() -> None:
    assert {t for kind, t, _ in CASES if kind == "corpus"} >= set(targets.targets()) - {"mitm"}


@pytest.mark.parametrize(
    ("kind", "target", "path"), CASES, ids=[f"{k}/{t}/{p.name[:12]}" for k, t, p in CASES]
)
def test_replay(kind: str, target: str, path: Path) -> None:
    if target == "mitm":
        need_module("mitmproxy")
    targets.check(target, path.read_bytes())


def test_mitm_flow_state_with_a_leftover_key_is_a_bad_flow() -> None:
    # mitmproxy's Flow.set_state asserts that no unknown key is left: an AssertionError
    # escaped the reader as a traceback. The damaged flow is counted; the next is read.
    need_module("mitmproxy")
    from phonehome.ingest import mitm

    data = (FUZZ / "regressions" / "mitm" / "set-state-leftover-key").read_bytes()
    ctx = Context()
    msgs = list(mitm.read(io.BytesIO(data), 0, ctx, "x.mitm"))
    assert ctx.anomalies.counts == {"mitm.bad_flow": 1}
    assert [m.frame for m in msgs] == [2, 2]


def test_zip_with_a_version_needed_zipfile_refuses_is_read(tmp_path: Path) -> None:
    # zipfile raises NotImplementedError for a central directory entry whose "version
    # needed to extract" is above 6.3 (here 25.5); it escaped open_zip as a traceback,
    # then was refused with a reason; Android never reads the field, so now it is read.
    import zipfile

    from phonehome.static.apk import analyze_apk
    from phonehome.static.zipsafe import SafeZip, open_zip

    path = tmp_path / "v.apk"
    path.write_bytes((FUZZ / "regressions" / "zip" / "version-needed-25.5").read_bytes())
    with pytest.raises(NotImplementedError, match=r"25\.5"):
        zipfile.ZipFile(path)
    opened = open_zip(path)
    assert isinstance(opened, SafeZip) and "classes.dex" in opened.names()
    opened.close()
    report = analyze_apk(path).to_dict()
    assert not any("not a zip" in p or "does not support" in p for p in report["problems"])


@pytest.mark.parametrize(
    ("target", "protocol"),
    [
        ("sip_udp", "sip"),
        ("sip_tcp", "sip"),
        ("diameter", "diameter"),
        ("gtpv2", "gtpv2"),
        ("gtpv1", "gtpv1"),
        ("radius", "radius"),
        ("ike", "ike"),
        ("smtp", "smtp"),
    ],
)
def test_mobile_seeds_reach_their_parser(target: str, protocol: str) -> None:
    # a seed the session hands back as raw payload would fuzz the raw path, not the parser
    from phonehome.protocols.registry import protocol_of

    names = set()
    for path in sorted((FUZZ / "corpus" / target).iterdir()):
        for p in targets.mobile(target, path.read_bytes()):
            names.add(protocol_of(p.content).message_name(p.content, "udp"))
    assert names == {protocol}


def test_tunnel_seeds_reach_every_tunnel_kind(tmp_path: Path) -> None:
    # The tunnel target's seeds must be read as tunnelled traffic (the outer headers the
    # target adds are right), or the fuzzer would start outside the decapsulator.
    import json

    from phonehome.flowlist import to_json
    from phonehome.ingest import open_capture
    from phonehome.pipeline import iter_messages

    kinds: set[str] = set()
    for path in sorted((FUZZ / "corpus" / "tunnel").iterdir()):
        pcap = tmp_path / f"{path.name}.pcap"
        pcap.write_bytes(targets.tunnel_capture(path.read_bytes()))
        messages = iter_messages([open_capture(str(pcap))], Context())
        lines = [json.loads(to_json(m)) for m in messages]
        assert {d["protocol"] for d in lines} & {"http", "tls"}, path.name
        assert all(d.get("tunnel") for d in lines), path.name
        kinds.update(layer["type"] for d in lines for layer in d["tunnel"])
    assert kinds == {"gtpu", "vxlan", "geneve", "gre", "capwap", "mpls", "pppoe", "ipip", "4in6"}


def test_dex_whose_method_calls_itself_with_its_own_summary_is_analysed() -> None:
    # The data flow applied a callee's summary while iterating it; in a recursive call the
    # callee's summary is the one being written ("dictionary changed size during
    # iteration" escaped `phonehome apk`). Found by CI's fuzzing of the dex target.
    data = (FUZZ / "regressions" / "dex" / "recursive-summary-mutated").read_bytes()
    targets.check("dex", data)
