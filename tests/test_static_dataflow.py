"""Data flow on DEX bytecode (static/dataflow.py, static/bytecode.py, static/flowrules.py).

The apps are real APKs assembled from smali by apktool (tests/apks/src, build.sh): one
receiver per rule in Flows.apk, the weather-app shape of issue 17 (BootWeather.apk) and
the self-registration shape (AutoReg.apk). Statement paths are checked against
``dexdump`` (Debian's disassembler) where it is installed, and the instruction decoder is
compared with it on every method of every test APK.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from phonehome.static import bytecode as bc
from phonehome.static.apk import analyze_apk
from phonehome.static.callgraph import CallGraph
from phonehome.static.dataflow import DataFlow, all_chains
from phonehome.static.dex import DexFile
from phonehome.static.manifest import parse_manifest
from phonehome.static.zipsafe import open_zip
from tests.needs import needs

APKS = Path(__file__).resolve().parent / "apks" / "built"
CASE = "receiver org.phonehome.test.flows."
NEED_DEXDUMP = needs(tools=["dexdump"])


@cache
def chains(apk: str) -> list[dict[str, Any]]:
    return [c.to_dict() for c in analyze_apk(APKS / apk).chains]


def flows(apk: str, entry: str) -> list[dict[str, Any]]:
    return [c for c in chains(apk) if c["entry"] == entry and c["evidence"] == "data-flow"]


@pytest.mark.parametrize(
    ("case", "identifier", "kind", "channel", "transforms", "through"),
    [
        ("Direct", "imei", "network", "http-url", [], "StringBuilder.append"),
        ("FieldCase", "iccid", "network", "socket", [], "Holder.iccid"),
        ("RunnableCase", "android_id", "network", "http-header", [], "Uploader.id"),
        ("JsonCase", "cell_id", "network", "http-body", ["json"], "Fill.fill"),
        ("HashedCase", "mac", "network", "http", ["hashed", "base64"], "MessageDigest.digest"),
        ("IntentCase", "imsi", "network", "http-url", [], "Intent.getStringExtra"),
        ("IntentCase", "imsi", "ipc", "intent", [], "Intent.putExtra"),
        ("Caught", "imsi", "network", "webview", [], "String.concat"),
        ("Overwritten", "imei", "local", "log", [], "Log.i"),
        ("AsyncCase", "imei", "network", "http-url", [], "String.format"),
        ("HandlerCase", "iccid", "local", "database", [], "ContentValues.put"),
        ("ExecutorCase", "imsi", "local", "preferences", [], "Bundle.getString"),
        ("ProviderCase", "msisdn", "ipc", "content-provider", [], "ContentValues.put"),
        ("LibraryCase", "cell_id", "network", "udp", ["hex"], "Packer.pack"),
        ("VolleyCase", "location", "network", "http", [], "StringRequest.<init>"),
        ("RetrofitCase", "imei", "network", "http", ["json"], "Api.register"),
        ("FileCase", "android_id", "local", "file", [], "PrintWriter.println"),
        ("SmsCase", "iccid", "network", "sms", [], "String.concat"),
        ("HelperCase", "imei", "network", "http-header", [], "Ids.imei"),
    ],
)
def test_each_rule_finds_its_flow(
    case: str, identifier: str, kind: str, channel: str, transforms: list[str], through: str
) -> None:
    found = [
        c
        for c in flows("Flows.apk", CASE + case)
        if c["sink_kind"] == kind and c["channel"] == channel
    ]
    assert len(found) == 1, chains("Flows.apk")
    chain = found[0]
    assert chain["identifier"] == identifier
    assert chain["transforms"] == transforms
    assert any(through in step["instruction"] for step in chain["path"]), chain["path"]
    assert through in chain["text"]


@pytest.mark.parametrize(
    ("case", "callback", "hops"),
    [
        # execute() -> the doInBackground(Object[]) bridge -> doInBackground(String[]):
        # methods are named without their signature, so both overloads are analysed.
        (
            "AsyncCase",
            "org.phonehome.test.flows.Fetcher.doInBackground",
            ["Fetcher.execute", "String.format", "URL.<init>", "URL.openConnection"],
        ),
        (
            "HandlerCase",
            "org.phonehome.test.flows.Saver.handleMessage",
            # msg.obj is a field: stored (iput) in the receiver, read (iget) in the handler
            ["Message.obj", "Message.obj", "ContentValues.put", "SQLiteDatabase.insert"],
        ),
        (
            "ExecutorCase",
            "org.phonehome.test.flows.Job.run",
            ["Map.put", "Job.values", "Map.get", "Bundle.putString", "Bundle.getString"],
        ),
    ],
)
def test_values_handed_to_a_framework_callback_are_followed_into_it(
    case: str, callback: str, hops: list[str]
) -> None:
    """The path starts in the receiver, ends in the callback, and keeps every statement
    the value passes (in order), also those of the callee analysed for a parameter."""
    (chain,) = flows("Flows.apk", CASE + case)
    path = chain["path"]
    assert path[0]["method"] == f"org.phonehome.test.flows.{case}.onReceive"
    assert path[-1]["method"] == callback
    refs = iter(p["instruction"].rpartition(", ")[2] for p in path)
    assert all(hop in refs for hop in hops), path  # each hop, in this order


def test_a_source_read_off_another_is_the_same_value() -> None:
    """``getCellLocation()`` then ``getCid()`` on it: one cell-id chain from the first
    read, not a second one starting at ``getCid``."""
    (chain,) = flows("Flows.apk", CASE + "LibraryCase")
    assert chain["source"] == "TelephonyManager.getCellLocation"
    steps = [p["instruction"] for p in chain["path"]]
    assert any(s.endswith("GsmCellLocation.getCid") for s in steps)


@pytest.mark.parametrize("case", ["NoFlow", "Overwritten"])
def test_no_flow_is_reachability_only(case: str) -> None:
    """The code reads the identifier and sends something, but not the value."""
    network = [c for c in flows("Flows.apk", CASE + case) if c["sink_kind"] == "network"]
    assert network == []
    context = [c for c in chains("Flows.apk") if c["entry"] == CASE + case]
    assert any(c["evidence"] == "reachability" for c in context)
    assert all("path" not in c for c in context if c["evidence"] == "reachability")


def test_weather_app_shape_has_no_imei_to_network_flow() -> None:
    """Issue 17's example: IMEI read in a boot receiver and logged, then a thread fetches a
    forecast. A reachability note at most; the log is the only place the value goes."""
    report = analyze_apk(APKS / "BootWeather.apk")
    found = [c.to_dict() for c in report.chains]
    network_flows = [
        c for c in found if c["evidence"] == "data-flow" and c["sink_kind"] == "network"
    ]
    assert network_flows == []
    (log,) = [c for c in found if c["evidence"] == "data-flow"]
    assert (log["identifier"], log["sink_kind"], log["channel"]) == ("imei", "local", "log")
    (context,) = [c for c in found if c["evidence"] == "reachability"]
    assert context["sink"] == "HttpURLConnection.getResponseCode"
    assert report.dataflow["complete"] is True


def test_self_registration_shape_has_a_flow_per_identifier() -> None:
    """IMEI, ICCID, IMSI, cell into a JSON object, Base64, written to the connection's
    output stream: one data-flow chain each, with the statement path."""
    found = [c for c in chains("AutoReg.apk") if c["evidence"] == "data-flow"]
    assert {c["identifier"] for c in found} == {"imei", "iccid", "imsi", "cell_id"}
    for chain in found:
        assert chain["entry"] == "USER_PRESENT receiver"
        assert (chain["sink_kind"], chain["channel"]) == ("network", "http-body")
        assert chain["transforms"] == ["json", "base64"]
        assert chain["sink"] == "OutputStream.write (HttpURLConnection.getOutputStream)"
        path = chain["path"]
        assert path[0]["method"] == "org.phonehome.test.autoreg.RegistrationTask.run"
        assert path[0]["instruction"].endswith(chain["source"])
        assert path[-1]["method"] == "org.phonehome.test.autoreg.RegistrationTask.post"
        assert path[-1]["instruction"].startswith("invoke-virtual")
        assert path[-1]["instruction"].endswith("OutputStream.write")
        steps = [p["instruction"].rpartition(", ")[2] for p in path]
        for hop in ("JSONObject.put", "Base64.encodeToString", "RegistrationTask.post"):
            assert hop in steps
    assert not [c for c in chains("AutoReg.apk") if c["evidence"] == "reachability"]


def _dexdump(apk: Path) -> dict[tuple[str, int, int], str]:
    """(method, overload, offset) -> instruction text, from ``dexdump -d``. Overloads of
    a name with code are numbered in the order dexdump prints them (the class data's)."""
    out = subprocess.run(
        ["dexdump", "-d", str(apk)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    table: dict[tuple[str, int, int], str] = {}
    seen: dict[str, int] = {}
    method, overload = "", 0
    for line in out.splitlines():
        head = re.search(r"\|\[[0-9a-f]+\] ([\w.$<>]+):\(", line)
        if head:
            method = head.group(1)
            overload = seen[method] = seen.get(method, -1) + 1
            continue
        m = re.search(r"\|([0-9a-f]{4}): (.*)$", line)
        if m and method:
            table[(method, overload, int(m.group(1), 16))] = m.group(2)
    return table


@NEED_DEXDUMP
@pytest.mark.parametrize("apk", ["AutoReg.apk", "Flows.apk"])
def test_statement_paths_agree_with_dexdump(apk: str) -> None:
    dump = _dexdump(APKS / apk)
    checked = 0
    for chain in chains(apk):
        for step in chain.get("path", []):
            # A step names its method without the signature: any overload may hold it.
            texts = [
                t for (m, _, o), t in dump.items() if (m, o) == (step["method"], step["offset"])
            ]
            mnemonic, _, rest = step["instruction"].partition(" ")
            ref = rest.rpartition(", ")[2]  # "Class.name" or "Class.field"
            cls, _, name = ref.rpartition(".")
            assert any(
                t.startswith(mnemonic) and (f"/{cls};.{name}:" in t or f" L{cls};.{name}:" in t)
                for t in texts
            ), (step, texts)
            checked += 1
    assert checked > 20


@NEED_DEXDUMP
@pytest.mark.parametrize(
    "apk",
    sorted(p.name for p in APKS.glob("*.apk") if "classes.dex" in zipfile.ZipFile(p).namelist()),
)
def test_decoder_agrees_with_dexdump_on_every_instruction(apk: str) -> None:
    """Every instruction's offset and opcode, and the registers of moves, invokes and
    field accesses, as dexdump prints them."""
    dump = _dexdump(APKS / apk)
    dex = DexFile(zipfile.ZipFile(APKS / apk).read("classes.dex"))
    seen = 0
    overloads: dict[str, int] = {}
    for cls in dex.classes():
        for midx, _access, code_off in cls.methods:
            owner, name = dex.method_ref(midx)
            method = f"{owner[1:-1].replace('/', '.')}.{name}"
            if not code_off:
                continue  # dexdump -d prints no code, so no number, for these
            overload = overloads[method] = overloads.get(method, -1) + 1
            item = bc.decode_code(dex.data, code_off)
            assert item is not None and not item.truncated
            for insn in item.insns:
                theirs = dump[(method, overload, insn.offset)]
                assert theirs.split(" ")[0] in (bc.mnemonic(insn.op), _name_of(theirs)), theirs
                if insn.kind == bc.K_INVOKE:
                    regs = re.search(r"\{([^}]*)\}", theirs)
                    assert regs is not None
                    shown = _regs(regs.group(1))
                    assert list(insn.regs) == shown, (theirs, insn)
                elif insn.kind in (bc.K_MOVE, bc.K_MOVE_RESULT, bc.K_IGET, bc.K_IPUT):
                    shown = [int(r) for r in re.findall(r"\bv(\d+)", theirs)]
                    assert list(insn.regs) == shown, (theirs, insn)
                seen += 1
    assert seen == len([k for k, v in dump.items() if "-data" not in v.split(" ")[0]])


def _name_of(text: str) -> str:
    return text.split(" ")[0]


def _regs(text: str) -> list[int]:
    if ".." in text:
        a, b = (int(x.strip()[1:]) for x in text.split(".."))
        return list(range(a, b + 1))
    return [int(x.strip()[1:]) for x in text.split(",") if x.strip()]


def _graph(apk: str) -> tuple[CallGraph, Any]:
    with open_zip(APKS / apk) as archive:  # type: ignore[union-attr]
        dex = DexFile(archive.read("classes.dex") or b"")
        manifest = parse_manifest(archive.read("AndroidManifest.xml") or b"")
    graph = CallGraph()
    graph.add_dex(dex)
    graph.resolve()
    return graph, manifest


@pytest.mark.parametrize(
    ("budget", "reason"),
    [
        ({"max_analyses": 2}, "analysis budget of 2 method analyses spent"),
        ({"max_total_visits": 10}, "budget of 10 instruction visits spent"),
        ({"max_seconds": 0.0}, "CPU time budget of 0 s spent"),
        ({"max_method_visits": 3}, "over the per-method budget of 3 instruction visits"),
    ],
)
def test_budgets_stop_the_analysis_and_say_so(budget: dict[str, Any], reason: str) -> None:
    graph, manifest = _graph("Flows.apk")
    df = DataFlow(graph, **budget)
    df.run()
    assert df.complete is False
    assert df.reason is not None and reason in df.reason
    full = DataFlow(_graph("Flows.apk")[0])
    full.run()
    assert full.complete is True and full.reason is None
    assert len(df.flows) < len(full.flows)
    all_chains(graph, manifest, df)  # what was found until then still makes chains


def test_truncation_is_reported_in_the_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from phonehome.static import dataflow

    monkeypatch.setattr(dataflow, "MAX_ANALYSES", 1)
    report = analyze_apk(APKS / "Flows.apk").to_dict()
    assert report["dataflow"]["complete"] is False
    assert "analysis budget" in report["dataflow"]["reason"]
    assert report["schema"] == "phonehome.apk/2"


def test_damaged_code_never_raises() -> None:
    """Random bytes in the code of every method: the analysis ends, whatever it finds."""
    import random

    with open_zip(APKS / "Flows.apk") as archive:  # type: ignore[union-attr]
        original = archive.read("classes.dex") or b""
    dex = DexFile(original)
    offsets = [off for c in dex.classes() for _m, _a, off in c.methods if off]
    rng = random.Random(17)
    for _ in range(40):
        data = bytearray(original)
        for off in rng.sample(offsets, 5):
            for k in range(16, 40):
                if rng.random() < 0.3 and off + k < len(data):
                    data[off + k] = rng.randrange(256)
        graph = CallGraph()
        graph.add_dex(DexFile(bytes(data)))
        graph.resolve()
        df = DataFlow(graph)
        df.run()
        assert isinstance(df.flows, list)


def test_same_apk_same_paths_whatever_the_hash_seed() -> None:
    """A regulator's evidence must not change between runs: label sets iterate in
    creation order, not in the order of randomised string hashes."""
    code = (
        "import json, sys; from pathlib import Path; from phonehome.static.apk import "
        "analyze_apk; print(json.dumps([c.to_dict() for c in analyze_apk(Path(sys.argv[1]))"
        ".chains]))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code, str(APKS / "Flows.apk")],
            capture_output=True, text=True, check=True, timeout=300,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert len(outs) == 1
