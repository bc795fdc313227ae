"""Timeline: counts per day and the beacon interval, on simulator sends and synthetic ones."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from phonehome import simulate
from phonehome.enrich.timeline import beacon_interval, summarize

DAY0 = datetime.fromisoformat("2026-03-02T00:00:00+00:00").timestamp()


def leak_times(tmp_path: Path, seed: int = 1) -> list[float]:
    simulate.run("nokia7plus", tmp_path / "x.pcap", seed=seed)
    truth = json.loads((tmp_path / "x.truth.json").read_text())
    leak = truth["leaks"][0]
    return [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in leak["times"]]


def jittered(interval: float, n: int, jitter: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [DAY0 + i * interval + rng.uniform(0, jitter) for i in range(n)]


def test_unlock_triggered_sends_are_counted_per_day_and_not_a_beacon(tmp_path: Path) -> None:
    times = leak_times(tmp_path)
    summary = summarize(times)
    assert summary == {"per_day": {"2026-03-02": len(times)}, "interval_s": None}
    assert len(times) >= 8


def test_per_day_uses_utc_days_in_order() -> None:
    times = [DAY0 - 1.0, DAY0, DAY0 + 86399.9, DAY0 + 86400.0, DAY0 - 86400 * 3]
    assert summarize(times)["per_day"] == {
        "2026-02-27": 1,
        "2026-03-01": 1,
        "2026-03-02": 2,
        "2026-03-03": 1,
    }
    assert list(summarize(times)["per_day"]) == sorted(summarize(times)["per_day"])


def test_given_per_day_wins_over_capped_times() -> None:
    times = [DAY0 + i for i in range(10)]
    given = {"2026-03-02": 5000, "2026-03-01": 12}
    summary = summarize(times, per_day=given)
    assert summary["per_day"] == {"2026-03-01": 12, "2026-03-02": 5000}
    assert given == {"2026-03-02": 5000, "2026-03-01": 12}  # not modified


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (jittered(30, 40, 3.0, seed=1), pytest.approx(30, abs=2)),  # 30 s beacon, 3 s jitter
        (jittered(900, 96, 3.0, seed=2), pytest.approx(900, abs=3)),  # 15-minute push beacon
        (jittered(60, 4, 0.5, seed=3), pytest.approx(60, abs=1)),  # the minimum: 4 sends
        # one missed beacon out of 50 keeps it a beacon, with the median interval
        (
            [t for i, t in enumerate(jittered(30, 51, 1.0, seed=4)) if i != 25],
            pytest.approx(30, abs=1),
        ),
        (jittered(60, 3, 0.5, seed=5), None),  # too few sends to call it periodic
        ([DAY0 + random.Random(6).uniform(0, 86400) for _ in range(50)], None),  # random
        (jittered(30, 40, 15.0, seed=7), None),  # gaps vary too much
        ([DAY0] * 5, None),  # all at once: no interval
        ([], None),
    ],
)
def test_beacon_interval_table(times: list[float], expected: object) -> None:
    assert beacon_interval(times) == expected
    assert summarize(times)["interval_s"] == expected


def test_beacon_detection_does_not_depend_on_order() -> None:
    times = jittered(120, 30, 2.0, seed=8)
    shuffled = times[:]
    random.Random(9).shuffle(shuffled)
    assert beacon_interval(shuffled) == beacon_interval(times) == pytest.approx(120, abs=2)
