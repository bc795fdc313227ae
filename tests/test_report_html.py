"""HTML report: structure, escaping, offline-ness and the optional doc parts, on real scans."""

from __future__ import annotations

import copy
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from phonehome.report import html_format
from phonehome.report.document import ScanView
from phonehome.report.html import Markup, el
from tests.conftest import scan_doc

Doc = dict[str, Any]


class Page(HTMLParser):
    """Collects tags, attributes, text and nesting errors of a rendered page."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(k in a and v in (a[k] or "").split() for k, v in attrs.items())
        ]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


class Cards(HTMLParser):
    """The cards of a report page: per ``<article class="card">``, its heading, its
    ``<dt>`` terms with the text of their ``<dd>``, and under ``"rows"`` its identifier
    rows (``<tr class="ident">``), each a dict of cell label (``data-label``) to text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[dict[str, Any]] = []
        self._in: str | None = None  # "h3", "dt", "dd" or "td" of the current card
        self._term = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article" and "card" in (a.get("class") or "").split():
            self.cards.append({"rows": []})
        elif self.cards and tag == "tr" and a.get("class") == "ident":
            self.cards[-1]["rows"].append({})
        elif self.cards and tag == "td" and a.get("data-label") and self._in is None:
            self._in, self._term = "td", str(a["data-label"])
            self.cards[-1]["rows"][-1][self._term] = ""
        elif self.cards and tag in ("h3", "dt", "dd") and self._in is None:
            self._in = tag
            if tag == "dt":
                self._term = ""
            elif tag == "dd":
                self.cards[-1][self._term] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in (self._in, "article"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "h3":
            self.cards[-1]["heading"] = self.cards[-1].get("heading", "") + data
        elif self._in == "dt":
            self._term += data
        elif self._in == "dd":
            self.cards[-1][self._term] += data
        elif self._in == "td":
            self.cards[-1]["rows"][-1][self._term] += data


scan = scan_doc


@pytest.fixture(scope="module")
def nokia(nokia_capture: Path) -> Path:
    return nokia_capture


@pytest.fixture(scope="module")
def doc(nokia: Path) -> Doc:
    return scan(nokia)


def render(doc: Doc) -> str:
    return html_format.render(ScanView(doc, bool(doc.get("revealed"))))


def test_page_is_well_nested_and_has_every_section(doc: Doc) -> None:
    page = Page(render(doc))
    assert page.errors == [] and page.stack == []
    for section in ("verdict", "leaks", "timeline", "destinations", "methodology"):
        assert page.find("section", id=section), section
    assert len(page.find("h1")) == 1 and len(page.find("h2")) == 5
    # One card per destination and app (the Nokia day: one), a row per finding.
    cards = Cards(render(doc)).cards
    assert len(cards) == 1 and len(cards[0]["rows"]) == len(doc["findings"])


def test_verdict_names_identifiers_destination_and_cleartext(doc: Doc) -> None:
    text = render(doc)
    verdict = text[text.index('id="verdict"') : text.index('id="leaks"')]
    for word in ("IMEI", "IMSI", "ICCID", "MAC address", "cell ID", "zzhc.vnet.cn", "CLEAR TEXT"):
        assert word in verdict
    assert f"{len({f['identifier'] for f in doc['findings']})} kinds" in verdict


def test_cards_carry_redacted_value_where_and_encoding(doc: Doc) -> None:
    text = render(doc)
    for f in doc["findings"]:
        assert f["value_redacted"] in text and f["value_id"] in text
        assert f["where"] in text
        assert " › ".join(f["encoding"]) in text


def test_each_finding_is_one_row_of_its_destinations_card(doc: Doc) -> None:
    """Row by row, not just somewhere on the page: value, where, encoding chain, count and
    detector of each finding in the row that shows it; the destination's facts once."""
    cards = Cards(render(doc)).cards
    assert len(cards) == 1  # one destination, one (unnamed) app
    [card] = cards
    assert len(card["rows"]) == len(doc["findings"]) == 7
    names = {"imei": "IMEI", "imsi": "IMSI", "iccid": "ICCID", "meid": "MEID"}
    names |= {"mac": "MAC address", "cell_id": "cell ID"}
    for f in doc["findings"]:
        [r] = [r for r in card["rows"] if f["value_id"] in r["Value"] and r["Where"] == f["where"]]
        assert r["Identifier"] == names[f["identifier"]]
        assert r["Value"] == f"{f['value_redacted']} {f['value_id']}"
        form = "" if f["form"] == "plain" else f"; value as {f['form']}"
        assert r["Encoding chain"] == " › ".join(f["encoding"]) + form
        assert r["Sent"] == f"{f['count']} {'time' if f['count'] == 1 else 'times'}"
        assert r["Detector"].startswith(f"{f['detector']} ")
        assert f"frame.number == {f['evidence'][0]['frame']}" in card["Evidence"]
    f = doc["findings"][0]
    assert card["heading"].startswith(f"{f['host']} ({f['protocol']}/{f['port']}) ")
    assert card["Destination"].startswith(f"{f['host']} port {f['port']}, {f['protocol']}")


def test_a_card_says_each_fact_once_with_one_source_per_figure(nokia: Path) -> None:
    """The severity reasons restate the trigger with the window (10 s) and rounder
    figures; the card says the trigger's figures once, in its Trigger row."""
    doc = scan(nokia, "--events", str(nokia.with_name(nokia.stem + ".events.csv")))
    [card] = Cards(render(doc)).cards
    trigger = doc["findings"][0]["trigger"]
    assert f"within {trigger['max_delay_s']:.1f} s" in card["Trigger"]
    why = card["Why it matters"]
    assert "see Trigger" in why and "see Jurisdiction" in why
    assert "10 s after" not in why and "p = " not in why and "@ip-location-db" not in why
    reasons = [str(r) for f in doc["findings"] for r in f["severity"]["reasons"]]
    for reason in {r for r in reasons if r.startswith("sent in clear text")}:
        assert why.count(reason) == 1


def test_what_is_known_and_not_known_about_the_receiver(doc: Doc) -> None:
    [card] = Cards(render(doc)).cards
    dest = card["Destination"]
    assert "operated by China Telecom" in dest
    assert "unknown party" not in dest
    assert "Not known: whether that is the sending app's own company or a third party" in dest
    d = copy.deepcopy(doc)
    for f in d["findings"]:
        f["destination"]["party"] = "third"
    [card] = Cards(render(d)).cards
    assert "a third party to the app that sent it" in card["Destination"]
    assert "Not known" not in card["Destination"]


def test_tables_keep_words_and_numbers_whole(doc: Doc) -> None:
    """Headers and numbers never break inside a word ("Form at", "9297 66"): cells wrap
    only between words, and a table wider than a phone scrolls in its own box."""
    from phonehome.report.html import CSS

    rule = next(r for r in CSS.split("}") if r.strip().startswith("th,td{"))
    assert "anywhere" not in rule and "break-all" not in rule
    text = render(doc)
    inputs = text[text.index("<h3>Inputs</h3>") :]
    assert inputs.startswith('<h3>Inputs</h3><div class="tablewrap"><table>')


def test_methodology_has_input_hash_version_and_not_inspected(doc: Doc) -> None:
    text = render(doc)
    method = text[text.index('id="methodology"') :]
    assert doc["inputs"][0]["sha256"] in method
    assert f"phonehome {doc['tool']['version']}" in method
    assert doc["not_inspected"], "the nokia day has TLS flows"
    for x in doc["not_inspected"]:
        assert x["host"] in method


def test_no_raw_value_unless_revealed(nokia: Path, doc: Doc) -> None:
    revealed = scan(nokia, "--reveal")
    raw = [f["value"] for f in revealed["findings"]]
    assert len(raw) == len(doc["findings"])
    plain = render(doc)
    assert not [v for v in raw if v in plain]
    assert "RAW VALUES SHOWN" not in plain
    shown = render(revealed)
    assert all(v in shown for v in raw) and "RAW VALUES SHOWN" in shown


def test_page_loads_nothing(doc: Doc) -> None:
    page = Page(render(doc))
    (csp,) = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert "default-src 'none'" in (csp["content"] or "")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
        for name, value in attrs.items():
            assert name not in ("src", "href", "srcset", "action", "style"), (tag, name)
            if name != "xmlns":
                assert "://" not in (value or ""), (tag, name, value)


def _chart_rows(text: str) -> list[list[float]]:
    page = Page(text)
    rows: list[list[float]] = []
    in_chart = False
    for tag, attrs in page.tags:
        if tag == "svg":
            in_chart = attrs.get("id") == "timeline-chart"
        elif in_chart and tag == "g":
            rows.append([])
        elif in_chart and tag == "rect" and "tick" in (attrs.get("class") or ""):
            rows[-1].append(float(attrs["x"] or 0))
    return rows


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_timeline_bars_sit_at_their_times(doc: Doc) -> None:
    rows = _chart_rows(render(doc))
    pairs = {(f["host"], f["identifier"]) for f in doc["findings"]}
    assert len(rows) == len(pairs)
    stamps = sorted(ts(t) for f in doc["findings"] for t in f["times"])
    t0, t1 = stamps[0], stamps[-1]
    xs = sorted({x for row in rows for x in row})
    x0, x1 = xs[0], xs[-1]
    for f in doc["findings"]:
        times = sorted(ts(t) for t in f["times"])
        expected = [x0 + (t - t0) / (t1 - t0) * (x1 - x0) for t in times]
        # Some row has a bar at each of this finding's times, on one linear time axis.
        assert any(all(any(abs(e - x) <= 1.5 for x in r) for e in expected) for r in rows)
    assert all(1 <= len(r) <= len(stamps) for r in rows)


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</style><script>alert(1)</script>",
    "</title><svg onload=alert(1)>",
    "javascript:alert(1)//&amp;",
]


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize(
    "place",
    ["host", "where", "value_redacted", "device", "input", "not_inspected", "owner", "dataset"],
)
def test_strings_from_the_doc_are_escaped(doc: Doc, payload: str, place: str) -> None:
    d = copy.deepcopy(doc)
    f = d["findings"][0]
    if place in ("host", "where", "value_redacted"):
        f[place] = payload
    elif place == "device":
        d["device"]["name"] = payload
    elif place == "input":
        d["inputs"][0]["path"] = payload
    elif place == "not_inspected":
        d["not_inspected"][0]["host"] = payload
    elif place == "owner":
        f["destination"] = {"entity": payload, "country": "CN"}
    else:
        d["datasets"] = [payload]
    text = render(d)
    page = Page(text)
    assert payload in page.all_text  # shown, as text
    assert not page.find("script") and not page.find("img") and not page.find("svg", onload="")
    assert len(page.find("style")) == 1
    for _, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")]
    assert page.errors == []


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("<b>", "&lt;b&gt;"),
        ('a"b', "a&quot;b"),
        (Markup("<b>ok</b>"), "<b>ok</b>"),
        (["x", None, 3], "x3"),
        ([el("i", "<")], "<i>&lt;</i>"),
    ],
)
def test_builder_escapes_all_but_its_own_markup(node: Any, expected: str) -> None:
    assert el("p", node) == f"<p>{expected}</p>"


