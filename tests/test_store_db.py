"""The store: round trip of real scans, privacy (modes, no raw values), schema migrations,
two writers at once, and a crash or Ctrl-C in the middle of a save."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phonehome.errors import InputError, UsageError
from phonehome.privacy import home_dir
from phonehome.store import SCHEMA_VERSION, Store, StoreError
from phonehome.store.db import APPLICATION_ID, MIGRATIONS
from phonehome.store.diff import identity_key
from tests.test_store_builders import Day, nokia_day, scan_doc


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return nokia_day(tmp_path_factory.mktemp("day"))


@pytest.fixture(scope="module")
def doc(day: Day) -> dict[str, Any]:
    return scan_doc(day.capture, day.profile)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "s.db") as s:
        yield s


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def store_bytes(path: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def test_round_trip_of_a_real_scan(store: Store, doc: dict[str, Any], day: Day) -> None:
    scan_id = store.save_scan(doc)
    assert store.load(scan_id) == doc
    (row,) = store.scans()
    assert row.id == scan_id
    assert row.findings == len(doc["findings"]) == len(day.truth["leaks"])
    assert row.cleartext == row.findings  # every zzhc POST is plain HTTP
    assert row.device == "Nokia 7 Plus (simulated)"
    assert row.input_sha256 == (hashlib.sha256(day.capture.read_bytes()).hexdigest(),)
    assert row.started == doc["started"] and row.tool_version == doc["tool"]["version"]
    # Normalised rows agree with the document.
    (inp,) = rows(store.path, "SELECT sha256, size, format, packets FROM inputs")
    assert inp == (
        row.input_sha256[0],
        day.capture.stat().st_size,
        "pcap",
        doc["inputs"][0]["packets"],
    )
    found = rows(store.path, "SELECT identity, value_id, place, count FROM findings ORDER BY idx")
    assert found == [
        (identity_key(f), f["value_id"], f["where"], f["count"]) for f in doc["findings"]
    ]


def test_scans_are_listed_newest_first(store: Store, doc: dict[str, Any]) -> None:
    ids = {}
    for started in (
        "2026-03-02T10:00:00.000Z",
        "2026-03-04T10:00:00.000Z",
        "2026-03-03T10:00:00.000Z",
    ):
        ids[started] = store.save_scan({**doc, "started": started})
    assert [r.started for r in store.scans()] == sorted(ids, reverse=True)


def test_profile_hash_is_recorded_when_the_doc_has_one(store: Store, doc: dict[str, Any]) -> None:
    with_hash = {**doc, "device": {"name": "x", "profile_sha256": "ab" * 32}}
    store.save_scan(with_hash)
    store.save_scan({**doc, "device": None})
    assert sorted(r.profile_sha256 or "" for r in store.scans()) == ["", "ab" * 32]


def test_no_raw_value_reaches_the_file(store: Store, doc: dict[str, Any], day: Day) -> None:
    store.save_scan(doc)
    blob = store_bytes(store.path).lower()
    leaked = [v for v in day.raw_values() if v.lower().encode() in blob]
    assert leaked == []
    assert doc["findings"][0]["value_id"].encode() in blob  # the check can see content


@pytest.mark.parametrize(
    "make_raw",
    [
        pytest.param(lambda d: {**d, "revealed": True}, id="revealed"),
        pytest.param(
            lambda d: {**d, "findings": [{**d["findings"][0], "value": "352071025700910"}]},
            id="value-key",
        ),
    ],
)
def test_raw_values_are_refused_and_nothing_is_written(
    store: Store, doc: dict[str, Any], make_raw: Any
) -> None:
    with pytest.raises(UsageError, match="raw values"):
        store.save_scan(make_raw(doc))
    assert store.scans() == []


def test_a_revealed_scan_of_the_pipeline_is_refused(store: Store, day: Day) -> None:
    revealed = scan_doc(day.capture, day.profile, reveal=True)
    with pytest.raises(UsageError):
        store.save_scan(revealed)
    assert rows(store.path, "SELECT count(*) FROM findings") == [(0,)]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"schema": "something/1", "findings": [], "inputs": []}, "not a phonehome scan"),
        ({"findings": [], "inputs": []}, "not a phonehome scan"),
        ({"schema": "phonehome.scan/1", "findings": {}, "inputs": []}, "'findings'"),
        ({"schema": "phonehome.scan/1", "findings": [1], "inputs": []}, "'findings'"),
        ({"schema": "phonehome.scan/1", "findings": []}, "'inputs'"),
    ],
)
def test_malformed_documents_are_refused(
    store: Store, broken: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        store.save_scan(broken)


def test_a_minimal_document_is_stored_with_missing_fields_empty(store: Store) -> None:
    minimal = {"schema": "phonehome.scan/1", "findings": [{"identifier": "imei"}], "inputs": [{}]}
    scan_id = store.save_scan(minimal)
    assert store.load(scan_id) == minimal
    assert store.scans()[0].findings == 1


def test_default_path_is_in_the_phonehome_home(doc: dict[str, Any]) -> None:
    with Store.open() as s:
        s.save_scan(doc)
        assert s.path == home_dir() / "phonehome.db"


def test_files_are_private_whatever_the_umask(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "new" / "dir" / "s.db"
    old = os.umask(0o022)
    try:
        with Store.open(path) as s:
            s.save_scan(doc)
            sides = [p for p in path.parent.iterdir() if p.name.startswith("s.db-")]
            assert {p.name for p in sides} >= {"s.db-wal", "s.db-shm"}  # WAL, while open
            for p in [path, *sides]:
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_rollback_journal_is_private_too(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "j.db"
    old = os.umask(0o022)
    try:
        with Store.open(path) as s:
            s._conn.execute("PRAGMA journal_mode = DELETE")
            s._conn.execute("PRAGMA journal_mode = PERSIST")  # keeps the journal file around
            s.save_scan(doc)
            journal = Path(f"{path}-journal")
            assert journal.exists()
            assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_existing_loose_store_is_tightened(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as s:
        s.save_scan(doc)
    os.chmod(path, 0o644)
    with Store.open(path) as s:
        assert len(s.scans()) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_schema_version_and_application_id(store: Store) -> None:
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS) == 3
    assert rows(store.path, "PRAGMA application_id") == [(APPLICATION_ID,)]


def make_v1_store(path: Path) -> None:
    """A store as phonehome with schema v1 left it: one scan, three findings."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    doc = {
        "schema": "phonehome.scan/1",
        "started": "2026-01-01T00:00:00.000Z",
        "findings": [],
        "inputs": [],
    }
    conn.execute(
        "INSERT INTO scans (id, schema, saved, findings, anomalies, doc_sha256, doc)"
        " VALUES (1, 'phonehome.scan/1', 'x', 3, 0, '', ?)",
        (json.dumps(doc),),
    )
    for i, readability in enumerate(["cleartext", "encrypted", "cleartext"]):
        conn.execute(
            "INSERT INTO findings (scan_id, idx, identity, readability) VALUES (1, ?, ?, ?)",
            (i, f"id{i}", readability),
        )
    conn.close()


