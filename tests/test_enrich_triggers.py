"""Trigger correlation: unlock-driven sends versus beacons, baseline and p-value."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from phonehome import simulate
from phonehome.enrich.events import Event, load_events
from phonehome.enrich.triggers import (
    binomial_tail,
    bursts_after_idle,
    chance_baseline,
    correlate,
)

DAY0 = datetime.fromisoformat("2026-03-02T00:00:00+00:00").timestamp()


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def nokia(tmp_path: Path, seed: int) -> tuple[list[float], list[Event]]:
    """The zzhc registration times (ground truth) and the device's events."""
    out = tmp_path / f"n{seed}.pcap"
    simulate.run("nokia7plus", out, seed=seed)
    truth = json.loads(out.with_suffix(".truth.json").read_text())
    times = {epoch(t) for leak in truth["leaks"] for t in leak["times"]}
    return sorted(times), load_events(out.with_suffix(".events.csv"))


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_zzhc_sends_follow_every_unlock(tmp_path: Path, seed: int) -> None:
    times, events = nokia(tmp_path, seed)
    unlocks = [e for e in events if e.kind == "unlock"]
    # the simulated app posts 1-5 s after the unlock plus a DNS lookup and a handshake
    result = correlate(times, events, window_s=10.0)
    assert result is not None
    assert result["event"] == "unlock"
    assert result["matched"] == result["of"] == len(unlocks)
    assert result["p_value"] < 1e-3
    assert 0 < result["max_delay_s"] <= 10.0
    assert result["baseline"] == pytest.approx(
        len(times) * 10.0 / (times[-1] - times[0] + 10), rel=1e-3
    )
    # with the default 5 s window the unlock is still the best, most significant match
    default = correlate(times, events)
    assert default is not None and default["event"] == "unlock"
    assert default["p_value"] < 1e-3 and default["matched"] >= default["of"] - 2


def brute_matched(sends: list[float], moments: list[float], window: float) -> int:
    return sum(any(0 <= s - m <= window for s in sends) for m in moments)


def test_a_30_second_beacon_is_not_an_unlock_trigger() -> None:
    beacon = [DAY0 + 30.0 * i + 0.2 for i in range(2880)]  # a day of sends every 30 s
    significant = 0
    for seed in range(200):
        rng = random.Random(seed)
        unlocks = sorted(rng.uniform(DAY0, DAY0 + 86000) for _ in range(10))
        events = [Event(t, "unlock") for t in unlocks]
        result = correlate(beacon, events)
        assert result is not None
        assert result["baseline"] == pytest.approx(5 / 30, abs=0.001)
        assert result["matched"] == brute_matched(beacon, unlocks, 5.0)
        significant += result["p_value"] < 0.05
    # a calibrated test calls chance significant about 1.5 % of the time here
    # (P(X >= 5 | 10, 1/6)); an uncorrected "matched" count would flag far more
    assert significant <= 8


def test_best_kind_wins_and_ties_follow_the_given_order() -> None:
    sends = [DAY0 + 1000 * i + 2 for i in range(1, 11)]
    events = [Event(DAY0 + 1000 * i, "unlock") for i in range(1, 11)]
    events += [Event(DAY0 + 1000 * i - 40, "screen_on") for i in range(1, 11)]
    result = correlate(sends, events, span=(DAY0, DAY0 + 11000))
    assert result is not None and result["event"] == "unlock"
    assert (result["matched"], result["of"], result["max_delay_s"]) == (10, 10, 2.0)
    assert correlate(sends, events, kinds=("screen_on",), span=(DAY0, DAY0 + 11000)) == {
        "event": "screen_on",
        "matched": 0,
        "of": 10,
        "max_delay_s": None,
        "window_s": 5.0,
        "baseline": pytest.approx(50 / 11000, rel=1e-3),
        "p_value": 1.0,
    }


def test_no_events_of_those_kinds_or_no_sends() -> None:
    sends = [DAY0 + 10, DAY0 + 20]
    assert correlate(sends, [Event(DAY0 + 9, "screen_off")]) is None
    assert correlate(sends, []) is None
    assert correlate([], [Event(DAY0, "unlock")]) is None


