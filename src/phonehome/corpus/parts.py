"""The dataset on disk: three tables as directories of Parquet part files, one part per
task per table, each written under a temporary name and renamed into place.

    OUT/corpus.json              the manifest (options.py)
    OUT/inputs/<task>.parquet    one row per task: what was read, status, error, counts
    OUT/findings/<task>.parquet  one row per finding (only tasks with findings have one)
    OUT/apps/<task>.parquet      one row per analysed APK

Parts are small (one task's rows), so they are written without the Arrow schema copy and
without column statistics, which would be most of a one-row file (10 kB -> 5 kB).

A task writes its ``findings``/``apps`` part first and its ``inputs`` part last: the
inputs part is the commit mark. A crash leaves either nothing or a whole, renamed file
(never a half one: readers never see a temporary name), and a findings part whose inputs
part is missing is an orphan the next run removes before it starts.

Columns are fixed by the schemas below (docs/corpus.md describes each). No column holds
an identifier value: ``value_id`` is the keyed hash and ``value_redacted`` the masked
form, as in the store.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from phonehome.privacy import open_private, private_files

TABLES = ("inputs", "findings", "apps")
TMP_SUFFIX = ".tmp"

_ts = pa.timestamp("ms", tz="UTC")
_strings = pa.list_(pa.string())

INPUTS = pa.schema(
    [
        ("task", pa.string()),
        ("kind", pa.string()),
        ("path", pa.string()),
        ("files", pa.int32()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("format", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("session", pa.string()),
        ("device", pa.string()),
        ("packets", pa.int64()),
        ("flows", pa.int64()),
        ("messages", pa.int64()),
        ("anomalies", pa.int64()),
        ("anomaly_kinds", pa.map_(pa.string(), pa.int64())),
        ("sent_cleartext", pa.int64()),
        ("sent_encrypted", pa.int64()),
        ("sent_decrypted", pa.int64()),
        ("coverage", pa.float64()),
        ("not_inspected", pa.int64()),
        ("findings", pa.int64()),
        ("first_time", _ts),
        ("last_time", _ts),
        ("duration_s", pa.float64()),
        ("cpu_s", pa.float64()),
        ("worker", pa.string()),
        ("worker_peak_rss_mb", pa.float64()),
        ("phonehome", pa.string()),
        ("options", pa.string()),
        ("stat_sig", pa.string()),
        ("finished_at", _ts),
    ]
)

FINDINGS = pa.schema(
    [
        ("task", pa.string()),
        ("input_sha256", pa.string()),
        ("identifier", pa.string()),
        ("detector", pa.string()),
        ("profile_match", pa.bool_()),
        ("confidence", pa.float64()),
        ("value_id", pa.string()),
        ("value_redacted", pa.string()),
        ("form", pa.string()),
        ("encoding", _strings),
        ("where", pa.string()),
        ("protocol", pa.string()),
        ("readability", pa.string()),
        ("host", pa.string()),
        ("port", pa.int32()),
        ("ips", _strings),
        ("registrable_domain", pa.string()),
        ("owner", pa.string()),
        ("party", pa.string()),
        ("asn", pa.int64()),
        ("as_org", pa.string()),
        ("country", pa.string()),
        ("jurisdiction", pa.string()),
        ("out_of_home_region", pa.bool_()),
        ("app", pa.string()),
        ("app_packages", _strings),
        ("app_uid", pa.int64()),
        ("app_source", pa.string()),
        ("count", pa.int64()),
        ("first_seen", _ts),
        ("last_seen", _ts),
        ("interval_s", pa.float64()),
        ("severity", pa.string()),
        ("first_input", pa.int32()),
        ("first_frame", pa.int64()),
        ("community_id", pa.string()),
    ]
)

APPS = pa.schema(
    [
        ("task", pa.string()),
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("package", pa.string()),
        ("version_name", pa.string()),
        ("version_code", pa.int64()),
        ("min_sdk", pa.int32()),
        ("target_sdk", pa.int32()),
        ("shared_user_id", pa.string()),
        ("signer", pa.string()),
        ("signer_subject", pa.string()),
        ("signature_schemes", _strings),
        ("permissions", _strings),
        ("reads", _strings),
        ("leaks", _strings),
        ("chains", pa.int32()),
        ("triggers", _strings),
        ("endpoints", _strings),
        ("endpoint_hosts", _strings),
        ("cleartext_hosts", _strings),
        ("endpoint_owners", _strings),
        ("trackers", _strings),
        ("cleartext_allowed", pa.bool_()),
        ("risk_score", pa.int32()),
        ("risky", pa.bool_()),
        ("verdict", pa.string()),
        ("problems", _strings),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {"inputs": INPUTS, "findings": FINDINGS, "apps": APPS}


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by column; a missing key is null) as a table of ``name``."""
    schema = SCHEMAS[name]
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows], schema)


