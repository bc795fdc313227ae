"""Extraction on real requests from the shared fixtures (skipped when they are absent)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from phonehome.model import HttpRequest
from tests.builders_extract import find, message, triples
from tests.conftest import SHARED

DROPPER = SHARED / "fixtures" / "real" / "android_dropper_checkin.pcap"
POSTDATA_HAR = SHARED / "fixtures" / "har" / "postdata.har"


def _request_from_bytes(data: bytes) -> HttpRequest:
    """A minimal HTTP/1.1 request split: enough for one un-chunked request in one segment."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = tuple(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])
    )
    return HttpRequest(method, target, version, headers, body)


def test_dropper_checkin_device_id_from_real_pcap():
    if not DROPPER.exists():
        pytest.skip(f"shared fixture missing: {DROPPER}")
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed: needed to cut the request out of the pcap")
    out = subprocess.run(
        ["tshark", "-r", str(DROPPER), "-Y", "http.request", "-T", "fields", "-e", "tcp.payload"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    req = _request_from_bytes(bytes.fromhex(out[0]))
    msg = message(req)
    # the header claims gzip but the body is plain JSON: sniffing still finds the structure
    [device_id] = find(msg, "http.body:$.device_id", ("json",))
    assert device_id.text == "350672920106648"
    assert dict(device_id.siblings)["app_package"] == "com.xcm.huasheng"
    assert ("http.path:segment[2]", (), "init2") in triples(msg)
    [ua] = find(msg, "http.header:User-Agent")
    assert ua.text.startswith("Dalvik/2.1.0")


def test_har_post_data_json_is_walked():
    if not POSTDATA_HAR.exists():
        pytest.skip(f"shared fixture missing: {POSTDATA_HAR}")
    har = json.loads(POSTDATA_HAR.read_text(encoding="utf-8-sig"))
    entry = next(e for e in har["log"]["entries"] if e["request"].get("postData"))
    req = entry["request"]
    body = req["postData"]["text"].encode()
    headers = tuple(
        (h["name"], h["value"]) for h in req["headers"] if not h["name"].startswith(":")
    )
    msg = message(HttpRequest(req["method"], req["url"], "HTTP/1.1", headers, body))
    assert ("http.body:$.metadata.domain", ("json",), "reqbin.com") in triples(msg)
    [view] = find(msg, "http.body:$.metadata.pageViewId", ("json",))
    assert view.text == "1689428126308"  # a JSON number keeps its spelling
