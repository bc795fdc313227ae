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


def overview(con: Any) -> dict[str, Any]:
    by_status = dict(_rows(con, "SELECT status, count(*) FROM inputs GROUP BY 1"))
    size, packets, messages, clear, enc, dec, first, last = _one(
        con,
        "SELECT sum(size), sum(packets), sum(messages), sum(sent_cleartext), "
        "sum(sent_encrypted), sum(sent_decrypted), min(first_time), max(last_time) FROM inputs",
    )
    n_findings, identifiers, values, apps, sends = _one(
        con,
        "SELECT count(*), count(DISTINCT identifier), count(DISTINCT value_id), "
        "count(DISTINCT app), sum(count) FROM findings",
    )
    with_findings = _one(con, "SELECT count(DISTINCT input_sha256) FROM findings")[0]
    analysed = _one(con, "SELECT count(DISTINCT sha256) FROM apps")[0]
    sent = (clear or 0) + (enc or 0) + (dec or 0)
    return {
        "inputs": sum(by_status.values()),
        "done": by_status.get("done", 0),
        "failed": by_status.get("failed", 0) + by_status.get("error", 0),
        "bytes": int(size or 0),
        "packets": int(packets or 0),
        "messages": int(messages or 0),
        "inputs_with_findings": int(with_findings or 0),
        "findings": int(n_findings or 0),
        "identifiers": int(identifiers or 0),
        "values": int(values or 0),
        "sending_apps": int(apps or 0),
        "sends": int(sends or 0),
        "apks_analysed": int(analysed or 0),
        "coverage": ((clear or 0) + (dec or 0)) / sent if sent else None,
        "first_time": first,
        "last_time": last,
    }


_COUNTS = (
    "count(DISTINCT input_sha256) AS inputs, count(DISTINCT app) AS apps, "
    'count(DISTINCT value_id) AS "values", sum(count) AS sends'
)
_RANK = "inputs DESC, sends DESC"


def build_report(con: Any, directory: Path, *, top: int = 10) -> Report:
    report = Report(
        str(directory),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        overview(con),
    )
    report.identifiers = [
        (str(i), int(n))
        for i, n in _rows(
            con,
            "SELECT identifier, count(DISTINCT input_sha256) AS n FROM findings "
            "GROUP BY 1 ORDER BY n DESC, identifier",
        )
    ]
    s = report.sections
    s.append(
        _section(
            con,
            "receivers",
            "Which identifiers went to which owners and countries",
            "Owner: the company behind the destination (tracker list or curated map); "
            "AS organisation and country from the address registries.",
            f"SELECT identifier, owner, as_org, country, jurisdiction, {_COUNTS} "
            f"FROM findings GROUP BY ALL ORDER BY identifier, {_RANK}, owner, as_org, country",
            MAX_FULL_ROWS,
        )
    )
    s.append(
        _section(
            con,
            "cleartext",
            "Sent in clear text",
            "Readable by anyone on the path (HTTP, DNS, MQTT without TLS, raw payloads).",
            f"SELECT identifier, host, protocol, owner, country, {_COUNTS} FROM findings "
            f"WHERE readability = 'cleartext' GROUP BY ALL ORDER BY {_RANK}, identifier, host",
            top,
        )
    )
    s.append(
        _section(
            con,
            "out_of_eu",
            "Transfers out of the EU/EEA",
            "Destinations registered outside the EU/EEA (adequacy countries included: "
            "an adequacy decision is a basis for the transfer, not a stay in the EU).",
            f"SELECT identifier, country, jurisdiction, owner, {_COUNTS} FROM findings "
            "WHERE jurisdiction IS NOT NULL AND jurisdiction <> 'EU/EEA' "
            f"GROUP BY ALL ORDER BY {_RANK}, identifier, country",
            top,
        )
    )
    s.append(
        _section(
            con,
            "top_destinations",
            f"Top {top} destinations per identifier",
            "Destination: the registrable domain (or the address when there is no name).",
            "SELECT identifier, rank, destination, owner, country, inputs, apps, sends FROM ("
            "SELECT identifier, coalesce(registrable_domain, host) AS destination, "
            "any_value(owner) AS owner, any_value(country) AS country, "
            f"{_COUNTS}, row_number() OVER (PARTITION BY identifier ORDER BY "
            "count(DISTINCT input_sha256) DESC, sum(count) DESC, "
            "coalesce(registrable_domain, host)) AS rank "
            "FROM findings GROUP BY identifier, destination) "
            f"WHERE rank <= {top} ORDER BY identifier, rank",
            MAX_FULL_ROWS,
        )
    )
    s.append(
        _section(
            con,
            "apps",
            "Per app (from traffic)",
            "Apps named by PCAPdroid, HAR/mitmproxy or a User-Agent; most identifiers first.",
            "SELECT app, list(DISTINCT identifier ORDER BY identifier) AS identifiers, "
            "count(DISTINCT coalesce(registrable_domain, host)) AS destinations, "
            "bool_or(readability = 'cleartext') AS cleartext, "
            "bool_or(jurisdiction IS NOT NULL AND jurisdiction <> 'EU/EEA') AS out_of_eu, "
            f"{_COUNTS} FROM findings WHERE app IS NOT NULL GROUP BY app "
            "ORDER BY len(identifiers) DESC, inputs DESC, sends DESC, app",
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
