"""``corpus report --format html`` in a real headless Chromium, as the scan report is
checked (tests/test_report_browser.py, whose WebDriver harness this reuses): the page
shows its sections with a size, logs no console error and requests nothing but itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from tests import test_report_browser as harness
from tests.builders_corpus import CORPUS_MODULES
from tests.needs import needs
from tests.test_report_browser import ARTIFACTS, Driver, _box, _screenshot

driver = harness.driver
"""The scan report test's WebDriver session (a module-scoped fixture), used here too."""

REPO = Path(__file__).resolve().parents[1]

pytestmark = needs(tools=["chromium", "chromedriver"], modules=CORPUS_MODULES)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("corpus-html")
    nokia = work / "nokia.pcap"
    simulate.run("nokia7plus", nokia, seed=1)
    simulate.run("encodings", work / "encodings.pcap", seed=1)
    (work / "broken.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    out = work / "out"
    profile = str(work / "nokia.device.toml")
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["corpus", "scan", str(work), "--out", str(out), "--workers", "0", "--device", profile],
    )
    assert res.exit_code in (0, 1), res.output
    res = runner.invoke(
        main, ["corpus", "apk", str(REPO / "tests/apks/built"), "--out", str(out), "--workers", "0"]
    )
    assert res.exit_code == 0, res.output
    page = work / "report.html"
    res = runner.invoke(main, ["corpus", "report", str(out), "--format", "html", "-o", str(page)])
    assert res.exit_code == 0, res.output
    return page


def test_corpus_report_renders_offline(driver: Driver, report_page: Path) -> None:
    driver.forget_requests()  # what the browser's own start page loaded
    driver.logs("browser")
    driver.s("POST", "/url", {"url": report_page.as_uri()})  # returns once the page loaded
    assert driver.script("return document.readyState") == "complete"
    headline = driver.script("return document.querySelector('#headline').innerText")
    assert headline.startswith("Sent: IMEI in 2 input(s)")
    for section in ("receivers", "cleartext", "out_of_eu", "top_destinations", "static_apps"):
        boxes = _box(driver, f"section#{section} table tbody tr")
        assert boxes and all(b["w"] > 0 and b["h"] > 0 and b["visible"] for b in boxes), section
    bars = _box(driver, "section#out_of_eu div.bar")
    assert bars and max(b["w"] for b in bars) > 0
    out_of_eu = driver.script("return document.querySelector('#out_of_eu').innerText")
    assert "China Telecom" in out_of_eu and "third country" in out_of_eu
    failed = driver.script("return document.querySelector('#failed').innerText")
    assert "broken.pcap" in failed
    png = _screenshot(driver, ARTIFACTS / "corpus-report.png")
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    errors = [e for e in driver.logs("browser") if e.get("level") == "SEVERE"]
    assert errors == []
    assert driver.request_outcome(report_page.as_uri()) == ""  # the page itself loaded
    urls = driver.requests()
    assert [u for u in urls if not u.startswith(("data:", "chrome:"))] == [report_page.as_uri()]
