"""``corpus report``: the questions a regulator asks first, as SQL over the dataset.

Each section is one DuckDB query over the views of :mod:`.query`; the result is a
:class:`Report` (plain values) that :mod:`.report_formats` renders as text, markdown,
CSV or HTML. Counting conventions, the same in every section:

- ``inputs``: distinct inputs (by content, so a capture given twice counts once);
- ``apps``: distinct sending apps among the findings that name one (PCAPdroid, HAR,
  User-Agent); findings without an app label are not counted as an app;
- ``values``: distinct ``value_id`` (distinct devices' identifiers, never the values);
- ``sends``: occurrences (the findings' ``count``).

"Out of the EU/EEA" is every destination whose jurisdiction is known and is not the
EU/EEA: adequacy countries included (an adequacy decision is a legal basis for the
transfer, it does not make it stay in the EU). Countries are where the addresses are
registered (docs/scan-json.md), not where a server stands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FULL_ROWS = 500
"""The identifier -> owner -> country table is complete up to this many rows."""
SOURCE = "_report_findings"
"""The columns of ``findings`` the report reads, loaded once into DuckDB's memory: the
report asks some thirty questions, and over a corpus of many small part files each
question would open every file again (benchmarks/README.md: opening the files, not the
rows, is the cost of a large corpus)."""
COLUMNS = (
    "identifier, owner, as_org, country, jurisdiction, host, protocol, readability, "
    "registrable_domain, app, count, "
    "if(input_sha256 IS NULL, NULL, hash(input_sha256)) AS input_sha256, "
    "if(value_id IS NULL, NULL, hash(value_id)) AS value_id"
)
"""The columns the report reads. It only counts distinct inputs and values, never shows
them: their long strings are loaded as 64-bit hashes, cheaper to count distinct (over 10
million rows the whole report went from 56 to 48 s of CPU, benchmarks/README.md). Two of
10^6 distinct strings share a hash with probability ~3e-8; NULL stays NULL
(``hash(NULL)`` is a number)."""


@dataclass
class Section:
    id: str
    title: str
    note: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False


@dataclass
class Report:
    directory: str
    generated: str
    overview: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    identifiers: list[tuple[str, int]] = field(default_factory=list)
    """(identifier, inputs) for the headline, most widespread first."""


def _rows(con: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def _one(con: Any, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    return tuple(row) if row is not None else ()


def _section(
    con: Any, sid: str, title: str, note: str, sql: str, limit: int, *params: Any
) -> Section:
    cursor = con.execute(f"{sql} LIMIT {limit + 1}", list(params))
    columns = [d[0] for d in cursor.description]
    rows = [tuple(r) for r in cursor.fetchall()]
    return Section(sid, title, note, columns, rows[:limit], truncated=len(rows) > limit)


Measure = tuple[str, str]
"""(column name, SQL aggregate)."""

INPUTS: Measure = ("inputs", "count(DISTINCT input_sha256)")
APPS: Measure = ("apps", "count(DISTINCT app)")
VALUES: Measure = ("values", "count(DISTINCT value_id)")
SENDS: Measure = ("sends", "sum(count)")


def aggregate(
    con: Any,
    keys: list[Measure],
    where: str,
    plain: list[Measure],
    distinct: list[Measure],
) -> list[dict[str, Any]]:
    """``SELECT keys, plain..., distinct... FROM findings WHERE ... GROUP BY keys``, run as
    one query for the plain aggregates and one per DISTINCT aggregate, joined here on the
    keys (NULL equal to NULL).

    DuckDB computes one ``count(DISTINCT ...)`` per group quickly, several in one query
    slowly: over 10 million findings, 4 s for one and 67 s for three on this machine
    (benchmarks/README.md)."""
    names = [n for n, _ in keys]
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in keys)
    cond = f"WHERE {where}" if where else ""
    n = len(keys)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    measures = ", ".join(f'{expr} AS "{name}"' for name, expr in plain) or "count(*) AS _n"
    for r in _rows(con, f"SELECT {select}, {measures} FROM {SOURCE} {cond} GROUP BY ALL"):
        row = dict(zip(names, r[:n], strict=True))
        row.update(zip([m for m, _ in plain], r[n:], strict=False))
        rows[tuple(r[:n])] = row
    for name, expr in distinct:
        sql = f'SELECT {select}, {expr} AS "{name}" FROM {SOURCE} {cond} GROUP BY ALL'
        for r in _rows(con, sql):
            if tuple(r[:n]) in rows:
                rows[tuple(r[:n])][name] = r[n]
    return list(rows.values())


def _order(*spec: str) -> Any:
    """A sort key over row dicts: column names, ``-name`` for descending; NULLs last."""

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        out: list[Any] = []
        for col in spec:
            desc = col.startswith("-")
            value = row.get(col.lstrip("-"))
            if isinstance(value, list):
                value = len(value)
            if value is None:
                out += [1, 0]
            elif desc:
                out += [0, -value]
            else:
                out += [0, value]
        return tuple(out)

    return key


def _table(
    sid: str,
    title: str,
    note: str,
    columns: list[str],
    found: list[dict[str, Any]],
    limit: int,
) -> Section:
    rows = [tuple(r.get(c) for c in columns) for r in found[:limit]]
    return Section(sid, title, note, columns, rows, truncated=len(found) > limit)


def overview(con: Any) -> dict[str, Any]:
    by_status = dict(_rows(con, "SELECT status, count(*) FROM inputs GROUP BY 1"))
    size, packets, messages, clear, enc, dec, first, last = _one(
        con,
        "SELECT sum(size), sum(packets), sum(messages), sum(sent_cleartext), "
        "sum(sent_encrypted), sum(sent_decrypted), min(first_time), max(last_time) FROM inputs",
    )
    n_findings, sends = _one(con, f"SELECT count(*), sum(count) FROM {SOURCE}")
    distinct = {
        column: _one(con, f"SELECT count(DISTINCT {column}) FROM {SOURCE}")[0]
        for column in ("identifier", "value_id", "app", "input_sha256")
    }
    analysed = _one(con, "SELECT count(DISTINCT sha256) FROM apps")[0]
    sent = (clear or 0) + (enc or 0) + (dec or 0)
    return {
        "inputs": sum(by_status.values()),
        "done": by_status.get("done", 0),
        "failed": by_status.get("failed", 0) + by_status.get("error", 0),
        "bytes": int(size or 0),
        "packets": int(packets or 0),
        "messages": int(messages or 0),
        "inputs_with_findings": int(distinct["input_sha256"] or 0),
        "findings": int(n_findings or 0),
        "identifiers": int(distinct["identifier"] or 0),
        "values": int(distinct["value_id"] or 0),
        "sending_apps": int(distinct["app"] or 0),
        "sends": int(sends or 0),
        "apks_analysed": int(analysed or 0),
        "coverage": ((clear or 0) + (dec or 0)) / sent if sent else None,
        "first_time": first,
        "last_time": last,
    }


COUNTS = ["inputs", "apps", "values", "sends"]
APP_COLUMNS = [
    *("app", "identifiers", "destinations", "cleartext", "out_of_eu"),
    *("inputs", "values", "sends"),
]
OUT_OF_EU = "jurisdiction IS NOT NULL AND jurisdiction <> 'EU/EEA'"
DESTINATION = "coalesce(registrable_domain, host)"


def build_report(con: Any, directory: Path, *, top: int = 10) -> Report:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SOURCE} AS SELECT {COLUMNS} FROM findings")
    report = Report(
        str(directory),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        overview(con),
    )
    report.identifiers = [
        (str(i), int(n))
        for i, n in _rows(
            con,
            f"SELECT identifier, count(DISTINCT input_sha256) AS n FROM {SOURCE} "
            "GROUP BY 1 ORDER BY n DESC, identifier",
        )
    ]
    counts = [INPUTS, APPS, VALUES]
    s = report.sections

    def keys(*names: str) -> list[Measure]:
        return [(n, n) for n in names]

    cols = ["identifier", "owner", "as_org", "country", "jurisdiction"]
    found = aggregate(con, keys(*cols), "", [SENDS], counts)
    found.sort(key=_order("identifier", "-inputs", "-sends", "owner", "as_org", "country"))
    s.append(
        _table(
            "receivers",
            "Which identifiers went to which owners and countries",
            "Owner: the company behind the destination (tracker list or curated map); "
            "AS organisation and country from the address registries.",
            cols + COUNTS,
            found,
            MAX_FULL_ROWS,
        )
    )
    cols = ["identifier", "host", "protocol", "owner", "country"]
    found = aggregate(con, keys(*cols), "readability = 'cleartext'", [SENDS], counts)
    found.sort(key=_order("-inputs", "-sends", "identifier", "host"))
    s.append(
        _table(
            "cleartext",
            "Sent in clear text",
            "Readable by anyone on the path (HTTP, DNS, MQTT without TLS, raw payloads).",
            cols + COUNTS,
            found,
            top,
        )
    )
    cols = ["identifier", "country", "jurisdiction", "owner"]
    found = aggregate(con, keys(*cols), OUT_OF_EU, [SENDS], counts)
    found.sort(key=_order("-inputs", "-sends", "identifier", "country", "owner"))
    s.append(
        _table(
            "out_of_eu",
            "Transfers out of the EU/EEA",
            "Destinations registered outside the EU/EEA (adequacy countries included: "
            "an adequacy decision is a basis for the transfer, not a stay in the EU).",
            cols + COUNTS,
            found,
            top,
        )
    )
    found = aggregate(
        con,
        [("identifier", "identifier"), ("destination", DESTINATION)],
        "",
        [("owner", "min(owner)"), ("country", "min(country)"), SENDS],
        [INPUTS, APPS],
    )
    found.sort(key=_order("identifier", "-inputs", "-sends", "destination"))
    ranked: list[dict[str, Any]] = []
    rank, last = 0, None
    for row in found:
        rank = rank + 1 if row["identifier"] == last else 1
        last = row["identifier"]
        if rank <= top:
            ranked.append({**row, "rank": rank})
    s.append(
        _table(
            "top_destinations",
            f"Top {top} destinations per identifier",
            "Destination: the registrable domain (or the address when there is no name).",
            ["identifier", "rank", "destination", "owner", "country", "inputs", "apps", "sends"],
            ranked,
            MAX_FULL_ROWS,
        )
    )
    found = aggregate(
        con,
        [("app", "app")],
        "app IS NOT NULL",
        [
            ("cleartext", "bool_or(readability = 'cleartext')"),
            ("out_of_eu", f"bool_or({OUT_OF_EU})"),
            SENDS,
        ],
        [
            ("identifiers", "list(DISTINCT identifier ORDER BY identifier)"),
            ("destinations", f"count(DISTINCT {DESTINATION})"),
            INPUTS,
            VALUES,
        ],
    )
    found.sort(key=_order("-identifiers", "-inputs", "-sends", "app"))
    s.append(
        _table(
            "apps",
            "Per app (from traffic)",
            "Apps named by PCAPdroid, HAR/mitmproxy or a User-Agent; most identifiers first.",
            APP_COLUMNS,
            found,
            top,
        )
    )
    if report.overview["apks_analysed"]:
        s.append(
            _section(
                con,
                "static_apps",
                "Per app (from code)",
                "APKs analysed: identifiers whose source reaches a network sink in the "
                "call graph, tracker SDKs, hosts named in code over plain http.",
                "SELECT package, version_name AS version, leaks AS reaches_network, "
                "trackers, cleartext_hosts, risk_score, verdict FROM apps "
                "ORDER BY risk_score DESC NULLS LAST, package, version_code",
                top,
            )
        )
    s.append(
        _section(
            con,
            "failed",
            "Inputs not done",
            "failed: the input cannot be read as what it should be (a rerun skips it); "
            "error: phonehome failed on it (a rerun retries it).",
            "SELECT path, status, error FROM inputs WHERE status <> 'done' ORDER BY status, path",
            max(top, 50),
        )
    )
    return report