def test_builder_escapes_attribute_values_and_rejects_bad_tags() -> None:
    assert el("a", title='"><x') == '<a title="&quot;&gt;&lt;x"></a>'
    assert el("meta", http_equiv="x", hidden=True, id=None) == '<meta http-equiv="x" hidden>'
    with pytest.raises(ValueError):
        el("a onclick=x")


def test_enrichment_keys_are_shown_when_present(doc: Doc) -> None:
    d = copy.deepcopy(doc)
    for other in d["findings"]:  # start from findings without enrichment
        for key in ("destination", "timeline", "trigger", "trigger_hint", "severity"):
            other.pop(key, None)
    f = d["findings"][0]
    f["destination"] = {
        "registrable_domain": "vnet.cn",
        "entity": "China Telecom",
        "party": "third",
        "networks": [{"ip": "202.96.128.86", "asn": 4134, "as_org": "CHINANET", "country": "CN"}],
        "asn": 4134,
        "as_org": "CHINANET",
        "country": "CN",
        "jurisdiction": {"region": "CN", "out_of_home_region": True, "basis": "IP country"},
    }
    f["timeline"] = {"per_day": {"2026-03-02": 10}, "interval_s": 7200.0}
    f["trigger"] = {
        "event": "unlock",
        "matched": 9,
        "of": 10,
        "max_delay_s": 1.2,
        "baseline": 0.04,
        "p_value": 1e-12,
    }
    f["severity"] = {"level": "high", "reasons": ["IMEI in clear text to a third party abroad"]}
    d["datasets"] = ["ip-location-db asn 2026-11-01"]
    d["methodology"] = {"window_s": 5, "notes": ["events from logcat"]}
    text = Page(render(d)).all_text
    for word in (
        "China Telecom",
        "AS4134 CHINANET",
        "outside the device's home region",
        "2.0 h",
        "9 of 10 “unlock” events",
        "p = 1e-12",
        "severity: high",
        "IMEI in clear text to a third party abroad",
        "ip-location-db asn 2026-11-01",
        "events from logcat",
    ):
        assert word in text, word
    dest_table = render(d).split('id="destinations"')[1]
    assert "<td>CN</td><td>China Telecom</td>" in dest_table
    assert "<td>unknown</td><td>unknown</td>" in dest_table  # the other findings


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.clear(),
        lambda d: d.update(findings=[{}]),
        lambda d: d["findings"][0].update(destination="x", times=["never", 5], app=[1]),
        lambda d: d["findings"][0].update(trigger={"event": "boot"}, severity=None, evidence="x"),
        lambda d: d.update(
            inputs=None, not_inspected=[None], anomalies=[], methodology=[[[[[1]]]]]
        ),
        lambda d: d["findings"][0].update(encoding=None, count="many", first_seen=None),
    ],
)
def test_malformed_or_old_docs_still_render(doc: Doc, mangle: Any) -> None:
    d = copy.deepcopy(doc)
    mangle(d)
    page = Page(render(d))
    assert page.errors == []
    assert page.find("section", id="verdict")


def test_empty_scan_says_nothing_found(doc: Doc) -> None:
    d = copy.deepcopy(doc)
    d["findings"] = []
    text = Page(render(d)).all_text
    assert "No personal identifiers found" in text and "No occurrences to plot" in text
