"""``--format jsonl``: one finding per line, each with the scan's schema and inputs'
hashes repeated, so lines can be grepped, streamed and concatenated across scans."""

from __future__ import annotations

import json

from phonehome.report.document import ScanDocument, ScanView


def render(view: ScanView, color: bool = False) -> str:
    d = ScanDocument(view)
    head = {"schema": d.get("schema"), "inputs": [i.get("sha256") for i in d.inputs]}
    lines = [json.dumps({**head, **f.raw}, ensure_ascii=False) for f in d.findings]
    return "".join(line + "\n" for line in lines)
