"""``--format csv``: one row per finding, for spreadsheets and ``pandas.read_csv``.

The columns and their order are fixed (new columns are only ever appended):

``detector, identifier, profile_match, confidence, value_redacted, value_id, value,
encoding, form, where, protocol, readability, host, port, ips, app_uid, app_packages,
app_source, count, first_seen, last_seen, registrable_domain, owner, party, asn, as_org,
country, jurisdiction, out_of_home_region, severity, severity_reasons, trigger_event,
trigger_matched, trigger_of, trigger_p_value``

``value`` is empty unless the scan ran with ``--reveal``. ``encoding`` is the decoder chain
joined with ``>``; ``ips``, ``app_packages`` and ``severity_reasons`` are joined with a
space, ``;`` and ``; ``. Enrichment columns (``registrable_domain`` … ``trigger_p_value``)
are empty when the scan had no such data. Booleans are ``true``/``false``.

Host names and paths come from the capture, so a cell that a spreadsheet would run as a
formula (starting ``=``, ``+``, ``-``, ``@``, tab or CR) gets a leading ``'``, as OWASP
advises against CSV injection.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from phonehome.jsondoc import as_dict, as_list
from phonehome.report.document import FindingDoc, ScanDocument, ScanView

COLUMNS = (
    "detector",
    "identifier",
    "profile_match",
    "confidence",
    "value_redacted",
    "value_id",
    "value",
    "encoding",
    "form",
    "where",
    "protocol",
    "readability",
    "host",
    "port",
    "ips",
    "app_uid",
    "app_packages",
    "app_source",
    "count",
    "first_seen",
    "last_seen",
    "registrable_domain",
    "owner",
    "party",
    "asn",
    "as_org",
    "country",
    "jurisdiction",
    "out_of_home_region",
    "severity",
    "severity_reasons",
    "trigger_event",
    "trigger_matched",
    "trigger_of",
    "trigger_p_value",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def row(f: FindingDoc, revealed: bool) -> list[str]:
    app = f.app
    dest = f.destination
    juris = as_dict(dest.get("jurisdiction"))
    severity = f.severity
    trigger = f.trigger
    values: dict[str, Any] = {
        **{k: f.raw[k] for k in COLUMNS if k in f.raw},
        "value": f.get("value") if revealed else None,
        "encoding": ">".join(f.encoding),
        "ips": " ".join(str(i) for i in as_list(f.get("ips"))),
        "app_uid": app.get("uid"),
        "app_packages": ";".join(f.packages),
        "app_source": app.get("source"),
        "registrable_domain": dest.get("registrable_domain"),
        "owner": dest.get("entity"),
        "party": dest.get("party"),
        "asn": dest.get("asn"),
        "as_org": dest.get("as_org"),
        "country": dest.get("country"),
        "jurisdiction": juris.get("region"),
        "out_of_home_region": juris.get("out_of_home_region"),
        "severity": severity.get("level"),
        "severity_reasons": "; ".join(str(r) for r in as_list(severity.get("reasons"))),
        "trigger_event": trigger.get("event"),
        "trigger_matched": trigger.get("matched"),
        "trigger_of": trigger.get("of"),
        "trigger_p_value": trigger.get("p_value"),
    }
    return [cell(values.get(k)) for k in COLUMNS]


def render(view: ScanView, color: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    d = ScanDocument(view)
    for f in d.findings:
        writer.writerow(row(f, d.revealed))
    return out.getvalue()
