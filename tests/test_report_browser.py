"""The demo's HTML report in a real headless Chromium, driven over chromedriver's W3C API.

Checks what a reader sees (verdict, leak cards, timeline chart laid out with a size), that
the page logs no console error and makes no network request, and saves a full-page
screenshot under tests/_artifacts/. Needs the Debian packages ``chromium`` and
``chromium-driver`` (tests/needs.py). Every wait is on an event — chromedriver's "started"
line, the page's load, a DevTools network event, the page's ``securitypolicyviolation``
event — with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import threading
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
from phonehome.report.document import ScanView
from tests.needs import need_tool, needs

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
DEADLINE = 60.0
"""Seconds any wait below may take before the test fails (a bound, not a delay)."""

pytestmark = needs(tools=["chromium", "chromedriver"])

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


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block lasts: bound (so
    nobody else can take it), never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


class Driver:
    """The few W3C WebDriver calls this test needs, over urllib on loopback."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""
        self._urls: dict[str, str] = {}  # DevTools requestId -> url
        self._ended: dict[str, str] = {}  # requestId -> "" (loaded) or why it failed

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

    def forget_requests(self) -> None:
        """Start a new record of the page's requests (what the browser did so far is read
        and dropped)."""
        self._read_network()
        self._urls.clear()
        self._ended.clear()

    def _read_network(self) -> None:
        for entry in self.logs("performance"):
            msg = json.loads(entry["message"])["message"]
            params = msg.get("params", {})
            if msg["method"] == "Network.requestWillBeSent":
                self._urls[params["requestId"]] = params["request"]["url"]
            elif msg["method"] == "Network.loadingFinished":
                self._ended[params["requestId"]] = ""
            elif msg["method"] == "Network.loadingFailed":
                why = params.get("blockedReason") or params["errorText"]
                self._ended[params["requestId"]] = why

    def requests(self) -> list[str]:
        """URLs of every request the page started since :meth:`forget_requests`, from
        DevTools Network events."""
        self._read_network()
        return list(self._urls.values())

    def request_outcome(self, url: str) -> str:
        """Wait for DevTools to say how the request for ``url`` ended: "" when it loaded,
        else why it failed (a ``blockedReason`` such as ``csp``, or the net error)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            self._read_network()
            for rid, seen in self._urls.items():
                if seen == url and rid in self._ended:
                    return self._ended[rid]
            assert time.monotonic() < deadline, f"no DevTools event for the request to {url}"
            time.sleep(0.05)  # poll interval between log reads, not a wait for the browser

    def console(self, contains: str) -> list[dict[str, Any]]:
        """Wait for a browser console entry containing ``contains``; every entry so far."""
        deadline = time.monotonic() + DEADLINE
        entries: list[dict[str, Any]] = []
        while True:
            entries += self.logs("browser")
            if any(contains in e["message"] for e in entries):
                return entries
            assert time.monotonic() < deadline, f"no console entry with {contains!r}"
            time.sleep(0.05)  # poll interval between log reads


def _started_on(proc: subprocess.Popen[str]) -> int:
    """The port chromedriver listens on, from the line it prints once it does (it was given
    port 0: the OS picked a free one)."""
    assert proc.stdout is not None
    for line in proc.stdout:  # ends when chromedriver exits
        if m := re.search(r"started successfully on port (\d+)", line):
            return int(m.group(1))
    raise AssertionError(f"chromedriver exited ({proc.wait()}) without starting")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    chromium = need_tool("chromium")
    proc = subprocess.Popen(
        [need_tool("chromedriver"), "--port=0", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    drv = Driver(0)
    try:
        timer = threading.Timer(DEADLINE, proc.kill)  # a hung start fails, never blocks
        timer.start()
        try:
            drv = Driver(_started_on(proc))
        finally:
            timer.cancel()
        # Keep reading what it prints, so that it never blocks on (or dies of) a full pipe.
        assert proc.stdout is not None
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        profile = tmp_path_factory.mktemp("chrome-profile")
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
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
    page = demo_report.read_text()
    doc_cards = page.count('<article class="card')
    doc_rows = page.count('<tr class="ident">')
    driver.forget_requests()  # what the browser's own start page loaded
    driver.s("POST", "/url", {"url": demo_report.as_uri()})  # returns once the page loaded
    assert driver.script("return document.readyState") == "complete"

    verdict = driver.script("return document.querySelector('#verdict').innerText")
    assert "CLEAR TEXT" in verdict and "zzhc.vnet.cn" in verdict and "IMEI" in verdict
    # One card per destination and app, one row per identifier value (the demo: 7 in 1).
    for selector, at_least in (
        ("#verdict", 1),
        ("article.card", 1),
        ("tr.ident", 6),
        ("#timeline-chart", 1),
    ):
        boxes = _box(driver, selector)
        assert len(boxes) >= at_least, selector
        assert all(b["w"] > 0 and b["h"] > 0 and b["visible"] for b in boxes), selector
    assert len(_box(driver, "article.card")) == doc_cards
    assert len(_box(driver, "tr.ident")) == doc_rows
    ticks = _box(driver, "#timeline-chart rect.tick")
    assert len(ticks) >= 10 and all(b["w"] > 0 and b["h"] > 0 for b in ticks)

    png = _screenshot(driver, ARTIFACTS / "report-demo.png")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

    errors = [e for e in driver.logs("browser") if e.get("level") == "SEVERE"]
    assert errors == []
    assert driver.request_outcome(demo_report.as_uri()) == ""  # the page itself loaded
    urls = driver.requests()  # chrome: is the browser's own new-tab page, not the report
    assert [u for u in urls if not u.startswith(("data:", "chrome:"))] == [demo_report.as_uri()]


def test_report_csp_blocks_a_load_that_slipped_in(driver: Driver, demo_report: Path) -> None:
    """Belt and braces: even markup injected into the page cannot make it load anything."""
    driver.s("POST", "/url", {"url": demo_report.as_uri()})
    driver.logs("browser")
    driver.forget_requests()
    with refused_port() as port:  # a request would fail, but be visible first
        pixel = f"http://127.0.0.1:{port}/pixel.png"
        violated = driver.s(
            "POST",
            "/execute/async",
            {
                "script": "const [url, done] = arguments;"
                " document.addEventListener('securitypolicyviolation',"
                " e => done(e.blockedURI), {once: true});"
                " const i = document.createElement('img'); i.src = url;"
                " document.body.appendChild(i);",
                "args": [pixel],
            },
        )
        assert violated == pixel  # the page's own event: the CSP refused the image
        assert driver.request_outcome(pixel) == "csp"
        assert [u for u in driver.requests() if u.startswith("http")] == [pixel]
    assert driver.console("Content Security Policy"), "the CSP did not report the blocked image"


def test_harness_sees_requests_of_a_page_without_csp(driver: Driver, tmp_path: Path) -> None:
    """The no-request check above can fail: a page that loads something is caught."""
    page = tmp_path / "leaky.html"
    with refused_port() as port:
        pixel = f"http://127.0.0.1:{port}/pixel.png"
        page.write_text(f'<!DOCTYPE html><img src="{pixel}">')
        driver.forget_requests()
        driver.s("POST", "/url", {"url": page.as_uri()})
        assert driver.request_outcome(pixel) == "net::ERR_CONNECTION_REFUSED"


def test_demo_report_reads_on_a_phone(driver: Driver, demo_report: Path) -> None:
    """At 400 px the page does not scroll sideways (wide tables scroll in their own box),
    the identifier rows stack, and no header or number is cut inside a word ("Form at")."""
    driver.s("POST", "/window/rect", {"width": 400, "height": 900})
    try:
        driver.s("POST", "/url", {"url": demo_report.as_uri()})
        width = driver.script("return window.innerWidth")
        wide = driver.script(
            "return [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1"
            " && !e.closest('figure, .tablewrap'))"
            ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' +"
            " Math.round(e.getBoundingClientRect().right))"
        )
        assert wide == []
        assert driver.script("return document.documentElement.scrollWidth") <= width
        rows = _box(driver, "tr.ident")
        assert rows and all(b["w"] <= width for b in rows)
        # Each one-word header or methodology cell lies on one line: a word cut in two
        # would make two line boxes.
        one_word_cells = driver.script(
            "return [...document.querySelectorAll('th, #methodology td')]"
            ".filter(c => c.offsetParent && /^\\S+$/.test(c.innerText.trim())"
            " && c.innerText.trim().length < 16)"
            ".map(c => { const r = document.createRange(); r.selectNodeContents(c);"
            " return [c.innerText.trim(), r.getClientRects().length]; })"
        )
        assert any(text == "Format" for text, _ in one_word_cells)
        assert any(text.isdigit() and int(text) > 100_000 for text, _ in one_word_cells)
        assert [text for text, lines in one_word_cells if lines != 1] == []
        _screenshot(driver, ARTIFACTS / "report-demo-400px.png")
    finally:
        driver.s("POST", "/window/rect", {"width": 1100, "height": 900})
