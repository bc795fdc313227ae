"""Every store command through click, inside the CLI's own error-handling group."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from phonehome.cli import Group
from phonehome.cli.store import (
    baseline_command,
    delete_command,
    diff_command,
    history_command,
    purge_command,
    show_command,
)
from phonehome.privacy import home_dir
from phonehome.report import FORMATS, ScanView
from phonehome.store import Store
from phonehome.store.refs import parse_scan_id
from tests.test_store_builders import Day, before_update, nokia_day, scan_doc

COMMANDS = [
    history_command,
    show_command,
    diff_command,
    delete_command,
    purge_command,
    baseline_command,
]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return nokia_day(tmp_path_factory.mktemp("day"))


@pytest.fixture(scope="module")
def docs(day: Day) -> tuple[dict[str, Any], dict[str, Any]]:
    before = scan_doc(before_update(day, day.capture.with_name("before.pcap")), day.profile)
    return before, scan_doc(day.capture, day.profile)


@pytest.fixture
def db(tmp_path: Path, docs: tuple[dict[str, Any], dict[str, Any]]) -> Path:
    """A store holding scan 1 (before the update) and scan 2 (after)."""
    path = tmp_path / "s.db"
    with Store.open(path) as s:
        assert [s.save_scan(d) for d in docs] == [1, 2]
    return path


def run(*args: str, input: str | None = None) -> Result:
    cli = Group("phonehome", commands={c.name or "": c for c in COMMANDS})
    return CliRunner().invoke(cli, list(args), input=input)


def one_line_error(res: Result, *words: str) -> None:
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phonehome: error: ")
    for w in words:
        assert w in lines[0]


def test_commands_are_standalone_click_commands() -> None:
    assert all(isinstance(c, click.Command) for c in COMMANDS)
    assert [c.name for c in COMMANDS] == ["history", "show", "diff", "delete", "purge", "baseline"]


def test_history_text_and_json(db: Path, docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    res = run("history", "--db", str(db))
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].split()[:2] == ["ID", "STARTED"]
    # Scan 2 was started later: newest first.
    assert [ln.split()[0] for ln in lines[1:]] == ["2", "1"]
    assert "Nokia 7 Plus (simulated): nokia.pcap" in lines[1]
    assert lines[1].split()[3:6] == [str(len(docs[1]["findings"]))] * 2 + ["0"]
    out = json.loads(run("history", "--db", str(db), "--format", "json").stdout)
    assert [s["id"] for s in out["scans"]] == [2, 1]
    assert out["scans"][0]["input_sha256"] == [docs[1]["inputs"][0]["sha256"]]


def test_history_of_an_empty_or_missing_store(tmp_path: Path) -> None:
    res = run("history", "--db", str(tmp_path / "none.db"))
    assert res.exit_code == 0 and "No scans stored" in res.stdout
    assert not (tmp_path / "none.db").exists()
    res = run("history")  # default store in $PHONEHOME_HOME
    assert res.exit_code == 0 and str(home_dir() / "phonehome.db") in res.stdout


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_show_renders_like_a_fresh_scan(
    db: Path, docs: tuple[dict[str, Any], dict[str, Any]], fmt: str, tmp_path: Path
) -> None:
    expected = FORMATS[fmt](ScanView(docs[1], revealed=False), False)
    res = run("show", "2", "--db", str(db), "--format", fmt)
    assert res.exit_code == 0, res.output
    assert res.stdout_bytes == expected.encode()
    out = tmp_path / f"report.{fmt}"
    assert run("show", "2", "--db", str(db), "--format", fmt, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == expected.encode()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "9"], ["no scan 9"]),
        (["show", "2", "--format", "pdf"], ["unknown format 'pdf'", "json"]),
        (["delete", "9"], ["no scan 9"]),
        (["diff", "1", "9"], ["no scan 9"]),
        (["diff", "1", "nowhere.json"], ["nowhere.json", "no such file"]),
        (["baseline", "9", "-o", "b.json"], ["no scan 9"]),
    ],
)
def test_bad_arguments_are_one_line_errors(db: Path, args: list[str], words: list[str]) -> None:
    one_line_error(run(*args, "--db", str(db)), *words)


def test_reading_a_store_that_does_not_exist(tmp_path: Path) -> None:
    for args in (["show", "1"], ["diff", "1", "2"], ["delete", "1"]):
        one_line_error(run(*args, "--db", str(tmp_path / "none.db")), "no store here yet")
    assert not (tmp_path / "none.db").exists()


def test_diff_by_id_exits_1_on_new_findings(db: Path, day: Day) -> None:
    res = run("diff", "1", "2", "--db", str(db))
    assert res.exit_code == 1
    assert "before: scan 1" in res.stdout and "after:  scan 2" in res.stdout
    assert f"{len(day.truth['leaks'])} new, 0 gone" in res.stdout
    back = run("diff", "2", "1", "--db", str(db), "--format", "json")
    assert back.exit_code == 0
    out = json.loads(back.stdout)
    assert out["new"] == [] and len(out["gone"]) == len(day.truth["leaks"])


def test_diff_and_baseline_from_scan_json_files(
    docs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    a, b = tmp_path / "nov.json", tmp_path / "dec.json"
    a.write_text(json.dumps(docs[0]))
    b.write_text(json.dumps(docs[1]))
    res = run("diff", str(a), str(b), "--db", str(tmp_path / "unused.db"))
    assert res.exit_code == 1 and "before: nov.json" in res.stdout
    assert not (tmp_path / "unused.db").exists()
    out = tmp_path / "b.json"
    res = run("baseline", str(b), "-o", str(out), "--justification", "known vendor behaviour")
    assert res.exit_code == 0 and f"wrote {len(docs[1]['findings'])} baseline entries" in res.stdout
    entries = json.loads(out.read_text())["entries"]
    assert {e["justification"] for e in entries} == {"known vendor behaviour"}


def test_revealed_and_foreign_json_files_are_refused(day: Day, tmp_path: Path) -> None:
    revealed = tmp_path / "revealed.json"
    revealed.write_text(json.dumps(scan_doc(day.capture, day.profile, reveal=True)))
    one_line_error(run("baseline", str(revealed), "-o", str(tmp_path / "b.json")), "raw values")
    one_line_error(run("diff", str(revealed), str(revealed)), "raw values")
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    one_line_error(run("diff", str(other), str(other)), "not a phonehome scan")
    assert not (tmp_path / "b.json").exists()


def test_baseline_from_a_stored_scan(
    db: Path, docs: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "b.json"
    assert run("baseline", "2", "--db", str(db), "-o", str(out)).exit_code == 0
    ids = {e["value_id"] for e in json.loads(out.read_text())["entries"]}
    assert ids == {f["value_id"] for f in docs[1]["findings"]}


def test_delete(db: Path) -> None:
    res = run("delete", "1", "--db", str(db))
    assert res.exit_code == 0 and res.stdout == "deleted scan 1\n"
    one_line_error(run("show", "1", "--db", str(db)), "no scan 1")
    assert run("show", "2", "--db", str(db)).exit_code == 0
    res = run("delete", "2", "7", "--db", str(db))
    assert res.stdout == "deleted scan 2\n"
    one_line_error(res, "no scan 7")


def test_purge_asks_first(db: Path) -> None:
    res = run("purge", "--db", str(db), input="n\n")
    assert res.exit_code == 1 and "Delete all 2 scans" in res.output
    with Store.open(db) as s:
        assert len(s.scans()) == 2
    res = run("purge", "--db", str(db), input="y\n")
    assert res.exit_code == 0 and "Deleted 2 scans" in res.stdout
    with Store.open(db) as s:
        assert s.scans() == []


def test_purge_yes_and_nothing_stored(db: Path, tmp_path: Path) -> None:
    res = run("purge", "--db", str(db), "--yes")
    assert res.exit_code == 0 and "Deleted 2 scans and 0 static results" in res.stdout
    res = run("purge", "--db", str(tmp_path / "none.db"), "--yes")
    assert res.exit_code == 0 and "Nothing stored" in res.stdout


@pytest.mark.parametrize("ref", ["²", "1²", "³", "9" * 30, "1" * 5000])
def test_diff_with_an_id_that_is_no_number_is_a_one_line_error(db: Path, ref: str) -> None:
    # '²'.isdigit() is True but int('²') raises; a 30-digit id overflows SQLite's integer.
    one_line_error(run("diff", ref, "1", "--db", str(db)))
    one_line_error(run("diff", "1", ref, "--db", str(db)))


@pytest.mark.parametrize("ref", ["²", "٣", "0", "9" * 30, "1" * 5000])
def test_show_and_delete_refuse_what_is_no_scan_id(db: Path, ref: str) -> None:
    for args in (["show", ref], ["delete", ref]):
        res = run(*args, "--db", str(db))
        assert res.exit_code == 2, res.output
        assert isinstance(res.exception, SystemExit)
        assert "is not a scan id" in res.output
    with Store.open(db) as s:
        assert sorted(r.id for r in s.scans()) == [1, 2]


@pytest.mark.parametrize(
    ("text", "scan_id"),
    [("1", 1), ("0042", 42), (str((1 << 63) - 1), (1 << 63) - 1)]
    + [(t, None) for t in ["", "0", "²", "٣", "1.0", " 1", str(1 << 63), "1" * 5000]],
)
def test_parse_scan_id(text: str, scan_id: int | None) -> None:
    assert parse_scan_id(text) == scan_id
