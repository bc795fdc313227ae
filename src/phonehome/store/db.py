"""The embedded findings store: one SQLite file per user (docs/store.md).

Why SQLite: it is in the standard library, a single file, and its transactions and
file locking give exactly what a command-line history needs: a crash or Ctrl-C in the
middle of a save leaves the previous state, and a second process writing at the same time
waits for the first (busy timeout) instead of corrupting anything.

A scan is kept twice: as its redacted view document, byte for byte what
``phonehome scan --format json`` would print (``load`` gives it back for every report
format), and as normalised rows (inputs, findings, anomalies) that history, diff and later
queries can use without parsing documents. Raw identifier values are never stored: a
document made with ``--reveal`` is refused, not stripped, because a revealed view also
leaves raw values unmasked inside host names and paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from phonehome.errors import InputError, PhonehomeError, UsageError
from phonehome.jsondoc import as_dict, opt_int, opt_str
from phonehome.privacy import home_dir, private_files
from phonehome.store.diff import identity_key

DB_NAME = "phonehome.db"
APPLICATION_ID = 0x50484F4D
"""``PRAGMA application_id`` ("PHOM"): tells our file from any other SQLite database."""
BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another process's transaction before giving up."""
MAX_DOC_BYTES = 64 * 1024 * 1024
"""A scan document above this is refused (scans cap times/evidence, so real ones are far
smaller); the same bound applies to scan JSON files read back."""
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
SCAN_SCHEMA_PREFIX = "phonehome.scan/"
STATIC_KINDS = ("app", "firmware")
SCAN_STATUSES = ("finished", "running")
"""``scans.status``: a watch is ``running`` from its first save until it ends; a watch
that was killed stays ``running`` with an old ``saved`` time (see :attr:`ScanRow.state`)."""
STALE_AFTER_S = 60.0
"""A running watch re-saves (or touches) its row every few seconds; a ``running`` row
not saved for this long belongs to a watch that was killed or crashed."""


class StoreError(PhonehomeError):
    """The store cannot be used right now (busy, damaged, made by a newer version)."""


