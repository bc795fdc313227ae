"""The alert line a person reads: names, owner, app and trigger in one line, the
capture's text shown and never obeyed, colour only where the watch puts it."""

from __future__ import annotations

from typing import Any

from phonehome.live.alerts import Alert, Printer, Status, alert_line, status_line

NAMES = {"imei": "IMEI"}


def finding(**over: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "identifier": "imei",
        "value_redacted": "35•••••••••••83",
        "readability": "cleartext",
        "host": "zzhc.vnet.cn",
        "port": 80,
        "protocol": "http",
        "where": "http.body:$.IMEI1",
        "encoding": ["base64", "json"],
        "app": {"uid": 1000, "packages": [], "source": "pcapdroid", "name": "AutoRegistration"},
        "destination": {"entity": "China Telecom", "country": "CN", "jurisdiction": {}},
    }
    f.update(over)
    return f


def test_the_line_names_everything_a_person_needs() -> None:
    line = alert_line(Alert(1, finding(), 76.5, "1.3 s after unlock"), NAMES, color=False)
    assert line == (
        "00:01:16Z IMEI 35•••••••••••83 sent in CLEAR TEXT to zzhc.vnet.cn (China Telecom, CN) "
        "by AutoRegistration (uid 1000), 1.3 s after unlock\n"
        "    http http.body:$.IMEI1 via base64 > json\n"
    )


def test_a_package_is_preferred_and_an_odd_port_shown() -> None:
    app = {"uid": 10123, "packages": ["com.example.app"], "source": "pcapdroid"}
    line = alert_line(Alert(2, finding(app=app, port=9999), 0.0), NAMES, color=False)
    assert "to zzhc.vnet.cn:9999 " in line and "by com.example.app (uid 10123)\n" in line


def test_control_characters_from_the_capture_are_shown_not_obeyed() -> None:
    evil = finding(host="evil\x1b[2J.example", where="http.query:\x1b]0;title\x07")
    line = alert_line(Alert(3, evil, 0.0), NAMES, color=True)
    assert "\x1b[2J" not in line and "\\x1b[2J" in line and "\x07" not in line
    assert "\x1b[31min CLEAR TEXT\x1b[0m" in line  # the watch's own colour stays


def test_status_line_counts() -> None:
    s = Status("udp 0.0.0.0:1234", "receiving", 12840, 311, 2206, 7, 7, 70, 0, 0, 12)
    assert status_line(s) == (
        "udp 0.0.0.0:1234 [receiving] 12840 packets, 311 flows, 2206 messages, 7 findings "
        "(7 alerts, 70 sends), 0 drops, 0 anomalies, scan 12"
    )


def test_the_status_line_fits_the_terminal_even_one_that_does_not_know_its_size() -> None:
    """Redrawn in place, the line must not wrap; a pseudo-terminal nobody sized says 0
    columns (the line is then cut at 79, not at -1)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    s = Status("udp 0.0.0.0:1234", "receiving", 12840, 311, 2206, 7, 7, 70, 0, 0, 12)
    full = status_line(s)
    for columns, shown in ((0, full[:79]), (60, full[:59]), (400, full)):
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
            with open(slave, "w", encoding="utf-8", closefd=False) as err:
                Printer("text", NAMES, out=err, err=err).status(s)
            assert os.read(master, 4096) == ("\r" + shown + "\x1b[K").encode()
        finally:
            os.close(slave)
            os.close(master)
