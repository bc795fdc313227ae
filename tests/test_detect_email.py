"""E-mail detector: dot-atom local part, a domain with a real TLD, whole tokens."""

from __future__ import annotations

import pytest

from phonehome.detect.email import EmailDetector
from tests.builders_detect import field, values

HITS = [
    ("ola.nordmann@example.no", "ola.nordmann@example.no"),
    ("user=Ola.Nordmann+news@Example.COM&x=1", "ola.nordmann+news@example.com"),
    ('{"email":"li.wei@mail.163.com"}', "li.wei@mail.163.com"),
    ("contact: a_b-c@sub.example.co.uk.", "a_b-c@sub.example.co.uk"),
]

MISSES = [
    "icon@2x.png",  # not a TLD
    "root@localhost",
    "pkg@1.2.3",
    "ola.nordmann@example.notatld",
    "@example.com",
    "ola@-example.com",
    "no at sign here",
]


@pytest.mark.parametrize(("text", "expected"), HITS)
def test_hits(text: str, expected: str) -> None:
    found = EmailDetector().scan(field(text))
    assert values(found) == [expected]
    assert found[0].detector == "PH-EMAIL"


@pytest.mark.parametrize("text", MISSES)
def test_misses(text: str) -> None:
    assert EmailDetector().scan(field(text)) == []


def test_span_and_key_confidence() -> None:
    m = EmailDetector().scan(field("to <ola@example.no>"))[0]
    assert (m.start, m.end) == (4, 18)
    keyed = EmailDetector().scan(field("ola@example.no", "email"))[0]
    assert keyed.confidence > m.confidence
