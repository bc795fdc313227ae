"""``phonehome corpus`` without a cluster (``--workers 0``: the same tasks, in this process).

The rows must equal what sequential ``phonehome scan`` runs of the same inputs report;
bad inputs are recorded as failed with their error and the run goes on; a rerun resumes;
the tables hold no raw value; the files are private. The Dask runs (LocalCluster, a real
scheduler, a killed worker) are in test_corpus_dask.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.corpus.rows import finding_rows
from tests.builders_corpus import (
    CORPUS_MODULES,
    Corpus,
    all_text,
    build,
    comparable,
    part_files,
    profile_values,
    rows,
    typed,
)
from tests.needs import needs

REPO = Path(__file__).resolve().parents[1]

pytestmark = needs(modules=CORPUS_MODULES)


def corpus_cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["corpus", *args])


def scan_into(out: Path, corpus: Corpus, *args: str) -> Any:
    """``corpus scan ARGS --out OUT --workers 0 --device <the corpus's profile>``."""
    return corpus_cli(
        "scan", *args, "--out", str(out), "--workers", "0", "--device", str(corpus.profile)
    )


def summary(total: int, done: int, failed: int, earlier: int) -> str:
    """The start of the run's summary line."""
    return (
        f"{total} input(s): {done} done, {failed} failed ({earlier} from an earlier run, "
        f"{total - earlier} run now);"
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One phonehome home (so one value-id key) for the module's runs and scans."""
    return tmp_path_factory.mktemp("corpus-home")


@pytest.fixture(autouse=True)
def _same_home(_private_home: None, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONEHOME_HOME", str(home))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def scanned(corpus: Corpus, home: Path) -> tuple[Corpus, Path, Any]:
    out = corpus.root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHONEHOME_HOME", str(home))
        res = corpus_cli(
            "scan",
            *corpus.args(),
            "--out",
            str(out),
            "--workers",
            "0",
            "--device",
            str(corpus.profile),
        )
    return corpus, out, res


def by_path(out: Path) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in rows(out, "inputs")}


def test_every_input_recorded_bad_ones_failed_with_their_error(
    scanned: tuple[Corpus, Path, Any],
) -> None:
    corpus, out, res = scanned
    assert res.exit_code == 1, res.output  # some inputs failed: the run completed
    assert res.stdout.startswith(
        "10 input(s): 7 done, 3 failed (0 from an earlier run, 10 run now);"
    )
    inputs = by_path(out)
    assert len(inputs) == 10
    for path in corpus.good:
        row = inputs[str(path)]
        assert row["status"] == "done" and row["error"] is None, row
        assert row["kind"] == "capture" and row["files"] == 1
        assert row["packets"] or row["messages"], row
    for path, why in corpus.bad.items():
        row = inputs[str(path)]
        assert row["status"] == "failed", row
        assert why in row["error"] and str(path) in row["error"]
        assert f"[failed] {path}" in res.stderr
    session = inputs[str(corpus.session)]
    assert (session["kind"], session["files"], session["session"]) == ("session", 2, "session two")
    assert session["device"] == "Nokia 7 Plus (simulated)"
    # the nokia day: 480 messages, about half of what the phone sent was TLS/QUIC hellos
    nokia = inputs[str(corpus.good[0])]
    assert nokia["messages"] == 480 and nokia["flows"] == 307
    assert nokia["sent_encrypted"] > 0 and nokia["sent_cleartext"] > 0
    total = nokia["sent_cleartext"] + nokia["sent_encrypted"] + nokia["sent_decrypted"]
    assert nokia["coverage"] == pytest.approx(nokia["sent_cleartext"] / total, abs=1e-6)
    har = inputs[str(corpus.root / "in/real/chrome.har")]
    assert har["format"] == "har" and har["sent_decrypted"] > 0 and har["sent_encrypted"] == 0


def _sequential(paths: list[Path], profile: Path, home: str | None = None) -> dict[str, Any]:
    args = ["scan", *map(str, paths), "--format", "json", "--no-store", "--device", str(profile)]
    if home:
        args += ["--home-country", home]
    res = CliRunner().invoke(main, args)
    assert res.exit_code in (0, 1), res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def test_findings_equal_sequential_scans(scanned: tuple[Corpus, Path, Any]) -> None:
    corpus, out, _ = scanned
    inputs = by_path(out)
    findings = rows(out, "findings")
    cases = [([p], corpus.profile, None, str(p)) for p in corpus.good]
    assert corpus.session is not None
    session_profile = corpus.session / "morning.device.toml"
    cases.append((corpus.session_members, session_profile, "NO", str(corpus.session)))
    total = 0
    for paths, profile, home, key in cases:
        row = inputs[key]
        doc = _sequential(paths, profile, home)
        # through Arrow, so that both sides have the table's types
        expected = typed("findings", finding_rows(doc, row["task"], row["sha256"]))
        got = [f for f in findings if f["task"] == row["task"]]
        assert sorted(map(repr, got)) == sorted(map(repr, expected)), key
        assert row["findings"] == len(doc["findings"])
        assert (row["packets"], row["flows"], row["messages"]) == (
            doc["stats"]["packets"],
            doc["stats"]["flows"],
            doc["stats"]["messages"],
        )
        if len(paths) == 1:
            assert row["sha256"] == doc["inputs"][0]["sha256"]
        total += len(expected)
    assert total == len(findings) > 40
    nokia = [f for f in findings if f["task"] == inputs[str(corpus.good[0])]["task"]]
    imei = [f for f in nokia if f["identifier"] == "imei" and f["host"] == "zzhc.vnet.cn"]
    assert imei and imei[0]["owner"] == "China Telecom" and imei[0]["country"] == "CN"
    assert imei[0]["jurisdiction"] == "third country" and imei[0]["readability"] == "cleartext"
    assert imei[0]["value_id"].startswith("h1:") and "•" in imei[0]["value_redacted"]


def test_no_raw_value_in_any_table(scanned: tuple[Corpus, Path, Any]) -> None:
    corpus, out, _ = scanned
    text = all_text(out)
    values = profile_values(corpus.profile)
    assert len(values) >= 10
    for value in values:
        assert value not in text, value
    assert "h1:" in text  # the tables do hold the keyed ids


def test_files_private_and_no_temporary_left(scanned: tuple[Corpus, Path, Any]) -> None:
    _, out, _ = scanned
    for p in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
        assert not p.name.endswith(".tmp")
    assert len(part_files(out, "inputs")) == 10


def _copy(scanned: tuple[Corpus, Path, Any], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(scanned[1], out)
    return out


def test_rerun_skips_what_is_done(scanned: tuple[Corpus, Path, Any], tmp_path: Path) -> None:
    corpus, _, _ = scanned
    out = _copy(scanned, tmp_path)
    before = by_path(out)
    res = scan_into(out, corpus, *corpus.args())
    # The directory without captures is looked at again (cheap, its content may change).
    assert res.stdout.startswith(
        "10 input(s): 7 done, 3 failed (9 from an earlier run, 1 run now);"
    ), res.output
    after = by_path(out)
    for path, row in before.items():
        if row["kind"] != "directory":
            assert after[path] == row


def test_resume_after_interruption_scans_only_the_missing(
    scanned: tuple[Corpus, Path, Any], tmp_path: Path
) -> None:
    """An interrupted run leaves whole parts of the finished tasks, maybe a temporary file
    and a findings part whose inputs part (the commit mark) was never written."""
    corpus, _, _ = scanned
    out = _copy(scanned, tmp_path)
    before = by_path(out)
    missing = [str(corpus.good[0]), str(corpus.good[2]), str(corpus.session)]
    for path in missing:
        key = before[path]["task"]
        (out / "inputs" / f"{key}.parquet").unlink()
    (out / "findings" / ".deadbeef.123.abcd.tmp").write_bytes(b"PAR1 half a file")
    orphan = out / "findings" / "0123456789abcdef0123456789abcdef.parquet"
    shutil.copy(next(iter(part_files(out, "findings"))), orphan)
    res = scan_into(out, corpus, *corpus.args())
    assert res.stdout.startswith(
        "10 input(s): 7 done, 3 failed (6 from an earlier run, 4 run now);"
    ), res.output
    after = by_path(out)
    for path, row in before.items():
        if path in missing:
            assert after[path]["finished_at"] > row["finished_at"]
            assert after[path]["findings"] == row["findings"]
        elif row["kind"] != "directory":
            assert after[path] == row
    assert not orphan.exists()
    assert not list((out / "findings").glob(".*.tmp"))
    assert comparable(out, "findings") == comparable(scanned[1], "findings")


def test_moved_corpus_resumes_by_content(scanned: tuple[Corpus, Path, Any], tmp_path: Path) -> None:
    corpus, _, _ = scanned
    out = _copy(scanned, tmp_path)
    moved = tmp_path / "moved"
    shutil.copytree(corpus.root / "in", moved)  # new paths and modification times
    args = [str(moved / p.relative_to(corpus.root / "in")) for p in corpus.good]
    res = corpus_cli(
        "scan", *args, "--out", str(out), "--workers", "0", "--device", str(corpus.profile)
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(summary(len(args), len(args), 0, len(args)))


def test_force_redoes_and_other_options_are_refused(
    scanned: tuple[Corpus, Path, Any], tmp_path: Path
) -> None:
    corpus, _, _ = scanned
    out = _copy(scanned, tmp_path)
    one = str(corpus.good[1])
    res = corpus_cli(
        "scan", one, "--out", str(out), "--workers", "0", "--device", str(corpus.profile), "--force"
    )
    assert res.exit_code == 0 and res.stdout.startswith(
        "1 input(s): 1 done, 0 failed (0 from an earlier run, 1 run now)"
    )
    assert comparable(out, "findings") == comparable(scanned[1], "findings")
    res = corpus_cli("scan", one, "--out", str(out), "--workers", "0")
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "other options" in res.stderr and "device" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "nowhere.pcap"], "nowhere.pcap: no such file or directory"),
        (["scan", "nothing-*.pcap"], "nothing-*.pcap: no file matches"),
        (["scan", "IN", "--keylog", "missing.keys"], "missing.keys: no such file"),
        (["scan", "IN", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
        (["scan", "IN", "--home-country", "Norway"], "two-letter"),
        (["scan", "IN", "--workers", "1", "--memory-limit", "lots"], "a size such as 4GB"),
        (["scan", "IN", "--device-ip", "300.1.1.1"], "--device-ip"),
        (["query", "OUT", "select * from nope"], "SQL: Catalog Error"),
        (["query", "IN", "select 1"], "not a phonehome corpus directory"),
    ],
)
def test_usage_errors_are_one_line(
    scanned: tuple[Corpus, Path, Any], args: list[str], message: str, tmp_path: Path
) -> None:
    corpus, out, _ = scanned
    args = [str(corpus.good[0]) if a == "IN" else str(out) if a == "OUT" else a for a in args]
    if args[0] == "query" and args[1] == str(corpus.good[0]):
        args[1] = str(corpus.root / "in")
    if args[0] == "scan":
        args += ["--out", str(tmp_path / "o")]
        args += [] if "--workers" in args else ["--workers", "0"]
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = corpus_cli(*args)
    finally:
        os.chdir(old)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("phonehome: error: ") and res.stderr.count("\n") == 1
    assert message in res.stderr


def test_query_formats(scanned: tuple[Corpus, Path, Any], tmp_path: Path) -> None:
    _, out, _ = scanned
    sql = (
        "select identifier, count(*) as n, list(distinct readability order by readability) as r "
        "from findings where identifier in ('imei', 'iccid') group by 1 order by 1"
    )
    res = corpus_cli("query", str(out), sql, "--format", "json")
    assert res.exit_code == 0, res.output
    records = json.loads(res.stdout)
    assert [r["identifier"] for r in records] == ["iccid", "imei"]
    assert all(r["n"] > 0 and "cleartext" in r["r"] for r in records)
    res = corpus_cli("query", str(out), sql)  # not a terminal: CSV
    parsed = list(csv.reader(io.StringIO(res.stdout)))
    assert parsed[0] == ["identifier", "n", "r"] and len(parsed) == 3
    res = corpus_cli("query", str(out), sql, "--format", "table")
    assert res.stdout.splitlines()[0].split() == ["identifier", "n", "r"]
    assert res.stdout.rstrip().endswith("(2 rows)")
    res = corpus_cli(
        "query", str(out), "select first_seen from findings limit 1", "--format", "jsonl"
    )
    assert json.loads(res.stdout)["first_seen"].startswith("2026-03-02T")
    target = tmp_path / "q.csv"
    res = corpus_cli("query", str(out), sql, "-o", str(target))
    assert res.stdout == "" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_query_reads_only_the_dataset(scanned: tuple[Corpus, Path, Any], tmp_path: Path) -> None:
    _, out, _ = scanned
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    for sql in (
        f"select * from read_csv('{outside}')",
        f"copy (select 1) to '{tmp_path / 'x.csv'}'",
        "install httpfs",
        "set enable_external_access = true",
        "select * from read_parquet('http://127.0.0.1:9/x.parquet')",
    ):
        res = corpus_cli("query", str(out), sql)
        assert res.exit_code == 2 and res.stderr.startswith("phonehome: error: SQL: "), sql
    assert not (tmp_path / "x.csv").exists()


def test_query_on_a_dataset_without_findings(tmp_path: Path) -> None:
    from phonehome import simulate

    cap = tmp_path / "quiet.pcap"
    simulate.run("bench", cap, seed=3, size_mb=0.2)
    out = tmp_path / "out"
    res = corpus_cli("scan", str(cap), "--out", str(out), "--workers", "0")
    assert res.exit_code == 0, res.output
    # The phone mix without its profile finds nothing: findings/ has no part at all.
    assert not part_files(out, "findings")
    res = corpus_cli(
        "query",
        str(out),
        "select count(*) as n, count(distinct app) as a from findings",
        "--format",
        "json",
    )
    assert json.loads(res.stdout) == [{"n": 0, "a": 0}]
    res = corpus_cli("report", str(out))
    assert res.exit_code == 0 and "No identifier found in the corpus." in res.stdout


def test_report_text_markdown_csv(scanned: tuple[Corpus, Path, Any]) -> None:
    _, out, _ = scanned
    text = corpus_cli("report", str(out)).stdout
    for title in (
        "Which identifiers went to which owners and countries",
        "Sent in clear text",
        "Transfers out of the EU/EEA",
        "Top 10 destinations per identifier",
        "Per app (from traffic)",
        "Inputs not done",
    ):
        assert title in text
    assert "10 input(s): 7 done, 3 not done" in text
    out_of_eu = text.split("Transfers out of the EU/EEA")[1].split("Top 10")[0]
    assert "China Telecom" in out_of_eu and "CN" in out_of_eu
    md = corpus_cli("report", str(out), "--format", "markdown").stdout
    assert "## Sent in clear text" in md and "| identifier | host |" in md
    table = list(
        csv.DictReader(io.StringIO(corpus_cli("report", str(out), "--format", "csv").stdout))
    )
    sections = {r["section"] for r in table}
    assert {"receivers", "cleartext", "out_of_eu", "top_destinations", "failed"} <= sections
    failed = [r for r in table if r["section"] == "failed"]
    assert len(failed) == 3 and all(r["status"] == "failed" and r["error"] for r in failed)
    receivers = [r for r in table if r["section"] == "receivers" and r["owner"] == "China Telecom"]
    assert {r["identifier"] for r in receivers} >= {"imei", "imsi", "iccid", "mac", "cell_id"}


def test_report_counts_equal_plain_sql(scanned: tuple[Corpus, Path, Any]) -> None:
    """The report counts from hashed ids and joins one query per DISTINCT aggregate in
    Python; each section must equal the one plain GROUP BY over the findings' strings."""
    from phonehome.corpus.query import open_dataset
    from phonehome.corpus.report import build_report

    _, out, _ = scanned
    counts = (
        "count(DISTINCT input_sha256), count(DISTINCT app), count(DISTINCT value_id), sum(count)"
    )
    with open_dataset(out) as con:
        report = build_report(con, out, top=1000)

        def plain(keys: str, where: str = "true") -> list[tuple[Any, ...]]:
            sql = f"SELECT {keys}, {counts} FROM findings WHERE {where} GROUP BY ALL"
            return sorted((tuple(r) for r in con.execute(sql).fetchall()), key=repr)

        expected = {
            "receivers": plain("identifier, owner, as_org, country, jurisdiction"),
            "cleartext": plain(
                "identifier, host, protocol, owner, country", "readability = 'cleartext'"
            ),
            "out_of_eu": plain(
                "identifier, country, jurisdiction, owner",
                "jurisdiction IS NOT NULL AND jurisdiction <> 'EU/EEA'",
            ),
        }
        n_values, n_inputs = con.execute(
            "SELECT count(DISTINCT value_id), count(DISTINCT input_sha256) FROM findings"
        ).fetchone()
    sections = {s.id: s for s in report.sections}
    for sid, want in expected.items():
        assert want, sid  # the corpus has rows of every kind
        assert sorted(sections[sid].rows, key=repr) == want, sid
    assert report.overview["values"] == n_values > 1
    assert report.overview["inputs_with_findings"] == n_inputs > 1
    assert dict(report.identifiers)["imei"] == len(
        {r["input_sha256"] for r in rows(out, "findings") if r["identifier"] == "imei"}
    )


def test_apk_corpus(tmp_path: Path) -> None:
    apks = REPO / "tests/apks/built"
    junk = tmp_path / "junk.apk"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "out"
    res = corpus_cli("apk", str(apks), str(junk), "--out", str(out), "--workers", "0")
    assert res.exit_code == 1, res.output
    inputs = by_path(out)
    assert inputs[str(junk)]["status"] == "failed" and "not an APK" in inputs[str(junk)]["error"]
    apps = {r["package"]: r for r in rows(out, "apps")}
    n_apks = len(list(apks.glob("*.apk")))
    assert len(rows(out, "apps")) == n_apks == len(inputs) - 1
    auto = apps["org.phonehome.test.autoreg"]
    assert {"imei", "iccid", "imsi"} <= set(auto["leaks"]) and auto["cleartext_hosts"] == [
        "zzhc.vnet.cn"
    ]
    assert auto["endpoint_owners"] == ["China Telecom"] and auto["risky"]
    assert auto["signer"] and len(auto["signer"]) == 64
    # the report's per-app (from code) section
    text = corpus_cli("report", str(out)).stdout
    assert "Per app (from code)" in text and "org.phonehome.test.autoreg" in text
    # scans and APK analyses can share a dataset
    cap = tmp_path / "n.pcap"
    from phonehome import simulate

    simulate.run("nokia7plus", cap, seed=1)
    res = corpus_cli("scan", str(cap), "--out", str(out), "--workers", "0")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "corpus.json").read_text())["runs"].keys() == {"scan", "apk"}


def test_missing_packages_say_how_to_install() -> None:
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "from phonehome.cli import main\n"
        "main(['corpus', 'query', '.', 'select 1'])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr == (
        "phonehome: error: phonehome corpus needs duckdb (not installed): "
        "pip install 'phonehome[corpus]'\n"
    )


def test_key_log_read_by_the_task_never_written(tmp_path: Path) -> None:
    from phonehome import simulate

    cap = tmp_path / "e.pcap"
    simulate.run("encodings", cap, seed=1)
    secret = "cd" * 48
    keylog = tmp_path / "keys.log"
    keylog.write_text(f"# a comment\nCLIENT_RANDOM {'ab' * 32} {secret}\n")
    out = tmp_path / "out"
    res = corpus_cli("scan", str(cap), "--out", str(out), "--workers", "0", "--keylog", str(keylog))
    assert res.exit_code == 0, res.output
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in all_text(out) and secret not in res.output
