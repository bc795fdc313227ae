"""The report's occurrence times: a fast path that must give what ``datetime`` gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonehome.report.view import iso


def reference(t: float) -> str:
    try:
        return (
            datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    except (OverflowError, ValueError, OSError):
        return f"epoch:{t:.3f}"


@pytest.mark.parametrize(
    "t",
    [
        0.0,
        -0.5,
        -1e-7,
        1772409601.0,
        1772409601.9999995,  # rounds up into the next second
        1772409601.9994999,
        1772409601.0005,
        1772409599.9999996,
        4294967295.999999,
        -62135596800.0,  # 0001-01-01
        -62135596801.0,  # before year 1: no calendar holds it
        2e12,  # year 65,000: neither
        float("nan"),
        float("inf"),
        1772409601,  # an int, as JSON gives back
    ],
)
def test_iso_matches_datetime_at_edges(t: float) -> None:
    assert iso(t) == reference(t)


@given(st.floats(min_value=-7e10, max_value=3e11, allow_nan=False))
def test_iso_matches_datetime(t: float) -> None:
    assert iso(t) == reference(t)
