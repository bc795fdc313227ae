"""Static analysis reports (text, json, html, sarif) and their store records, on the
project's own test APKs and firmware trees: ranking, escaping, offline pages, SARIF that
validates, rules per app and change, and the store round trip through the CLI."""

from __future__ import annotations

import copy
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from phonehome.cli import Group
from phonehome.cli.static import apk, firmware_diff
from phonehome.cli.store import history_command, show_command
from phonehome.report import STATIC_FORMATS as FORMATS
from phonehome.report import static_document as report_doc
from phonehome.store import Store
from tests.test_report_html import Page

Doc = dict[str, Any]
HERE = Path(__file__).resolve().parent
BUILT = HERE / "apks" / "built"
OLD, NEW = HERE / "apks" / "firmware" / "old", HERE / "apks" / "firmware" / "new"
SARIF_SCHEMA = HERE / "data" / "sarif-2.1.0.json"
AUTOREG = "org.phonehome.test.autoreg"
OTHERS = ("org.phonehome.test.weather", "org.phonehome.test.imeilog", "org.phonehome.test.oatonly")
APKS = sorted(str(p) for p in BUILT.glob("*.apk"))
DIFF = [str(OLD), str(NEW), "-j", "1", "--no-cache"]

cli = Group(
    commands={
        "apk": apk,
        "firmware-diff": firmware_diff,
        "history": history_command,
        "show": show_command,
    }
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Doc]]:
    """The apk document of all test APKs and the diff of the two trees, made once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHONEHOME_HOME", str(tmp_path_factory.mktemp("home")))
        a = run("apk", *APKS, "--format", "json", "--no-store")
        d = run("firmware-diff", *DIFF, "--format", "json", "--no-store")
    assert a.exit_code == 1 and d.exit_code == 1, a.output + d.output
    yield {"apk": json.loads(a.stdout), "firmware-diff": json.loads(d.stdout)}


@pytest.fixture(scope="module")
def sarif_schema() -> Any:
    return json.loads(SARIF_SCHEMA.read_text())


def html(doc: Doc) -> str:
    return FORMATS["html"](doc)


def sarif(doc: Doc) -> Doc:
    log: Doc = json.loads(FORMATS["sarif"](doc))
    return log


# --- every format, from the command line ----------------------------------------------


@pytest.mark.parametrize("command", [apk, firmware_diff])
def test_format_choices_are_the_registry(command: Any) -> None:
    (option,) = [p for p in command.params if p.name == "fmt"]
    assert list(option.type.choices) == list(FORMATS) == ["text", "json", "html", "sarif"]


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("command", ["apk", "firmware-diff"])
def test_each_format_ranks_the_autoreg_app_first(tmp_path: Path, command: str, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    args = APKS if command == "apk" else DIFF
    res = run(command, *args, "--format", fmt, "-o", str(out), "--no-store")
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    first_other = min(text.index(p) for p in OTHERS if p in text)
    assert text.index(AUTOREG) < first_other


# --- html ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["apk", "firmware-diff"])
def test_html_is_offline_well_nested_and_has_a_csp(docs: dict[str, Doc], kind: str) -> None:
    page = Page(html(docs[kind]))
    assert page.errors == [] and page.stack == []
    (csp,) = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert "default-src 'none'" in (csp["content"] or "")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "a"), tag
        for name, value in attrs.items():
            assert name not in ("src", "href", "srcset", "action", "style"), (tag, name)
            assert "://" not in (value or ""), (tag, name, value)
    assert "http://zzhc.vnet.cn/" in page.all_text  # shown as text, never as a link


def _verdict_scores(text: str) -> list[int]:
    start = text.index('<ul class="verdict">')
    block = text[start : text.index("</ul>", start)]
    return [int(s) for s in Page(block).text if s.strip().isdigit()]


@pytest.mark.parametrize("kind", ["apk", "firmware-diff"])
def test_html_verdict_lines_are_ranked_by_risk(docs: dict[str, Doc], kind: str) -> None:
    d = copy.deepcopy(docs[kind])
    key = "apks" if kind == "apk" else "changes"
    d[key].reverse()  # a hand-made or old document need not be ranked already
    text = html(d)
    scores = _verdict_scores(text)
    assert scores == sorted((e["risk"]["score"] for e in d[key]), reverse=True)
    assert scores[0] == 18
    verdict = text[text.index('<ul class="verdict">') :]
    assert verdict.index(AUTOREG) < verdict.index("</li>")
    assert verdict.index("RISKY") < verdict.index("</li>")


def test_html_app_card_shows_everything_the_analysis_found(docs: dict[str, Doc]) -> None:
    page = Page(html(docs["apk"]))
    text = page.all_text
    autoreg = next(a for a in docs["apk"]["apks"] if a["package"] == AUTOREG)
    for expected in [
        "8.0 (8)",
        "system app (shared uid android.uid.system)",
        "CN=phonehome TEST ONLY platform key",
        autoreg["signing"]["signer"][0],
        "android.permission.READ_PRIVILEGED_PHONE_STATE",
        "USER_PRESENT",
        "TelephonyManager.getSimSerialNumber",
        autoreg["chains"][0]["text"],
        "CLEAR TEXT",
        "identifier flows to the network in code (data flow) +4",
        "PH-STATIC-IDENTIFIER-TO-NETWORK",
        "code not analysable",  # OatOnly's problem
        "lib/arm64-v8a/libsimreport.so",
    ]:
        assert expected in text, expected
    cards = [a for t, a in page.tags if t == "article"]
    assert [c["id"] for c in cards] == [f"app-{i}" for i in range(len(docs["apk"]["apks"]))]
    assert "clear" in (cards[0]["class"] or "").split()  # the risky card is marked


def test_html_diff_has_added_changed_removed_sections(docs: dict[str, Doc]) -> None:
    text = html(docs["firmware-diff"])
    page = Page(text)
    sections = [a.get("id") for t, a in page.tags if t == "section"]
    assert sections == ["verdict", "added", "changed", "removed", "methodology"]
    cards = {a["id"]: a for t, a in page.tags if t == "article"}
    assert set(cards) == {"added-0", "changed-0", "removed-0"}
    for anchor, package in [
        ("added-0", AUTOREG),
        ("changed-0", "org.phonehome.test.weather"),
        ("removed-0", "org.phonehome.test.imeilog"),
    ]:
        start = text.index(f'id="{anchor}"')
        assert package in text[start : text.index("</article>", start)]
    changed = text[text.index('id="changed-0"') :]
    assert "CN=phonehome TEST ONLY platform key" in changed  # OLD signer
    assert "CN=phonehome TEST ONLY vendor key" in changed  # NEW signer
    assert "tests/apks/firmware/old" in Page(text).all_text


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</style><script>alert(1)</script>",
    "</title><svg onload=alert(1)>",
]


def _plant(doc: Doc, place: str, payload: str) -> Doc:
    d = copy.deepcopy(doc)
    app = d["apks"][0] if "apks" in d else d["changes"][0]["new"]
    if place == "package":
        app["package"] = payload
        d.get("changes", [{}])[0]["package"] = payload
    elif place == "endpoint":
        app["endpoints"][0]["value"] = payload
    elif place == "signer":
        if "signing" in app:
            app["signing"]["subjects"] = [payload]
        else:
            app["signer_subjects"] = [payload]
    elif place == "chain":
        app["chains"][0]["text"] = payload
    elif place == "problem":
        app["problems"] = [payload]
    elif place == "path":
        app["path"] = payload
    elif place == "tracker":
        app["trackers"] = [{"name": payload, "categories": [payload]}]
    elif place == "verdict":
        (d["apks"][0] if "apks" in d else d["changes"][0])["verdict"] = payload
    return d


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize(
    "place", ["package", "endpoint", "signer", "chain", "problem", "path", "tracker", "verdict"]
)
@pytest.mark.parametrize("kind", ["apk", "firmware-diff"])
def test_html_escapes_strings_from_the_apks(
    docs: dict[str, Doc], kind: str, place: str, payload: str
) -> None:
    page = Page(html(_plant(docs[kind], place, payload)))
    assert payload in page.all_text
    assert not page.find("script") and not page.find("img")
    assert len(page.find("style")) == 1
    for _, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")]
    assert page.errors == []


MANGLES: list[Callable[[Doc], object]] = [
    lambda d: d.pop("apks", None) or d.pop("changes", None),
    lambda d: d.update(apks=[{}], changes=[{}]),
    lambda d: d.update(apks=["x", 3, None], changes=["x", 3, None]),
    lambda d: d.update(old="x", new=None, errors="x", tool=[]),
    lambda d: [
        x.update(risk="high", chains={}, endpoints=[None], signing=7, path=None)
        for x in d.get("apks", [])
    ],
    lambda d: [
        x.update(changes={"signer": None, "version": 1}, new=[], old={"chains": [1]})
        for x in d.get("changes", [])
    ],
]


@pytest.mark.parametrize("fmt", ["text", "html", "sarif"])
@pytest.mark.parametrize("mangle", MANGLES)
@pytest.mark.parametrize("kind", ["apk", "firmware-diff"])
def test_odd_or_old_documents_still_render(
    docs: dict[str, Doc], kind: str, mangle: Callable[[Doc], object], fmt: str, sarif_schema: Any
) -> None:
    """Whatever is readable is shown, in a well-formed report: a page that parses and nests
    with one card per app (per change with a status, for a diff), a SARIF log that
    validates, a text report naming every app it was given."""
    d = copy.deepcopy(docs[kind])
    mangle(d)
    text = FORMATS[fmt](d)
    entries = d.get("apks" if kind == "apk" else "changes")
    entries = entries if isinstance(entries, list) else []
    if fmt == "html":
        page = Page(text)
        assert page.errors == [] and page.stack == []
        cards = [a for t, a in page.tags if t == "article"]
        if kind == "apk":
            assert [c["id"] for c in cards] == [f"app-{i}" for i in range(len(entries))]
        else:
            statuses = ("added", "changed", "removed")
            shown = [e for e in entries if isinstance(e, dict) and e.get("status") in statuses]
            assert len(cards) == len(shown)
    elif fmt == "sarif":
        check_sarif(sarif(d), sarif_schema)
    else:
        packages = [e["package"] for e in entries if isinstance(e, dict) and "package" in e]
        assert all(str(p) in text for p in packages)


# --- sarif -----------------------------------------------------------------------------


def check_sarif(log: Doc, sarif_schema: Any) -> Doc:
    """Valid SARIF 2.1.0 whose results point at their rule and their own artifact."""
    jsonschema.validate(log, sarif_schema)
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        where = result["locations"][0]["physicalLocation"]["artifactLocation"]
        artifact = run_["artifacts"][where["index"]]["location"]
        assert (artifact["uri"], artifact.get("uriBaseId")) == (
            where["uri"],
            where.get("uriBaseId"),
        )
    return run_


@pytest.mark.parametrize("kind", ["apk", "firmware-diff"])
@pytest.mark.parametrize(
    "variant", ["as made", "stored", "nothing found", "with errors", "same app twice"]
)
def test_sarif_validates_against_the_2_1_0_schema(
    docs: dict[str, Doc], sarif_schema: Any, kind: str, variant: str
) -> None:
    d = copy.deepcopy(docs[kind])
    if variant == "stored":  # one app as the store keeps it; a diff of relative paths
        d = d["apks"][-1] if kind == "apk" else {**d, "old": {**d["old"], "path": "rel/old"}}
    elif variant == "nothing found":
        d.update(apks=[], changes=[])
    elif variant == "with errors":
        error = {"path": "x/Bad.apk", "error": "not an APK: not a zip archive"}
        d.update(errors=[error])
        if kind == "firmware-diff":
            d["new"] = {**d["new"], "errors": [error], "problems": ["sparse image"]}
    elif variant == "same app twice":  # `apk X.apk X.apk`: SARIF artifacts must be unique
        key = "apks" if kind == "apk" else "changes"
        d[key] = d[key] * 2
    log = sarif(d)
    run_ = check_sarif(log, sarif_schema)
    if variant == "same app twice":
        assert len(run_["artifacts"]) * 2 == len(run_["results"])
    if variant == "with errors":
        notes = run_["invocations"][0]["toolExecutionNotifications"]
        assert any("x/Bad.apk: not an APK" in n["message"]["text"] for n in notes)


def test_sarif_autoreg_is_the_top_result_with_its_code_paths(docs: dict[str, Doc]) -> None:
    (run_,) = sarif(docs["apk"])["runs"]
    top = run_["results"][0]
    assert top["ruleId"] == "PH-STATIC-IDENTIFIER-TO-NETWORK" and top["level"] == "error"
    assert top["properties"]["package"] == AUTOREG
    assert top["properties"]["rules"] == [
        "PH-STATIC-IDENTIFIER-TO-NETWORK",
        "PH-STATIC-CLEARTEXT-ENDPOINT",
    ]
    assert top["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "AutoReg.apk"
    )
    autoreg = next(a for a in docs["apk"]["apks"] if a["package"] == AUTOREG)
    assert run_["artifacts"][0]["hashes"]["sha-256"] == autoreg["sha256"]
    flows = top["codeFlows"]
    assert len(flows) == len(autoreg["chains"]) == 4  # all four are data flows
    locations = flows[0]["threadFlows"][0]["locations"]
    steps = [s["location"]["logicalLocations"][0]["fullyQualifiedName"] for s in locations]
    chain = autoreg["chains"][0]
    assert steps == [
        chain["entry"],
        *chain["to_source"],
        chain["source"],
        *(p["method"] for p in chain["path"][1:]),
        chain["sink"],
    ]
    messages = [s["location"]["message"]["text"] for s in locations]
    assert messages[len(chain["to_source"]) + 2].startswith(f"@{chain['path'][1]['offset']}: ")
    # Benign apps raise nothing (BootWeather and ImeiLog send the IMEI only to the log);
    # the Flows app sends identifiers; the OatOnly system app names a cleartext endpoint;
    # Weather signed with v1 alone for target API 30 would be refused by Android.
    found = [(r["properties"]["package"], r["ruleId"]) for r in run_["results"]]
    assert found == [
        (AUTOREG, "PH-STATIC-IDENTIFIER-TO-NETWORK"),
        ("org.phonehome.test.flows", "PH-STATIC-IDENTIFIER-TO-NETWORK"),
        ("org.phonehome.test.oatonly", "PH-STATIC-CLEARTEXT-ENDPOINT"),
        ("org.phonehome.test.weather", "PH-STATIC-SIGNATURE-INVALID"),
    ]


def test_sarif_diff_results_per_change(docs: dict[str, Doc]) -> None:
    (run_,) = sarif(docs["firmware-diff"])["runs"]
    got = [
        (r["properties"]["package"], r["ruleId"], r["level"], r["properties"]["rules"])
        for r in run_["results"]
    ]
    assert got == [
        (
            AUTOREG,
            "PH-STATIC-IDENTIFIER-TO-NETWORK",
            "error",
            [
                "PH-STATIC-IDENTIFIER-TO-NETWORK",
                "PH-STATIC-NEW-SYSTEM-APP",
                "PH-STATIC-CLEARTEXT-ENDPOINT",
            ],
        ),
        (
            "org.phonehome.test.weather",
            "PH-STATIC-SIGNER-CHANGED",
            "warning",
            ["PH-STATIC-SIGNER-CHANGED"],
        ),
    ]  # the removed ImeiLog is listed in the diff, never a result
    location = run_["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "system/priv-app/AutoReg/AutoReg.apk"
    assert location["uriBaseId"] == "NEW" and "NEW" in run_["originalUriBaseIds"]


def test_sarif_fingerprint_follows_rule_and_package_not_version(docs: dict[str, Doc]) -> None:
    (a,) = sarif(docs["apk"])["runs"]
    (d,) = sarif(docs["firmware-diff"])["runs"]
    prints = {
        (r["properties"]["package"], r["ruleId"]): r["partialFingerprints"]["package/v1"]
        for r in [*a["results"], *d["results"]]
    }
    assert len(set(prints.values())) == len(prints)
    bumped = copy.deepcopy(docs["apk"])
    bumped["apks"][0]["version_name"] = "9.0"
    (b,) = sarif(bumped)["runs"]
    assert b["results"][0]["partialFingerprints"] == a["results"][0]["partialFingerprints"]


APP: Doc = {
    "package": "p",
    "chains": [],
    "endpoints": [],
    "shared_user_id": None,
    "reads_identifiers": [],
}
CHAIN = {"identifier": "imei", "text": "x", "evidence": "data-flow", "sink_kind": "network"}
REACH = {"identifier": "imei", "text": "x", "evidence": "reachability"}
PLAIN = {"value": "http://h/", "cleartext": True}
TLS = {"value": "https://h/", "cleartext": False}
RISKY = {"score": 9, "risky": True, "reasons": []}
CALM = {"score": 0, "risky": False, "reasons": []}


@pytest.mark.parametrize(
    ("entry", "rules"),
    [
        ({**APP, "chains": [CHAIN], "risk": RISKY}, ["IDENTIFIER-TO-NETWORK"]),
        # reachability only, or a flow to the log: context, not the network rule
        ({**APP, "chains": [REACH], "risk": RISKY}, ["RISKY-APP"]),
        ({**APP, "chains": [{**CHAIN, "sink_kind": "local"}], "risk": RISKY}, ["RISKY-APP"]),
        ({**APP, "endpoints": [PLAIN, TLS], "risk": CALM}, ["CLEARTEXT-ENDPOINT"]),
        ({**APP, "endpoints": [TLS], "risk": CALM}, []),
        ({**APP, "risk": RISKY}, ["RISKY-APP"]),
        (
            {**APP, "chains": [CHAIN], "endpoints": [PLAIN], "risk": RISKY},
            ["IDENTIFIER-TO-NETWORK", "CLEARTEXT-ENDPOINT"],
        ),
    ],
)
def test_rules_of_an_app(entry: Doc, rules: list[str]) -> None:
    (item,) = report_doc.items({"schema": "phonehome.apks/2", "apks": [entry]})
    assert [r.id for r in item.rules] == [f"PH-STATIC-{r}" for r in rules]


def change(
    status: str, new: Doc | None, changes: Doc, risk: Doc = CALM, old: Doc | None = None
) -> Doc:
    return {
        "status": status,
        "package": "p",
        "risk": risk,
        "changes": changes,
        "old": old,
        "new": new,
    }


@pytest.mark.parametrize(
    ("entry", "rules"),
    [
        (change("added", {**APP, "privileged": True}, {}), ["NEW-SYSTEM-APP"]),
        (
            change(
                "added",
                {**APP, "shared_user_id": "android.uid.phone", "chains": [CHAIN]},
                {},
                RISKY,
            ),
            ["IDENTIFIER-TO-NETWORK", "NEW-SYSTEM-APP"],
        ),
        (change("added", APP, {}), []),
        (change("changed", APP, {"signer": {"old": ["a"], "new": ["b"]}}), ["SIGNER-CHANGED"]),
        (
            change(
                "changed",
                {**APP, "endpoints": [PLAIN]},
                {"endpoints": {"added": ["http://h/"], "removed": []}},
            ),
            ["CLEARTEXT-ENDPOINT"],
        ),
        # A cleartext endpoint the old build already had is not news.
        (
            change("changed", {**APP, "endpoints": [PLAIN]}, {"version": {"old": "1", "new": "2"}}),
            [],
        ),
        # A chain for an identifier read before the update is not news either.
        (
            change(
                "changed",
                {**APP, "chains": [CHAIN]},
                {"reads_identifiers": {"added": ["imsi"], "removed": []}},
            ),
            [],
        ),
        (
            change(
                "changed",
                {**APP, "chains": [CHAIN]},
                {"reads_identifiers": {"added": ["imei"], "removed": []}},
                RISKY,
            ),
            ["IDENTIFIER-TO-NETWORK"],
        ),
        (
            change("removed", None, {}, RISKY, old={**APP, "chains": [CHAIN], "privileged": True}),
            [],
        ),
    ],
)
def test_rules_of_a_change(entry: Doc, rules: list[str]) -> None:
    (item,) = report_doc.items({"schema": "phonehome.firmware-diff/2", "changes": [entry]})
    assert [r.id for r in item.rules] == [f"PH-STATIC-{r}" for r in rules]


# --- the store -------------------------------------------------------------------------


def test_apk_runs_are_stored_and_shown_again(tmp_path: Path, docs: dict[str, Doc]) -> None:
    db = tmp_path / "store.db"
    autoreg, weather = str(BUILT / "AutoReg.apk"), str(BUILT / "Weather.apk")
    res = run("apk", autoreg, weather, "--db", str(db), "--format", "html")
    assert res.exit_code == 1
    assert f"recorded as static result 1-2 in {db}" in res.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with Store.open(db, create=False) as store:
        rows = store.list_static()
        assert [(r.kind, r.name, r.version) for r in rows] == [
            ("app", "org.phonehome.test.weather", "1.0"),
            ("app", AUTOREG, "8.0"),
        ]
        stored = store.load_static(rows[1].id)
    fresh = next(a for a in docs["apk"]["apks"] if a["package"] == AUTOREG)
    assert {k: v for k, v in stored.items() if k != "tool"} == {**fresh, "path": autoreg}
    assert stored["tool"]["name"] == "phonehome"

    history = run("history", "--static", "--db", str(db))
    lines = history.stdout.splitlines()
    assert lines[0].split() == ["ID", "SAVED", "(UTC)", "KIND", "RISK", "WHAT"]
    assert lines[2].split()[0] == "1" and lines[2].split()[4:6] == ["18", "!"]
    assert f"{AUTOREG} 8.0 (8): system app; reads IMEI" in lines[2]
    listed = json.loads(run("history", "--static", "--db", str(db), "--format", "json").stdout)
    assert [(s["id"], s["risk"]) for s in listed["static"]] == [(2, 0), (1, 18)]
    scans = run("history", "--db", str(db))
    assert "and 2 static analysis results: phonehome history --static" in scans.stdout

    alone = run("apk", autoreg, "--no-store", "--format", "html")
    shown = run("show", "--static", "1", "--db", str(db), "--format", "html")
    assert shown.exit_code == 0 and shown.stdout == alone.stdout


def test_firmware_diff_is_stored_and_shown_again(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    fresh = run("firmware-diff", *DIFF, "--db", str(db), "--format", "sarif")
    assert fresh.exit_code == 1 and "recorded as static result 1 " in fresh.stderr
    with Store.open(db, create=False) as store:
        (row,) = store.list_static()
    assert row.kind == "firmware"
    for fmt in FORMATS:
        again = run("firmware-diff", *DIFF, "--no-store", "--format", fmt)
        shown = run("show", "--static", str(row.id), "--db", str(db), "--format", fmt)
        assert shown.exit_code == 0
        assert shown.stdout == again.stdout, fmt
    history = run("history", "--static", "--db", str(db)).stdout
    assert "firmware" in history and "1 added, 1 removed, 1 changed, 1 risky" in history


def test_no_store_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    home = Path(os.environ["PHONEHOME_HOME"])
    assert run("apk", APKS[0], "--db", str(db), "--no-store").exit_code in (0, 1)
    assert run("firmware-diff", *DIFF, "--db", str(db), "--no-store").exit_code == 1
    assert not db.exists() and not (home / "phonehome.db").exists()
    assert run("apk", APKS[0]).exit_code in (0, 1)  # default: the store in the data dir
    with Store.open(home / "phonehome.db", create=False) as store:
        assert len(store.list_static()) == 1


def test_nothing_stored_when_no_apk_was_readable(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    junk = tmp_path / "junk.apk"
    junk.write_bytes(b"\0" * 64)
    assert run("apk", str(junk), "--db", str(db)).exit_code == 2
    assert not db.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "--static", "9"], "no static result 9"),
        (["show", "--static", "1", "--format", "csv"], "unknown format 'csv'"),
    ],
)
def test_show_static_errors_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    db = tmp_path / "store.db"
    run("apk", APKS[0], "--db", str(db))
    res = run(*args, "--db", str(db))
    assert res.exit_code == 2 and words in res.stderr and len(res.stderr.splitlines()) == 1


STORED_APP_KEYS = {
    # ApkReport.to_dict(): what the app is and does, no contents of its files beyond the
    # endpoints its code names. A new key must be checked for personal data, then added.
    "schema", "path", "sha256", "size", "package", "version_code", "version_name",
    "shared_user_id", "min_sdk", "target_sdk", "permissions", "application_class",
    "uses_cleartext_traffic", "network_security_config", "cleartext_allowed", "debuggable",
    "components", "code", "dex_files", "classes", "methods", "reads_identifiers", "triggers",
    "sources", "sinks", "chains", "code_actions", "endpoints", "trackers", "native_libs",
    "problems",
    # phonehome.apk/2: whether the data-flow analysis finished (counts, a reason)
    "dataflow",
    # the app's own network security config: host names it configures, no user data
    "network_security",
    # added by the apk command
    "signing", "risk", "verdict", "tool",
}  # fmt: skip


def test_stored_documents_hold_only_reviewed_keys(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    run("apk", *APKS, "--db", str(db))
    run("firmware-diff", *DIFF, "--db", str(db))
    with Store.open(db, create=False) as store:
        stored = [store.load_static(r.id) for r in store.list_static()]
    apps = [d for d in stored if d.get("schema", "").startswith("phonehome.apk/")]
    (diff,) = [d for d in stored if d.get("schema", "").startswith("phonehome.firmware-diff/")]
    assert len(apps) == len(APKS)
    for doc in apps:
        assert set(doc) <= STORED_APP_KEYS, set(doc) - STORED_APP_KEYS
        assert "revealed" not in doc
    assert set(diff) == {"schema", "tool", "old", "new", "changes", "unchanged", "duplicates"}
