"""The demo's HTML report in a real headless Chromium, driven over chromedriver's W3C API.

Checks what a reader sees (verdict, leak cards, timeline chart laid out with a size), that
the page logs no console error and makes no network request, and saves a full-page
screenshot under tests/_artifacts/. Needs the Debian packages ``chromium`` and
``chromium-driver``; skipped without them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.report import html_format
from phonehome.report.view import ScanView

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or CHROMEDRIVER is None,
    reason="headless Chromium not installed (apt-get install chromium chromium-driver)",
)

CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Driver:
    """The few W3C WebDriver calls this test needs, over urllib on loopback."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["value"]

    def s(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call(method, f"/session/{self.session}{path}", body)

    def script(self, source: str, *args: Any) -> Any:
        return self.s("POST", "/execute/sync", {"script": source, "args": list(args)})

    def logs(self, kind: str) -> list[dict[str, Any]]:
        return list(self.s("POST", "/se/log", {"type": kind}))

    def requests(self) -> list[str]:
        """URLs of every request the page started, from DevTools Network events."""
        return [url for url, _ in self.request_outcomes()]

    def request_outcomes(self) -> list[tuple[str, str]]:
        """(url, why it failed: a DevTools blockedReason like ``csp``, else the net error,
        else "") for every request since the last call."""
        urls: dict[str, str] = {}
        failed: dict[str, str] = {}
        for entry in self.logs("performance"):
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
            elif msg["method"] == "Network.loadingFailed":
                failed[params["requestId"]] = params.get("blockedReason") or params["errorText"]
        return [(url, failed.get(rid, "")) for rid, url in urls.items()]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    assert CHROMEDRIVER is not None
    port = _free_port()
    proc = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    drv = Driver(port)
    try:
        for _ in range(100):
            try:
                if drv.call("GET", "/status").get("ready"):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        profile = tmp_path_factory.mktemp("chrome-profile")
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": str(CHROMIUM),
                "args": [*CHROME_ARGS, f"--user-data-dir={profile}"],
            },
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }
        created = drv.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        drv.session = created["sessionId"]
        yield drv
    finally:
        if drv.session:
            with contextlib.suppress(urllib.error.URLError, ConnectionError):
                drv.s("DELETE", "")
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's scan (Nokia 7 Plus day, seed 1, with its profile) as an HTML file."""
    work = tmp_path_factory.mktemp("demo")
    capture = work / "nokia7plus.pcap"
    simulate.run("nokia7plus", capture, seed=1)
    profile = work / "nokia7plus.device.toml"
    res = CliRunner().invoke(
        main, ["scan", str(capture), "--device", str(profile), "--format", "json"]
    )
    assert res.exit_code == 1, res.output
    page = work / "report.html"
    page.write_text(html_format.render(ScanView(json.loads(res.stdout), False)))
    return page


def _box(drv: Driver, selector: str) -> list[dict[str, float]]:
    return list(
        drv.script(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => {"
            " const r = e.getBoundingClientRect();"
            " const s = getComputedStyle(e);"
            " return {w: r.width, h: r.height, visible: s.visibility !== 'hidden'"
            " && s.display !== 'none'}; });",
            selector,
        )
    )


def _screenshot(drv: Driver, path: Path) -> bytes:
    """A full-page PNG (beyond the viewport) through the DevTools command."""
    shot = drv.s(
        "POST",
        "/goog/cdp/execute",
        {"cmd": "Page.captureScreenshot", "params": {"captureBeyondViewport": True}},
    )
    png = base64.b64decode(shot["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return png


def test_demo_report_renders_verdict_cards_and_chart_offline(
    driver: Driver, demo_report: Path
) -> None:
    doc_findings = demo_report.read_text().count('<article class="card')
    driver.requests()  # drain what the browser's own start page loaded
    driver.s("POST", "/url", {"url": demo_report.as_uri()})
    assert driver.script("return document.readyState") == "complete"

    verdict = driver.script("return document.querySelector('#verdict').innerText")
    assert "CLEAR TEXT" in verdict and "zzhc.vnet.cn" in verdict and "IMEI" in verdict
    for selector, at_least in (("#verdict", 1), ("article.card", 6), ("#timeline-chart", 1)):
        boxes = _box(driver, selector)
        assert len(boxes) >= at_least, selector
        assert all(b["w"] > 0 and b["h"] > 0 and b["visible"] for b in boxes), selector
    assert len(_box(driver, "article.card")) == doc_findings
    ticks = _box(driver, "#timeline-chart rect.tick")
    assert len(ticks) >= 10 and all(b["w"] > 0 and b["h"] > 0 for b in ticks)

    png = _screenshot(driver, ARTIFACTS / "report-demo.png")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

    errors = [e for e in driver.logs("browser") if e.get("level") == "SEVERE"]
    assert errors == []
    urls = driver.requests()  # chrome: is the browser's own new-tab page, not the report
    assert [u for u in urls if not u.startswith(("data:", "chrome:"))] == [demo_report.as_uri()]


def test_report_csp_blocks_a_load_that_slipped_in(driver: Driver, demo_report: Path) -> None:
    """Belt and braces: even markup injected into the page cannot make it load anything."""
    driver.s("POST", "/url", {"url": demo_report.as_uri()})
    driver.logs("browser")
    driver.requests()  # drain
    port = _free_port()  # nothing listens: a request would fail, but be visible first
    driver.script(
        "const i = document.createElement('img'); i.src = arguments[0];"
        " document.body.appendChild(i);",
        f"http://127.0.0.1:{port}/pixel.png",
    )
    time.sleep(0.3)
    attempts = [(u, why) for u, why in driver.request_outcomes() if u.startswith("http")]
    assert attempts == [(f"http://127.0.0.1:{port}/pixel.png", "csp")]
    refused = [e for e in driver.logs("browser") if "Content Security Policy" in e["message"]]
    assert refused, "the CSP did not report the blocked image"


def test_harness_sees_requests_of_a_page_without_csp(driver: Driver, tmp_path: Path) -> None:
    """The no-request check above can fail: a page that loads something is caught."""
    port = _free_port()
    page = tmp_path / "leaky.html"
    page.write_text(f'<!DOCTYPE html><img src="http://127.0.0.1:{port}/pixel.png">')
    driver.logs("performance")
    driver.s("POST", "/url", {"url": page.as_uri()})
    time.sleep(0.3)
    attempts = dict(driver.request_outcomes())
    assert attempts[f"http://127.0.0.1:{port}/pixel.png"] == "net::ERR_CONNECTION_REFUSED"
