"""Extraction on real requests from the vendored real fixtures (tests/shared)."""

from __future__ import annotations

import json

from phonehome.model import HttpRequest
from tests import tshark
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
    # tshark cuts the request out of the pcap, independently of phonehome's reassembly.
    [(payload,)] = tshark.fields(DROPPER, "tcp.payload", display_filter="http.request")
    req = _request_from_bytes(bytes.fromhex(payload))
    msg = message(req)
    # the header claims gzip but the body is plain JSON: sniffing still finds the structure
    [device_id] = find(msg, "http.body:$.device_id", ("json",))
    assert device_id.text == "350672920106648"
    assert dict(device_id.siblings)["app_package"] == "com.xcm.huasheng"
    assert ("http.path:segment[2]", (), "init2") in triples(msg)
    [ua] = find(msg, "http.header:User-Agent")
    assert ua.text.startswith("Dalvik/2.1.0")


def test_har_post_data_json_is_walked():
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
