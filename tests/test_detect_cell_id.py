"""Cell id detector: cell keys; generic cid/ci only with lac/tac/mcc/mnc beside them."""

from __future__ import annotations

import pytest

from phonehome.detect.cell_id import CellIdDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit(field("263713", "cellid"), value="263713"),
    hit(field("0x1A2B3C", "SIM1CELLID"), value="1A2B3C"),
    hit(field("1a2b3c", "cell_id"), value="1A2B3C"),
    hit(field("27447553", "eci"), value="27447553"),
    hit(field("263713", "cid", lac="4021"), value="263713"),
    hit(field("12345", "ci", mcc="242", mnc="01"), value="12345"),
    hit(field("68719476735", "nci"), value="68719476735"),  # 2**36 - 1: the largest NR cell id
    miss(field("263713", "cid")),  # ad URL campaign id: no cell context
    miss(field("263713", "cid", sid="159106", exch="adx")),
    miss(field("263713", "campaign")),
    miss(field("0", "cellid")),
    miss(field("2147483647", "cellid")),  # Integer.MAX_VALUE = unknown
    miss(field("-1", "cellid")),
    miss(field("68719476736", "nci")),  # over 36 bits
    miss(field("263713 and more", "cellid")),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(CellIdDetector)


def test_generic_key_is_less_confident() -> None:
    specific = CellIdDetector().scan(field("263713", "cellid"))[0]
    generic = CellIdDetector().scan(field("263713", "cid", lac="4021"))[0]
    assert generic.confidence < specific.confidence