def test_events_outside_the_observed_span_are_not_counted() -> None:
    sends = [DAY0 + 100, DAY0 + 200]
    events = [Event(DAY0 + 98, "unlock"), Event(DAY0 + 50_000, "unlock")]
    result = correlate(sends, events)
    assert result is not None and (result["matched"], result["of"]) == (1, 1)
    wide = correlate(sends, events, span=(DAY0, DAY0 + 86400))
    assert wide is not None and (wide["matched"], wide["of"]) == (1, 2)


@pytest.mark.parametrize(
    ("sends", "window", "span", "expected"),
    [
        ([100.0, 200.0], 5.0, (0.0, 1000.0), 0.01),  # separate windows
        ([100.0, 102.0], 5.0, (0.0, 1000.0), 0.007),  # overlapping windows merge
        ([2.0, 500.0], 5.0, (0.0, 1000.0), 0.007),  # clipped at the span's start
        ([float(t) for t in range(0, 1003, 3)], 5.0, (0.0, 1000.0), 1.0),  # always covered
        ([], 5.0, (0.0, 1000.0), 0.0),
    ],
)
def test_chance_baseline(
    sends: list[float], window: float, span: tuple[float, float], expected: float
) -> None:
    assert chance_baseline(sends, window, *span) == pytest.approx(expected, abs=1e-9)


def exact_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (0, 5, 0.3),
        (1, 1, 0.5),
        (3, 10, 1 / 6),
        (5, 10, 1 / 6),
        (6, 6, 0.04),
        (10, 10, 0.0006),
        (17, 40, 0.25),
        (2, 30, 0.001),
        (40, 40, 0.999),
    ],
)
def test_binomial_tail_matches_the_sum(k: int, n: int, p: float) -> None:
    assert binomial_tail(k, n, p) == pytest.approx(exact_tail(k, n, p), rel=1e-9)


def test_binomial_tail_edges_and_large_n() -> None:
    assert binomial_tail(0, 0, 0.5) == 1.0
    assert binomial_tail(3, 2, 0.5) == 0.0
    assert binomial_tail(1, 10, 0.0) == 0.0
    assert binomial_tail(10, 10, 1.0) == 1.0
    tiny = binomial_tail(2000, 2000, 0.01)  # 1e-4000: underflows to 0, never an error
    assert tiny == 0.0
    middle = binomial_tail(1000, 2000, 0.5)
    assert 0.5 < middle < 0.52


def test_bursts_after_idle_on_unlock_driven_sends(tmp_path: Path) -> None:
    times, events = nokia(tmp_path, 1)
    hint = bursts_after_idle(times, 600)
    assert hint is not None
    gaps = [b - a for a, b in pairwise(times)]
    assert hint == {
        "after_idle": sum(g >= 600 for g in gaps),
        "of_bursts": 1 + sum(g >= 600 for g in gaps),
        "idle_s": 600,
    }
    assert hint["after_idle"] >= len([e for e in events if e.kind == "unlock"]) - 2


@pytest.mark.parametrize(
    ("times", "start", "expected"),
    [
        ([0.0, 10.0, 20.0, 1000.0, 1005.0, 5000.0], -700.0, (3, 3)),
        ([0.0, 10.0, 20.0, 1000.0, 1005.0, 5000.0], None, (2, 3)),
        ([0.0, 10.0, 20.0, 1000.0, 1005.0, 5000.0], -100.0, (2, 3)),
        ([0.0, 100.0, 250.0, 599.0, 1000.0], None, (0, 1)),
    ],
)
def test_bursts_after_idle_table(
    times: list[float], start: float | None, expected: tuple[int, int]
) -> None:
    hint = bursts_after_idle(times, 600, start=start)
    assert hint is not None and (hint["after_idle"], hint["of_bursts"]) == expected


def test_no_burst_hint_for_beacons_or_single_sends() -> None:
    assert bursts_after_idle([DAY0 + 900 * i for i in range(20)]) is None
    assert bursts_after_idle([DAY0]) is None
