"""Device events: the simulator's CSV, JSON, adb logcat -b events in its time formats."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from phonehome import simulate
from phonehome.enrich import events
from phonehome.enrich.events import Event, load_events, logcat_kind
from phonehome.errors import InputError, UsageError


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def write(tmp_path: Path, text: str, name: str = "events.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the simulator's CSV -----------------------------------------------------------------


def test_simulator_csv_reads_every_row(tmp_path: Path) -> None:
    result = simulate.run("nokia7plus", tmp_path / "x.pcap", seed=3)
    path = tmp_path / "x.events.csv"
    assert path.exists(), result
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    loaded = load_events(path)
    assert loaded.format == "csv"
    assert loaded.unparsed == 0
    assert [(e.time, e.kind) for e in loaded] == [(epoch(r["time"]), r["event"]) for r in rows]
    assert {e.kind for e in loaded} <= set(events.KINDS)
    assert [e.time for e in loaded] == sorted(e.time for e in loaded)


def test_csv_counts_bad_rows_and_keeps_unknown_kinds(tmp_path: Path) -> None:
    text = (
        "\n"
        "time,event,note\n"
        "2026-03-02T08:00:00.000Z,unlock,x\n"
        "not a time,unlock,x\n"
        "2026-03-02T08:01:00Z,airplane_mode,passes through\n"
        "2026-03-02T08:02:00+01:00,User Present,alias\n"
        "2026-03-02T08:03:00Z\n"
        "2026-03-02T08:04:00Z,<script>,not a name\n"
        "2026-03-02T08:05:00Z,scr\x00een,NUL\n"
    )
    loaded = load_events(write(tmp_path, text, "e.csv"))
    assert loaded == [
        Event(epoch("2026-03-02T07:02:00Z"), "unlock"),
        Event(epoch("2026-03-02T08:00:00Z"), "unlock"),
        Event(epoch("2026-03-02T08:01:00Z"), "airplane_mode"),
    ]
    assert loaded.unparsed == 4
    assert loaded.first_unparsed == 3


# --- JSON --------------------------------------------------------------------------------


def test_json_list_with_iso_epoch_and_millisecond_times(tmp_path: Path) -> None:
    data = [
        {"time": "2026-03-02T10:25:05.359Z", "event": "unlock"},
        {"time": 1772447105.5, "event": "screen_off"},
        {"time": 1772446000123, "event": "boot"},
        {"time": "yesterday", "event": "unlock"},
        {"event": "unlock"},
        "unlock",
        {"time": True, "event": "unlock"},
    ]
    loaded = load_events(write(tmp_path, json.dumps(data), "e.json"))
    assert loaded.format == "json"
    assert loaded == [
        Event(1772446000.123, "boot"),
        Event(epoch("2026-03-02T10:25:05.359Z"), "unlock"),
        Event(1772447105.5, "screen_off"),
    ]
    assert loaded.unparsed == 4


def test_json_naive_times_need_a_zone(tmp_path: Path) -> None:
    path = write(tmp_path, '[{"time": "2026-03-02T10:25:05", "event": "unlock"}]', "e.json")
    with pytest.raises(UsageError, match="time zone"):
        load_events(path)
    oslo = load_events(path, tz="Europe/Oslo")  # CET, UTC+1 in March before DST
    assert oslo == [Event(epoch("2026-03-02T09:25:05Z"), "unlock")]
    offset = load_events(path, clock_offset_s=-3600)
    assert offset == oslo


@pytest.mark.parametrize(
    "text",
    ['{"time": 1}', "[" * 100_000, '[{"time": "2026-03-02T10:25:05Z", "event": "unlock"'],
)
def test_json_that_is_not_an_event_list_is_an_input_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError):
        load_events(write(tmp_path, text, "e.json"))


# --- adb logcat -b events ----------------------------------------------------------------

# `adb logcat -b events -v epoch` on a phone: the unlock sequence as Android 9 logs it,
# amid the activity manager's and System UI's own events (which are skipped).
LOGCAT_EPOCH = """\
--------- beginning of events
1772446498.102  1000  1487 I power_sleep_requested: 0
1772446502.359  1000  1487 I power_screen_state: [1,2,0,0,273]
1772446502.377  1000  1544 I screen_toggled: 1
1772446502.390  1000  1487 I am_wtf  : [0,1487,system_server,-1,ActivityManager,test]
1772446505.359  1000  1732 I screen_toggled: 2
1772446505.401 10025  1732 I sysui_status_bar_state: [0,0,0,0,1,0]
1772446505.512  1000  1544 I am_set_resumed_activity: [0,com.example/.Main,resume]
this line was cut off by the terminal
1772446805.000  1000  1487 I power_screen_state: [0,3,0,0,0]
1772446805.020  1000  1544 I screen_toggled: 0
1772450000.000  1000  1487 I boot_progress_enable_screen: 21873
1772450100.000  1000  1487 I connectivity_state_changed: [1,0,5]
"""


def test_logcat_epoch_sample(tmp_path: Path) -> None:
    loaded = load_events(write(tmp_path, LOGCAT_EPOCH))
    assert loaded.format == "logcat"
    # power_screen_state and screen_toggled report the same change: one event each
    assert [(e.time, e.kind) for e in loaded] == [
        (1772446502.359, "screen_on"),
        (1772446505.359, "unlock"),
        (1772446805.0, "screen_off"),
        (1772450000.0, "boot"),
        (1772450100.0, "network_change"),
    ]
    assert loaded.unparsed == 1
    assert loaded.first_unparsed == 9


def test_logcat_epoch_with_clock_offset(tmp_path: Path) -> None:
    loaded = load_events(write(tmp_path, LOGCAT_EPOCH), clock_offset_s=2.5)
    assert loaded[1] == Event(1772446507.859, "unlock")


LOGCAT_THREADTIME = """\
--------- beginning of events
03-02 10:25:02.377  1000  1544 I screen_toggled: 1
03-02 10:25:05.359  1000  1732 I screen_toggled: 2
"""


def test_logcat_without_zone_needs_tz_or_offset(tmp_path: Path) -> None:
    path = write(tmp_path, LOGCAT_THREADTIME)
    ref = epoch("2026-03-02T00:00:00Z")
    with pytest.raises(UsageError, match="time zone"):
        load_events(path, reference_time=ref)
    with pytest.raises(UsageError, match="no year"):
        load_events(path, tz="Europe/Oslo")
    oslo = load_events(path, tz="Europe/Oslo", reference_time=ref)
    assert oslo == [
        Event(epoch("2026-03-02T09:25:02.377Z"), "screen_on"),
        Event(epoch("2026-03-02T09:25:05.359Z"), "unlock"),
    ]
    assert load_events(path, clock_offset_s=-3600, reference_time=ref) == oslo
    # summer time: the same wall clock is an hour earlier in UTC
    july = write(tmp_path, LOGCAT_THREADTIME.replace("03-02", "07-02"), "july.txt")
    summer = load_events(july, tz="Europe/Oslo", reference_time=ref)
    assert summer[1].time == epoch("2026-07-02T08:25:05.359Z")


def test_logcat_year_comes_from_the_nearest_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "12-31 23:59:58.000  1000  1544 I screen_toggled: 2\n")
    loaded = load_events(path, tz="UTC", reference_time=epoch("2027-01-01T00:10:00Z"))
    assert loaded == [Event(epoch("2026-12-31T23:59:58Z"), "unlock")]


@pytest.mark.parametrize(
    ("line", "kwargs", "expected_iso"),
    [
        # -v time (and brief after the time): I/tag( pid): message
        (
            "03-02 10:25:05.359 I/screen_toggled( 1732): 2",
            {"tz": "UTC", "reference_time": 1772400000.0},
            "2026-03-02T10:25:05.359Z",
        ),
        # -v threadtime,year,zone: complete times, no tz needed
        (
            "2026-03-02 10:25:05.359 +0100  1000  1732 I screen_toggled: 2",
            {},
            "2026-03-02T09:25:05.359Z",
        ),
        # -v epoch,usec and -v epoch,uid
        ("1772447105.359123  1000  1732 I screen_toggled: 2", {}, "2026-03-02T10:25:05.359123Z"),
        ("1772447105.359 system  1000  1732 I screen_toggled: 2", {}, "2026-03-02T10:25:05.359Z"),
        # -v time,epoch
        ("1772447105.359 I/screen_toggled( 1732): 2", {}, "2026-03-02T10:25:05.359Z"),
        # -v year without zone: still needs the zone
        (
            "2026-03-02 10:25:05.359  1000  1732 I screen_toggled: 2",
            {"tz": "Asia/Shanghai"},
            "2026-03-02T02:25:05.359Z",
        ),
    ],
)
def test_logcat_layouts(
    tmp_path: Path, line: str, kwargs: dict[str, Any], expected_iso: str
) -> None:
    loaded = load_events(write(tmp_path, line + "\n"), **kwargs)
    assert [e.kind for e in loaded] == ["unlock"]
    assert loaded[0].time == pytest.approx(epoch(expected_iso), abs=1e-6)


def test_logcat_monotonic_times_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "   312.500  1000  1732 I screen_toggled: 2\n")
    with pytest.raises(UsageError, match="since boot"):
        load_events(path)


@pytest.mark.parametrize(
    ("tag", "msg", "kind"),
    [
        ("screen_toggled", "0", "screen_off"),
        ("screen_toggled", "1", "screen_on"),
        ("screen_toggled", "2", "unlock"),
        ("screen_toggled", "7", None),
        ("power_screen_state", "[1,2,0,0,273]", "screen_on"),
        ("power_screen_state", "[0,3,0,0,0]", "screen_off"),
        ("boot_progress_enable_screen", "21873", "boot"),
        ("boot_progress_start", "5123", None),
        ("connectivity_state_changed", "[1,0,5]", "network_change"),
        ("sysui_status_bar_state", "[1,1,0,0,1,0]", None),
        ("am_proc_start", "[0,4242,10050,com.example,activity,com.example/.Main]", None),
        ("notification_enqueue", "[10050,4242,com.example,1,NULL,0,...,0]", None),
    ],
)
def test_logcat_tag_table(tag: str, msg: str, kind: str | None) -> None:
    assert logcat_kind(tag, msg) == kind


# --- unusable inputs ---------------------------------------------------------------------


def test_unreadable_and_unrecognised_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        load_events(tmp_path / "missing.csv")
    with pytest.raises(InputError):
        load_events(tmp_path)  # a directory
    with pytest.raises(InputError, match="not an events file"):
        load_events(write(tmp_path, "hello\nworld\n"))


def test_size_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "MAX_BYTES", 100)
    path = write(tmp_path, "time,event\n" + "2026-03-02T08:00:00Z,unlock\n" * 10, "e.csv")
    with pytest.raises(InputError, match="larger than"):
        load_events(path)


def test_unknown_time_zone_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Mars/Olympus"):
        load_events(write(tmp_path, LOGCAT_THREADTIME), tz="Mars/Olympus")