def part_path(out: Path, name: str, key: str) -> Path:
    return out / name / f"{key}.parquet"


def write_part(out: Path, name: str, key: str, rows: list[dict[str, Any]]) -> Path:
    """Write the rows as ``OUT/name/key.parquet``: a temporary file (mode 0600) in the
    same directory, flushed to disk, then renamed over any earlier part of the task."""
    folder = out / name
    with private_files():
        folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{key}.parquet"
    tmp = folder / f".{key}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"
    try:
        with open_private(tmp) as fh:
            pq.write_table(
                table(name, rows),
                fh,
                compression="zstd",
                store_schema=False,  # the Parquet types say it all; half of a 1-row part
                write_statistics=False,  # a part holds one task: nothing to skip inside it
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def remove_part(out: Path, name: str, key: str) -> None:
    part_path(out, name, key).unlink(missing_ok=True)


def part_keys(out: Path, name: str) -> set[str]:
    """Task keys that have a part of table ``name`` (temporary files are not parts)."""
    folder = out / name
    if not folder.is_dir():
        return set()
    return {p.name[: -len(".parquet")] for p in folder.iterdir() if _is_part(p.name)}


def _is_part(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(".")


def part_files(out: Path, name: str) -> list[Path]:
    folder = out / name
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _is_part(p.name))


def tidy(out: Path) -> tuple[int, int]:
    """Before a run: remove temporary files a crashed writer left, and findings/apps
    parts whose task never wrote its inputs part (the commit mark). Returns how many of
    each were removed. Only one run may write a directory at a time (the engine locks)."""
    temps = 0
    for name in TABLES:
        folder = out / name
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX):
                    p.unlink(missing_ok=True)
                    temps += 1
    committed = part_keys(out, "inputs")
    orphans = 0
    for name in ("findings", "apps"):
        for key in part_keys(out, name) - committed:
            remove_part(out, name, key)
            orphans += 1
    return temps, orphans


def read_part(path: Path) -> list[dict[str, Any]]:
    """The rows of one part file; none if it cannot be read (it is then redone)."""
    name = path.parent.name
    try:
        return list(pq.read_table(path, schema=SCHEMAS[name]).to_pylist())
    except (OSError, ValueError, KeyError):
        return []


def read_table_rows(out: Path, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of a table at once: the part files read in parallel as one Arrow dataset
    (a rerun's look at 100,000 parts; names starting with ``.`` are not parts)."""
    if not part_files(out, name):
        return []
    import pyarrow.dataset as ds

    dataset = ds.dataset(out / name, format="parquet", schema=SCHEMAS[name])
    return list(dataset.to_table(columns=columns).to_pylist())


def read_rows(out: Path, name: str, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of a table, part by part (for resume and tests; queries use DuckDB)."""
    for p in part_files(out, name):
        yield from pq.read_table(p, columns=columns, schema=SCHEMAS[name]).to_pylist()
