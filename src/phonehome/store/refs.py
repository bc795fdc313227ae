"""What a SCAN argument names: a stored scan id, or the path of a scan JSON file.

Commands that take a SCAN (``show``, ``diff``, ``baseline``, ``export``) accept both, so
CI jobs can diff and baseline ``phonehome scan --format json -o F`` output without a store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phonehome.errors import UsageError
from phonehome.store.db import Store, read_scan_file, require_redacted

MAX_SCAN_ID = (1 << 63) - 1
"""The largest SQLite integer; a larger id would make sqlite3 raise OverflowError."""


def parse_scan_id(text: str) -> int | None:
    """The stored-scan id that ``text`` names, or None when it is not one.

    Only ASCII digits count: ``str.isdigit()`` also accepts '²' (which ``int()`` refuses)
    and ``int()`` also accepts '٣', so both would make ids that look like no id a user typed.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_SCAN_ID else None


def load_scan(ref: str, db_path: Path | None) -> tuple[dict[str, Any], str]:
    """A scan by stored id or from a scan JSON file, with a label for headings."""
    if ref.isascii() and ref.isdigit():
        scan_id = parse_scan_id(ref)
        if scan_id is None:
            raise UsageError(f"no scan {ref[:40]} (see 'phonehome history' for the stored ones)")
        with Store.open(db_path, create=False) as store:
            return store.load(scan_id), f"scan {ref}"
    doc = read_scan_file(Path(ref))
    require_redacted(doc)
    return doc, Path(ref).name