def test_migration_from_v1_keeps_scans_and_backfills(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "old.db"
    make_v1_store(path)
    with Store.open(path) as s:
        assert s.schema_version == 3
        (old,) = s.scans()
        assert old.cleartext == 2  # backfilled from the v1 finding rows
        assert old.status == "finished" and old.state == "finished"  # v3: saved finished
        assert s.load(1)["started"] == "2026-01-01T00:00:00.000Z"
        new_id = s.save_scan(doc)  # v2 tables and columns work after the migration
        static_id = s.save_static("app", {"package": "com.example"}, scans=[1, new_id])
        assert s.list_static()[0].scans == (1, new_id) and static_id == 1
    tables = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"static_results", "apps", "firmware_builds", "scan_static"} <= tables


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_v1_store(path)
    for _ in range(2):
        with Store.open(path) as s:
            assert s.schema_version == 3 and len(s.scans()) == 1


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(InputError, match="newer phonehome"):
        Store.open(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all, just text" * 100, "not a phonehome store"),
        (None, "not a phonehome store"),  # another program's SQLite database
    ],
)
def test_other_files_are_not_taken_for_a_store(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "other.db"
    if content is None:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(InputError, match=message):
        Store.open(path)
    assert path.read_bytes() == before


def test_open_without_create_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no store here yet"):
        Store.open(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_delete_removes_the_scan_its_rows_and_its_bytes(store: Store, doc: dict[str, Any]) -> None:
    marked = copy.deepcopy(doc)
    marked["findings"][0]["value_id"] = "h1:" + "d" * 32  # unique to this scan
    keep_id = store.save_scan(doc)
    gone_id = store.save_scan(marked)
    assert store.delete(gone_id) is True
    assert store.delete(gone_id) is False
    assert [r.id for r in store.scans()] == [keep_id]
    for table in ("inputs", "findings", "anomalies"):
        assert rows(store.path, f"SELECT count(*) FROM {table} WHERE scan_id = ?", gone_id) == [
            (0,)
        ]
    # secure_delete + checkpoint: the deleted scan is not left readable in the files.
    assert b"d" * 32 not in store_bytes(store.path)
    with pytest.raises(UsageError, match=f"no scan {gone_id}"):
        store.load(gone_id)


def test_purge_removes_everything(store: Store, doc: dict[str, Any]) -> None:
    for _ in range(3):
        store.save_scan(doc)
    store.save_static("firmware", {"fingerprint": "Nokia/B2N/B2N:9/xx"})
    assert store.purge() == 3
    assert store.scans() == [] and store.list_static() == []
    assert doc["findings"][0]["value_id"].encode() not in store_bytes(store.path)
    assert store.save_scan(doc) >= 1  # still usable


def test_static_results(store: Store, doc: dict[str, Any]) -> None:
    scan_id = store.save_scan(doc)
    app = {
        "package": "com.qualcomm.qti.autoregistration",
        "version_name": "1.2",
        "sha256": "ab" * 32,
    }
    fw = {"fingerprint": "Nokia/Onyx_00WW/B2N_sprout:9/PPR1/00WW_3_22C:user", "build_id": "PPR1"}
    a = store.save_static("app", app, scans=[scan_id])
    f = store.save_static("firmware", fw)
    listed = {r.id: r for r in store.list_static()}
    assert [r.id for r in store.list_static()] == [f, a]
    assert (listed[a].kind, listed[a].name, listed[a].version, listed[a].sha256) == (
        "app",
        app["package"],
        "1.2",
        "ab" * 32,
    )
    assert listed[a].scans == (scan_id,) and listed[f].scans == ()
    assert (listed[f].name, listed[f].version) == (fw["fingerprint"], "PPR1")
    assert store.load_static(a) == app
    assert store.delete(scan_id)
    assert store.list_static()[1].scans == ()  # the link goes, the result stays


@pytest.mark.parametrize(
    ("kind", "doc_", "scans", "message"),
    [
        ("apk", {}, (), "unknown static result kind"),
        ("app", {"revealed": True}, (), "raw values"),
        ("app", {"package": "x"}, (999,), "no scan 999"),
    ],
)
def test_static_results_refused(
    store: Store, kind: str, doc_: dict[str, Any], scans: tuple[int, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        store.save_static(kind, doc_, scans=scans)
    assert store.list_static() == []  # the failed link rolled the result back too


# -- two processes, crashes ------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from phonehome.store import Store
    db, doc_path, n, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    doc = json.loads(Path(doc_path).read_text())
    with Store.open(Path(db)) as store:
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(n):
            store.save_scan({**doc, "started": f"{sys.argv[5]}-{i:03d}"})
    print("ok")
    """
)


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path, doc: dict[str, Any]) -> None:
    db = tmp_path / "shared.db"
    doc_path = tmp_path / "doc.json"
    doc_path.write_text(json.dumps(doc))
    Store.open(db).close()
    n = 25
    start_at = str(time.time() + 1.5)  # both start saving at the same moment
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(doc_path), str(n), start_at, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with Store.open(db) as s:
        started = sorted(r.started or "" for r in s.scans())
    assert started == sorted(f"{w}-{i:03d}" for w in "ab" for i in range(n))
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "SELECT count(*) FROM findings") == [(2 * n * len(doc["findings"]),)]


def test_a_writer_held_up_too_long_fails_with_a_clear_message(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    db = tmp_path / "locked.db"
    Store.open(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a save
    try:
        with Store.open(db, timeout=0.2) as s:
            t0 = time.monotonic()
            with pytest.raises(StoreError, match="busy: another phonehome process") as err:
                s.save_scan(doc)
            assert time.monotonic() - t0 >= 0.15  # it waited before giving up
            assert "\n" not in str(err.value)
            assert s.scans() == []  # reading is not blocked by the writer (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Store.open(db) as s:
        s.save_scan(doc)
        assert len(s.scans()) == 1


def test_a_second_writer_waits_for_the_first(tmp_path: Path, doc: dict[str, Any]) -> None:
    db = tmp_path / "wait.db"
    Store.open(db).close()
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO static_results VALUES (NULL, 'held', '', '', '{}')")
    release = threading.Timer(0.4, lambda: other.execute("ROLLBACK"))
    release.start()
    try:
        with Store.open(db, timeout=10) as s:
            t0 = time.monotonic()
            scan_id = s.save_scan(doc)
            assert time.monotonic() - t0 >= 0.3
            assert s.load(scan_id) == doc
    finally:
        release.join()
        other.close()
    assert rows(db, "SELECT count(*) FROM static_results") == [(0,)]


CRASHER = textwrap.dedent(
    """
    import json, signal, sys
    from pathlib import Path
    import phonehome.store.db as db
    from phonehome.store import Store
    doc = json.loads(Path(sys.argv[2]).read_text())
    store = Store.open(Path(sys.argv[1]))
    store.save_scan(doc)
    real, calls = db.identity_key, []
    def held_identity_key(finding):
        calls.append(1)
        if len(calls) == 3:  # scan and input rows written, findings half way
            # Wait for the test's signal itself, not for time: SIGINT is blocked before
            # saying "inside", so it cannot arrive unseen between the print and the wait
            # (as it could before a sleep, which then slept on), and is taken here.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            print("inside", flush=True)
            if signal.sigtimedwait({signal.SIGINT}, 120) is None:
                sys.exit(3)  # the test never signalled
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            signal.raise_signal(signal.SIGINT)  # Python's own handler: KeyboardInterrupt
        return real(finding)
    db.identity_key = held_identity_key
    try:
        store.save_scan(doc)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["crash", "ctrl-c"])
def test_interrupted_save_leaves_no_partial_scan(
    tmp_path: Path, doc: dict[str, Any], sig: int
) -> None:
    db = tmp_path / "crash.db"
    doc_path = tmp_path / "doc.json"
    doc_path.write_text(json.dumps(doc))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(db), str(doc_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"inside\n", proc.stderr.read() if proc.stderr else ""
    # The transaction is open and has written rows: the log holds uncommitted pages.
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert out == b"interrupted\n" and proc.returncode == 130
    else:
        assert proc.returncode == -signal.SIGKILL
    with Store.open(db) as s:
        assert [r.id for r in s.scans()] == [1]
        assert s.load(1) == doc
        assert rows(db, "SELECT DISTINCT scan_id FROM findings") == [(1,)]
        assert rows(db, "SELECT DISTINCT scan_id FROM inputs") == [(1,)]
        assert s.save_scan(doc) == 2  # and the store takes the next scan normally
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "PRAGMA foreign_key_check") == []
