"""Cell id detector: cell keys; generic cid/ci only with lac/tac/mcc/mnc beside them."""

from __future__ import annotations

import pytest

from phonehome.detect.cell_id import CellIdDetector
from phonehome.model.field import Field
from tests.builders_detect import field, values

HITS = [
    (field("263713", "cellid"), "263713"),
    (field("0x1A2B3C", "SIM1CELLID"), "1A2B3C"),
    (field("1a2b3c", "cell_id"), "1A2B3C"),
    (field("27447553", "eci"), "27447553"),
    (field("263713", "cid", lac="4021"), "263713"),
    (field("12345", "ci", mcc="242", mnc="01"), "12345"),
    (field("68719476735", "nci"), "68719476735"),  # 2**36 - 1: the largest NR cell id
]

MISSES = [
    field("263713", "cid"),  # ad URL campaign id: no cell context
    field("263713", "cid", sid="159106", exch="adx"),
    field("263713", "campaign"),
    field("0", "cellid"),
    field("2147483647", "cellid"),  # Integer.MAX_VALUE = unknown
    field("-1", "cellid"),
    field("68719476736", "nci"),  # over 36 bits
    field("263713 and more", "cellid"),
]


@pytest.mark.parametrize(("f", "expected"), HITS)
def test_hits(f: Field, expected: str) -> None:
    found = CellIdDetector().scan(f)
    assert values(found) == [expected]
    assert found[0].detector == "PH-CELLID"


@pytest.mark.parametrize("f", MISSES)
def test_misses(f: Field) -> None:
    assert CellIdDetector().scan(f) == []


def test_generic_key_is_less_confident() -> None:
    specific = CellIdDetector().scan(field("263713", "cellid"))[0]
    generic = CellIdDetector().scan(field("263713", "cid", lac="4021"))[0]
    assert generic.confidence < specific.confidence
