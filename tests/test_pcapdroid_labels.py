"""PCAPdroid app labels through a whole scan: a trailer name cut at 19 bytes is kept as
a cut label and completed from ``--apks`` or the capture's uid map; Android's fixed uids
are named (issue 16 item 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome.androiduids import describe
from phonehome.cli import main
from tests.builders_capture import (
    idb,
    pcap_file,
    pcapdroid_trailer_frame,
    pcapdroid_uid_map,
    shb,
)
from tests.builders_net import ACK, IP_A, IP_B, PSH, SYN, ipv4, tcp

FULL = "com.qualcomm.qti.autoregistration"
CUT = FULL.encode()[:19].decode()  # what PCAPdroid keeps: com.qualcomm.qti.au
IMEI = "352071025700910"
BODY = f"imei={IMEI}&model=test".encode()
REQUEST = (
    b"POST /register HTTP/1.1\r\nHost: zzhc.vnet.cn\r\nContent-Type: "
    b"application/x-www-form-urlencoded\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


def _session() -> list[bytes]:
    """A TCP connection carrying one HTTP POST with an IMEI, as IP packets."""
    c, s = 1000, 5000
    return [
        ipv4(tcp(40000, 80, c, 0, SYN)),
        ipv4(tcp(80, 40000, s, c + 1, SYN | ACK), src=IP_B, dst=IP_A),
        ipv4(tcp(40000, 80, c + 1, s + 1, ACK)),
        ipv4(tcp(40000, 80, c + 1, s + 1, PSH | ACK, REQUEST)),
        ipv4(tcp(80, 40000, s + 1, c + 1 + len(REQUEST), ACK), src=IP_B, dst=IP_A),
    ]


def trailer_capture(path: Path, uid: int, name: str) -> Path:
    records = [
        (1_700_000_000 + i, 0, pcapdroid_trailer_frame(p, uid, name))
        for i, p in enumerate(_session())
    ]
    path.write_bytes(pcap_file(records))
    return path


def scan(*args: str) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["scan", "--no-store", "--format", "json", *args])
    assert res.exit_code == 1, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def imei_app(doc: dict[str, Any]) -> dict[str, Any]:
    (f,) = [f for f in doc["findings"] if f["identifier"] == "imei"]
    app: dict[str, Any] = f["app"]
    return app


def test_a_cut_trailer_name_is_kept_as_a_cut_label(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "cut.pcap", 1001, FULL)
    app = imei_app(scan(str(cap)))
    assert len(CUT.encode()) == 19
    assert app == {
        "uid": 1001,
        "packages": [],
        "source": "pcapdroid",
        "label": CUT + "…",
        "label_truncated": True,
        "uid_name": "radio (telephony processes)",
    }
    text = CliRunner().invoke(main, ["scan", "--no-store", str(cap)]).stdout
    assert f"by {CUT}…" in text


def test_a_short_package_name_is_a_package_and_not_cut(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "short.pcap", 10123, "com.example.app")
    app = imei_app(scan(str(cap)))
    assert app == {"uid": 10123, "packages": ["com.example.app"], "source": "pcapdroid"}


def test_a_display_label_is_kept_and_the_uid_named(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "label.pcap", 1000, "Android System")
    app = imei_app(scan(str(cap)))
    assert app["label"] == "Android System" and "label_truncated" not in app
    assert app["uid_name"].startswith("system ")
    text = CliRunner().invoke(main, ["scan", "--no-store", str(cap)]).stdout
    assert "by Android System" in text


def test_a_bare_uid_reads_as_its_android_name(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "uid.pcap", 1001, "")
    text = CliRunner().invoke(main, ["scan", "--no-store", str(cap)]).stdout
    assert "by uid 1001, radio (telephony processes)" in text


def test_the_cut_label_is_completed_from_the_apks(tmp_path: Path) -> None:
    from phonehome.static.apk import analyze_apk

    apk = Path(__file__).parent / "apks" / "built" / "AutoReg.apk"  # committed

    package = analyze_apk(apk).to_dict()["package"]
    cut = package.encode()[:19].decode()
    assert len(cut) == 19 and cut != package
    cap = trailer_capture(tmp_path / "cut.pcap", 1001, package)
    app = imei_app(scan(str(cap), "--apks", str(apk)))
    assert app["packages"] == [package]
    assert app["label"] == cut + "…" and app["label_truncated"] is True
    assert "--apks" in app["evidence"] and "only package that starts with it" in app["evidence"]


def test_the_cut_label_is_completed_from_a_pcapng_uid_map(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "cut.pcap", 1001, FULL)
    mapped = tmp_path / "map.pcapng"
    # Another capture of the same device (PCAPdroid's pcapng export) names the package.
    mapped.write_bytes(shb() + idb(101) + pcapdroid_uid_map(1001, FULL, "Autoregistration"))
    app = imei_app(scan(str(cap), str(mapped)))
    assert app["packages"] == [FULL] and app["label_truncated"] is True
    assert "the capture's uid map" in app["evidence"]


def test_two_candidates_leave_the_label_cut(tmp_path: Path) -> None:
    cap = trailer_capture(tmp_path / "cut.pcap", 1001, FULL)
    mapped = tmp_path / "map.pcapng"
    mapped.write_bytes(
        shb()
        + idb(101)
        + pcapdroid_uid_map(1001, FULL, "A")
        + pcapdroid_uid_map(1002, CUT + "xyz", "B")
    )
    app = imei_app(scan(str(cap), str(mapped)))
    assert app["packages"] == [] and app["label"] == CUT + "…"


@pytest.mark.parametrize(
    ("uid", "name"),
    [
        (1000, "system"),
        (1001, "radio"),
        (1010, "wifi"),
        (1013, "media"),
        (1021, "gps"),
        (1027, "nfc"),
        (2000, "shell"),
        (1_001_001, "radio"),  # user 10's radio uid
    ],
)
def test_fixed_uids_are_named(uid: int, name: str) -> None:
    assert str(describe(uid)).split()[0] == name


@pytest.mark.parametrize("uid", [None, -1, 10000, 10123, 1_010_123, 1022])
def test_app_uids_and_unassigned_ids_have_no_fixed_name(uid: int | None) -> None:
    assert describe(uid) is None
