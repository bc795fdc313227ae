"""Cell ids: the serving cell tower, i.e. a coarse location, under cell-like keys.

Specific keys (``cellid``, ``SIM1CELLID``, ``eci``, ``nci``) are enough. Generic ones
(``cid``, ``ci``) need cell context, an ``lac``/``tac``/``mcc``/``mnc`` sibling: ad and
analytics URLs use ``cid`` for campaign and client ids. The value must be the whole
field, decimal or hex (``SIM1CELLID`` is often hex), at most 36 bits (an NR cell id);
0, -1 and Android's ``Integer.MAX_VALUE`` mean "unknown".
"""

from __future__ import annotations

import re

from phonehome.detect.base import Detector, key_is, sibling
from phonehome.model.field import Field, Match

CELL_KEYS = re.compile(r"x?(sim\d*)?(cellid\d*|cellidentity|eci|nci|ecgi)")
GENERIC_CELL_KEYS = re.compile(r"cid|ci")
CELL_CONTEXT_KEYS = re.compile(r"(sim\d*)?(lac|tac|mcc|mnc)")
_VALUE = re.compile(r"\s*((?:0[xX])?[0-9A-Fa-f]{1,11})\s*")
_UNKNOWN = frozenset((0, 2**31 - 1, 2**32 - 1))


def cell_value(text: str) -> str | None:
    m = _VALUE.fullmatch(text)
    if m is None:
        return None
    raw = m.group(1)
    is_hex = raw[:2] in ("0x", "0X") or not raw.isdigit()
    number = int(raw, 16) if is_hex else int(raw)
    if number in _UNKNOWN or number >= 2**36:
        return None
    return raw.upper().removeprefix("0X") if is_hex else raw


class CellIdDetector(Detector):
    id = "PH-CELLID"
    identifier = "cell_id"
    name = "cell id"
    keys = re.compile(f"{CELL_KEYS.pattern}|{GENERIC_CELL_KEYS.pattern}")
    sibling_keys = GENERIC_CELL_KEYS

    def scan(self, field: Field) -> list[Match]:
        if key_is(field, CELL_KEYS):
            confidence = 0.85
        elif key_is(field, GENERIC_CELL_KEYS) and sibling(field, CELL_CONTEXT_KEYS) is not None:
            confidence = 0.75
        else:
            return []
        value = cell_value(field.text)
        if value is None:
            return []
        start = len(field.text) - len(field.text.lstrip())
        end = len(field.text.rstrip())
        return [self.match(field, value, start, end, confidence)]