# Ordered schema migrations: MIGRATIONS[n] takes a database from user_version n to n+1.
# Never edit a released step; append a new one. Plain statement tuples rather than
# executescript(), which would commit half-way through the migration's transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: scans and what history/diff query.
    (
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            schema TEXT NOT NULL,
            tool_version TEXT,
            started TEXT,
            finished TEXT,
            saved TEXT NOT NULL,
            device TEXT,
            profile_sha256 TEXT,
            findings INTEGER NOT NULL,
            anomalies INTEGER NOT NULL,
            doc_sha256 TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE inputs (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            path TEXT,
            sha256 TEXT,
            size INTEGER,
            format TEXT,
            packets INTEGER,
            messages INTEGER,
            PRIMARY KEY (scan_id, idx)
        )""",
        """CREATE TABLE findings (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            identity TEXT NOT NULL,
            detector TEXT,
            identifier TEXT,
            value_id TEXT,
            value_redacted TEXT,
            app_uid INTEGER,
            app_packages TEXT,
            host TEXT,
            port INTEGER,
            protocol TEXT,
            place TEXT,
            encoding TEXT,
            readability TEXT,
            count INTEGER,
            first_seen TEXT,
            last_seen TEXT,
            PRIMARY KEY (scan_id, idx)
        )""",
        "CREATE INDEX findings_identity ON findings(identity)",
        "CREATE INDEX findings_value_id ON findings(value_id)",
        """CREATE TABLE anomalies (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            input INTEGER,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL
        )""",
        "CREATE INDEX anomalies_scan ON anomalies(scan_id)",
    ),
    # v2: static analysis results (apps/APKs, firmware builds) beside the scans, and the
    # number of cleartext findings per scan for history (backfilled from the rows).
    (
        """CREATE TABLE static_results (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            saved TEXT NOT NULL,
            doc_sha256 TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE apps (
            static_id INTEGER PRIMARY KEY REFERENCES static_results(id) ON DELETE CASCADE,
            package TEXT,
            version_name TEXT,
            version_code INTEGER,
            apk_sha256 TEXT
        )""",
        "CREATE INDEX apps_package ON apps(package)",
        """CREATE TABLE firmware_builds (
            static_id INTEGER PRIMARY KEY REFERENCES static_results(id) ON DELETE CASCADE,
            fingerprint TEXT,
            build_id TEXT,
            image_sha256 TEXT
        )""",
        """CREATE TABLE scan_static (
            scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
            static_id INTEGER NOT NULL REFERENCES static_results(id) ON DELETE CASCADE,
            PRIMARY KEY (scan_id, static_id)
        )""",
        "ALTER TABLE scans ADD COLUMN cleartext INTEGER NOT NULL DEFAULT 0",
        """UPDATE scans SET cleartext = (
            SELECT count(*) FROM findings
            WHERE findings.scan_id = scans.id AND findings.readability = 'cleartext'
        )""",
    ),
    # v3: live watches are scans written while they run (``phonehome watch``): a status
    # (every earlier scan was saved finished) so history can tell a running watch, and
    # one a kill or a crash ended, from a finished one.
    ("ALTER TABLE scans ADD COLUMN status TEXT NOT NULL DEFAULT 'finished'",),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One line of ``phonehome history``."""

    id: int
    started: str | None
    finished: str | None
    saved: str
    tool_version: str | None
    device: str | None
    profile_sha256: str | None
    inputs: tuple[str, ...]
    input_sha256: tuple[str, ...]
    findings: int
    cleartext: int
    anomalies: int
    status: str = "finished"

    @property
    def state(self) -> str:
        """``finished``, ``running`` or ``interrupted`` (a running watch whose process
        stopped saving: killed, crashed or its machine went down)."""
        if self.status != "running":
            return self.status
        try:
            saved = datetime.fromisoformat(self.saved.replace("Z", "+00:00"))
        except ValueError:
            return "interrupted"
        age = (datetime.now(UTC) - saved).total_seconds()
        return "running" if age <= STALE_AFTER_S else "interrupted"


_VOLATILE = frozenset({"started", "finished", "scan_id"})
"""Keys of a scan document that differ between two runs over the same inputs."""


@dataclass(frozen=True, slots=True)
class StaticRow:
    id: int
    kind: str
    name: str | None
    """App package or firmware fingerprint, when the document names one."""
    version: str | None
    sha256: str | None
    """SHA-256 of the analysed APK or firmware image, when the document gives it."""
    saved: str
    scans: tuple[int, ...]


def default_path() -> Path:
    return home_dir() / DB_NAME


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def require_redacted(doc: Mapping[str, Any]) -> None:
    """Refuse documents holding raw values: the store and baselines keep redacted ones only."""
    findings = doc.get("findings")
    raw = doc.get("revealed") is True or (
        isinstance(findings, list) and any(isinstance(f, dict) and "value" in f for f in findings)
    )
    if raw:
        raise UsageError(
            "refusing to keep a scan with raw values (--reveal): the store and baselines hold "
            "redacted values and keyed hashes only; use the scan's redacted view"
        )


def check_scan_doc(doc: object, source: str = "scan document") -> dict[str, Any]:
    """The shape every stored or compared document must have, else a one-line error."""
    if not isinstance(doc, dict):
        raise InputError(source, "not a phonehome scan JSON document (not an object)")
    schema = doc.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCAN_SCHEMA_PREFIX):
        raise InputError(source, f"not a phonehome scan JSON document (schema {schema!r})")
    for key in ("findings", "inputs"):
        items = doc.get(key)
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise InputError(source, f"malformed scan document: {key!r} is not a list of objects")
    return doc


def read_json_file(path: Path, max_bytes: int, what: str) -> Any:
    """A JSON file that must fit ``max_bytes``; every failure is a one-line InputError."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(str(path), f"too large for {what} ({size} bytes)")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except OSError as e:
        raise InputError(str(path), e.strerror or str(e)) from None
    except (ValueError, RecursionError) as e:
        raise InputError(str(path), f"not JSON ({type(e).__name__})") from None


def read_scan_file(path: Path) -> dict[str, Any]:
    """A scan JSON file (``phonehome scan --format json -o FILE``), size-bounded."""
    return check_scan_doc(read_json_file(path, MAX_DOC_BYTES, "a scan document"), str(path))


def _dumps(doc: Mapping[str, Any]) -> str:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DOC_BYTES:
        raise StoreError(f"document too large to store ({len(text)} characters)")
    return text


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _finding_rows(scan_id: int, findings: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """Lazily, so the rows are computed inside the save's transaction."""
    for i, f in enumerate(findings):
        app = as_dict(f.get("app"))
        yield (
            scan_id,
            i,
            identity_key(f),
            opt_str(f.get("detector")),
            opt_str(f.get("identifier")),
            opt_str(f.get("value_id")),
            opt_str(f.get("value_redacted")),
            opt_int(app.get("uid")),
            json.dumps(app.get("packages") or [], ensure_ascii=False),
            opt_str(f.get("host")),
            opt_int(f.get("port")),
            opt_str(f.get("protocol")),
            opt_str(f.get("where")),
            json.dumps(f.get("encoding") or [], ensure_ascii=False),
            opt_str(f.get("readability")),
            opt_int(f.get("count")),
            opt_str(f.get("first_seen")),
            opt_str(f.get("last_seen")),
        )


def _anomaly_rows(scan_id: int, doc: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for kind, n in as_dict(doc.get("anomalies")).items():
        if isinstance(n, int):
            rows.append((scan_id, None, str(kind), n))
    for i, inp in enumerate(doc["inputs"]):
        for kind, n in as_dict(inp.get("anomalies")).items():
            if isinstance(n, int):
                rows.append((scan_id, i, str(kind), n))
    return rows


def _static_columns(kind: str, doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """The few fields worth a column; the documented keys of a static result (store.md)."""
    if kind == "app":
        return (
            opt_str(doc.get("package")),
            opt_str(doc.get("version_name")),
            opt_int(doc.get("version_code")),
            opt_str(doc.get("sha256")),
        )
    return (
        opt_str(doc.get("fingerprint")),
        opt_str(doc.get("build_id")),
        opt_str(doc.get("sha256")),
    )


class Store:
    """An open store. Use as a context manager; every write is one transaction."""

    def __init__(self, conn: sqlite3.Connection, path: Path, timeout: float) -> None:
        self._conn = conn
        self.path = path
        self._timeout = timeout

    @classmethod
    def open(
        cls, path: Path | None = None, *, create: bool = True, timeout: float = BUSY_TIMEOUT
    ) -> Store:
        """Open (and with ``create`` make) the store at ``path``, migrated to the newest schema.

        The file and its -wal/-shm/-journal side files are mode 0600: SQLite gives side
        files the main file's mode, so making the main file 0600 first is enough.
        """
        path = path or default_path()
        if not path.exists():
            if not create:
                raise InputError(str(path), "no store here yet (nothing has been saved)")
            with private_files():
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    pass  # another process created it first: fine
                except OSError as e:
                    raise InputError(str(path), e.strerror or str(e)) from None
        elif path.is_dir():
            raise InputError(str(path), "is a directory, not a store file")
        _tighten(path)
        try:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise InputError(str(path), f"cannot open the store ({e})") from None
        store = cls(conn, path, timeout)
        try:
            store._setup()
        except BaseException:
            conn.close()
            raise
        return store

    def _setup(self) -> None:
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA secure_delete = ON")  # deleted scans are overwritten
            self._conn.execute("PRAGMA synchronous = FULL")  # a saved scan survives power loss
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.schema_version
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise InputError(str(self.path), f"not a phonehome store ({e})") from None
        if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables != 0):
            raise InputError(str(self.path), "an SQLite database, but not a phonehome store")
        if version > SCHEMA_VERSION:
            raise InputError(
                str(self.path),
                f"made by a newer phonehome (store schema v{version}; this version knows "
                f"up to v{SCHEMA_VERSION}); upgrade phonehome",
            )
        with self._errors():
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if version < SCHEMA_VERSION:
            self.migrate()
        if mode == "wal":
            _tighten_side_files(self.path)

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Apply the missing migration steps up to ``target``, all in one transaction."""
        with self._transaction():
            current = self.schema_version  # re-read: another process may have migrated
            for step in MIGRATIONS[current:target]:
                for statement in step:
                    self._conn.execute(statement)
            if target > current:
                self._conn.execute(f"PRAGMA user_version = {int(target)}")
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    # -- context management -------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite errors as one-line messages a user can act on."""
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreError(
                    f"{self.path}: busy: another phonehome process kept the store locked for "
                    f"more than {self._timeout:g} s; nothing was written, try again"
                ) from None
            raise StoreError(f"{self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: damaged store ({e})") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout),
        so two writers queue instead of failing half-way; anything escaping, Ctrl-C
        included, rolls back."""
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    # -- scans ----------------------------------------------------------------------------

    def save_scan(self, doc: dict[str, Any], *, status: str = "finished") -> int:
        """Record a redacted scan document; returns its scan id. A watch saves with
        ``status="running"`` and then :meth:`update_scan` s the same row as it goes."""
        values = self._scan_values(doc, status)
        with self._transaction():
            cur = self._conn.execute(
                "INSERT INTO scans (schema, tool_version, started, finished, saved, device,"
                " profile_sha256, findings, cleartext, anomalies, doc_sha256, doc, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            scan_id = int(cur.lastrowid or 0)
            self._insert_rows(scan_id, doc)
        return scan_id

    def update_scan(self, scan_id: int, doc: dict[str, Any], *, status: str) -> bool:
        """Replace a stored scan's document and rows in one transaction (a running watch's
        periodic save: a kill between two saves leaves the previous one whole). False
        when there is no such scan any more (deleted meanwhile)."""
        values = self._scan_values(doc, status)
        with self._transaction():
            cur = self._conn.execute(
                "UPDATE scans SET schema = ?, tool_version = ?, started = ?, finished = ?,"
                " saved = ?, device = ?, profile_sha256 = ?, findings = ?, cleartext = ?,"
                " anomalies = ?, doc_sha256 = ?, doc = ?, status = ? WHERE id = ?",
                (*values, scan_id),
            )
            if cur.rowcount == 0:
                return False
            for table in ("inputs", "findings", "anomalies"):
                self._conn.execute(f"DELETE FROM {table} WHERE scan_id = ?", (scan_id,))
            self._insert_rows(scan_id, doc)
        return True

    def touch_scan(self, scan_id: int) -> bool:
        """Mark a running watch as alive (its ``saved`` time) when nothing changed since
        its last save; False when the scan is gone."""
        with self._transaction():
            cur = self._conn.execute(
                "UPDATE scans SET saved = ? WHERE id = ?", (now_iso(), scan_id)
            )
        return cur.rowcount > 0

    def _scan_values(self, doc: dict[str, Any], status: str) -> tuple[Any, ...]:
        check_scan_doc(doc)
        require_redacted(doc)
        if status not in SCAN_STATUSES:
            raise UsageError(f"unknown scan status {status!r} (one of {SCAN_STATUSES})")
        text = _dumps(doc)
        device = as_dict(doc.get("device"))
        tool = as_dict(doc.get("tool"))
        findings: list[dict[str, Any]] = doc["findings"]
        anomalies = as_dict(doc.get("anomalies"))
        return (
            doc["schema"],
            opt_str(tool.get("version")),
            opt_str(doc.get("started")),
            opt_str(doc.get("finished")),
            now_iso(),
            opt_str(device.get("name")),
            opt_str(device.get("profile_sha256")),
            len(findings),
            sum(1 for f in findings if f.get("readability") == "cleartext"),
            sum(n for n in anomalies.values() if isinstance(n, int)),
            _sha256(text),
            text,
            status,
        )

    def _insert_rows(self, scan_id: int, doc: dict[str, Any]) -> None:
        self._conn.executemany(
            "INSERT INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    scan_id,
                    i,
                    opt_str(inp.get("path")),
                    opt_str(inp.get("sha256")),
                    opt_int(inp.get("size")),
                    opt_str(inp.get("format")),
                    opt_int(inp.get("packets")),
                    opt_int(inp.get("messages")),
                )
                for i, inp in enumerate(doc["inputs"])
            ],
        )
        self._conn.executemany(
            f"INSERT INTO findings VALUES ({', '.join('?' * 18)})",
            _finding_rows(scan_id, doc["findings"]),
        )
        self._conn.executemany(
            "INSERT INTO anomalies VALUES (?, ?, ?, ?)", _anomaly_rows(scan_id, doc)
        )

    def scans(self) -> list[ScanRow]:
        """Every stored scan, newest first (by scan start, then by order of saving)."""
        with self._errors():
            inputs: dict[int, list[tuple[str, str]]] = {}
            for scan_id, p, sha in self._conn.execute(
                "SELECT scan_id, path, sha256 FROM inputs ORDER BY scan_id, idx"
            ):
                inputs.setdefault(scan_id, []).append((p or "", sha or ""))
            rows = self._conn.execute(
                "SELECT id, started, finished, saved, tool_version, device, profile_sha256,"
                " findings, cleartext, anomalies, status FROM scans"
                " ORDER BY started DESC, id DESC"
            ).fetchall()
        return [
            ScanRow(
                id=r[0],
                started=r[1],
                finished=r[2],
                saved=r[3],
                tool_version=r[4],
                device=r[5],
                profile_sha256=r[6],
                inputs=tuple(p for p, _ in inputs.get(r[0], [])),
                input_sha256=tuple(s for _, s in inputs.get(r[0], [])),
                findings=r[7],
                cleartext=r[8],
                anomalies=r[9],
                status=r[10],
            )
            for r in rows
        ]

    def repeats(self, rows: list[ScanRow]) -> dict[int, int]:
        """Scan id -> the earliest scan it repeats: the same inputs (SHA-256), profile and
        phonehome version, and the same document apart from its start and end times (so
        the same options too, as far as they change a result). Such a rescan is usually
        made for another format, which ``phonehome show N --format F`` gives without one.

        Only scans that share inputs, profile and version are loaded and compared. A watch
        (any status but ``finished``) is never a rescan: its input is a live source."""
        groups: dict[tuple[Any, ...], list[ScanRow]] = {}
        for r in rows:
            if r.input_sha256 and r.status == "finished":
                key = (r.input_sha256, r.profile_sha256, r.tool_version)
                groups.setdefault(key, []).append(r)
        out: dict[int, int] = {}
        for group in groups.values():
            if len(group) < 2:
                continue
            first: dict[str, int] = {}
            for r in sorted(group, key=lambda r: r.id):
                doc = {k: v for k, v in self.load(r.id).items() if k not in _VOLATILE}
                content = hashlib.sha256(
                    json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
                ).hexdigest()
                if content in first:
                    out[r.id] = first[content]
                else:
                    first[content] = r.id
        return out

    def load(self, scan_id: int) -> dict[str, Any]:
        """The document exactly as saved; a one-line error for an unknown id."""
        with self._errors():
            row = self._conn.execute("SELECT doc FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if row is None:
            raise UsageError(f"no scan {scan_id} in {self.path} (see phonehome history)")
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def delete(self, scan_id: int) -> bool:
        """Remove a scan and its rows; False when there was none with that id."""
        with self._transaction():
            cur = self._conn.execute("DELETE FROM scans WHERE id = ?", (scan_id,))
        self._checkpoint()
        return cur.rowcount > 0

    def purge(self) -> int:
        """Remove every scan and static result; returns how many scans there were."""
        with self._transaction():
            n = self._conn.execute("DELETE FROM scans").rowcount
            self._conn.execute("DELETE FROM static_results")
        with self._errors():
            self._conn.execute("VACUUM")  # give the freed pages back: an empty store is small
        self._checkpoint()
        return n

    def _checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so deleted data (overwritten
        there by secure_delete) does not linger in the log. Best effort: a reader in
        another process may hold the log open."""
        with self._errors():
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- static analysis results -----------------------------------------------------------

    def save_static(self, kind: str, doc: dict[str, Any], scans: Iterable[int] = ()) -> int:
        """Record a static analysis result (``kind`` "app" or "firmware"), optionally
        linked to the scans of the same device/app; returns its id."""
        if kind not in STATIC_KINDS:
            raise UsageError(f"unknown static result kind {kind!r} (one of {STATIC_KINDS})")
        if not isinstance(doc, dict):
            raise UsageError("a static analysis result must be a JSON object")
        require_redacted(doc)
        text = _dumps(doc)
        table = "apps" if kind == "app" else "firmware_builds"
        with self._transaction():
            cur = self._conn.execute(
                "INSERT INTO static_results (kind, saved, doc_sha256, doc) VALUES (?, ?, ?, ?)",
                (kind, now_iso(), _sha256(text), text),
            )
            static_id = int(cur.lastrowid or 0)
            columns = _static_columns(kind, doc)
            marks = ", ".join("?" * (len(columns) + 1))
            self._conn.execute(f"INSERT INTO {table} VALUES ({marks})", (static_id, *columns))
            for scan_id in scans:
                try:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO scan_static VALUES (?, ?)", (scan_id, static_id)
                    )
                except sqlite3.IntegrityError:
                    raise UsageError(f"no scan {scan_id} to link the static result to") from None
        return static_id

    def list_static(self) -> list[StaticRow]:
        """Every static result, newest first."""
        with self._errors():
            links: dict[int, list[int]] = {}
            for scan_id, static_id in self._conn.execute(
                "SELECT scan_id, static_id FROM scan_static ORDER BY scan_id"
            ):
                links.setdefault(static_id, []).append(scan_id)
            rows = self._conn.execute(
                "SELECT s.id, s.kind, coalesce(a.package, f.fingerprint),"
                " coalesce(a.version_name, CAST(a.version_code AS TEXT), f.build_id),"
                " coalesce(a.apk_sha256, f.image_sha256), s.saved"
                " FROM static_results s"
                " LEFT JOIN apps a ON a.static_id = s.id"
                " LEFT JOIN firmware_builds f ON f.static_id = s.id"
                " ORDER BY s.id DESC"
            ).fetchall()
        return [
            StaticRow(
                id=r[0],
                kind=r[1],
                name=r[2],
                version=r[3],
                sha256=r[4],
                saved=r[5],
                scans=tuple(links.get(r[0], [])),
            )
            for r in rows
        ]

    def load_static(self, static_id: int) -> dict[str, Any]:
        with self._errors():
            row = self._conn.execute(
                "SELECT doc FROM static_results WHERE id = ?", (static_id,)
            ).fetchone()
        if row is None:
            raise UsageError(f"no static result {static_id} in {self.path}")
        doc: dict[str, Any] = json.loads(row[0])
        return doc


def _tighten(path: Path) -> None:
    """Make an existing store private too (one copied in, or made under a loose umask)."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as e:
        raise InputError(str(path), e.strerror or str(e)) from None


def _tighten_side_files(path: Path) -> None:
    for suffix in SIDE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        try:
            if side.stat().st_mode & 0o077:
                os.chmod(side, 0o600)
        except OSError:
            continue  # absent, or gone between stat and chmod
