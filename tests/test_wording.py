"""Counts in words (phonehome.wording): singular for one, the right plural otherwise."""

from __future__ import annotations

import pytest

from phonehome.wording import count


@pytest.mark.parametrize(
    ("n", "noun", "said"),
    [
        (1, "time", "1 time"),
        (2, "time", "2 times"),
        (0, "finding", "0 findings"),
        (1, "anomaly", "1 anomaly"),
        (3, "anomaly", "3 anomalies"),
        (2, "entity", "2 entities"),
        (2, "day", "2 days"),
        (2, "match", "2 matches"),
        (2, "static analysis result", "2 static analysis results"),
        (1, "more destination", "1 more destination"),
    ],
)
def test_count(n: int, noun: str, said: str) -> None:
    assert count(n, noun) == said
