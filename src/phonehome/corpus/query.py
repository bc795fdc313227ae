"""SQL over a corpus directory: an embedded DuckDB with the tables as views.

``inputs``, ``findings`` and ``apps`` are views over the part files (DuckDB reads the
Parquet in parallel and pushes filters and projections down to it); a table without any
part is an empty view with the table's columns, so every query works on every dataset.

The connection is locked down before the user's SQL runs: it can read only the dataset's
directory (``enable_external_access = false`` with ``allowed_directories``), loads and
installs no extension (none may be fetched from the network), and cannot change those
settings back (``lock_configuration``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from phonehome.corpus.options import read_manifest
from phonehome.corpus.parts import SCHEMAS, TABLES, part_files
from phonehome.errors import UsageError

MAX_CELL = 200
"""Terminal table cells are cut here (full values with --format csv/json)."""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextlib.contextmanager
def open_dataset(directory: Path) -> Iterator[Any]:
    """A DuckDB connection with the three views, locked down (see the module docstring)."""
    import duckdb
    import pyarrow as pa

    read_manifest(directory)  # a usage error if it is no corpus directory
    root = directory.resolve()
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        for name in TABLES:
            if part_files(root, name):
                glob = _sql_string(str(root / name / "*.parquet"))
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({glob})")
            else:
                empty = pa.Table.from_pylist([], SCHEMAS[name])
                con.register(f"_empty_{name}", empty)
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM _empty_{name}")
        con.execute(f"SET allowed_directories = [{_sql_string(str(root) + '/')}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def run_sql(con: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one statement; its column names and rows. A DuckDB error is a usage error."""
    import duckdb

    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except duckdb.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"SQL: {first}") from None


def plain(value: Any) -> Any:
    """A query value as JSON would hold it (times ISO-8601, lists and maps as they are)."""
    if isinstance(value, datetime):
        text = value.isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    return value


def text_cell(value: Any) -> str:
    """A value in one line of text (tables, CSV): lists joined with ``;``."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ";".join(text_cell(v) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}={text_cell(v)}" for k, v in value.items())
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """As :func:`text_cell`, with a leading ``'`` on text a spreadsheet would run as a
    formula (host names come from captures; OWASP's advice against CSV injection)."""
    text = text_cell(value)
    if isinstance(plain(value), str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def table_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned table for a terminal; control characters shown, never obeyed."""
    from phonehome.terminal import safe

    cells = [[safe(text_cell(v))[:MAX_CELL] for v in r] for r in rows]
    widths = [len(c) for c in columns]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_is_number(r[i]) for r in rows if r[i] is not None) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(out).rstrip()

    lines = [line(columns), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


def format_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    if fmt == "table":
        return table_text(columns, rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([csv_cell(v) for v in r])
        return out.getvalue()
    records = [{c: plain(v) for c, v in zip(columns, r, strict=True)} for r in rows]
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
