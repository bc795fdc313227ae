"""E-mail detector: dot-atom local part, a domain with a real TLD, whole tokens."""

from __future__ import annotations

import pytest

from phonehome.detect.email import EmailDetector
from tests.builders_detect import Case, field, hit, miss

CASES = [
    hit("ola.nordmann@example.no", value="ola.nordmann@example.no"),
    hit("user=Ola.Nordmann+news@Example.COM&x=1", value="ola.nordmann+news@example.com"),
    hit('{"email":"li.wei@mail.163.com"}', value="li.wei@mail.163.com"),
    hit("contact: a_b-c@sub.example.co.uk.", value="a_b-c@sub.example.co.uk"),
    miss("icon@2x.png"),  # not a TLD
    miss("root@localhost"),
    miss("pkg@1.2.3"),
    miss("ola.nordmann@example.notatld"),
    miss("@example.com"),
    miss("ola@-example.com"),
    miss("no at sign here"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_scan(case: Case) -> None:
    case.check(EmailDetector)


def test_span_and_key_confidence() -> None:
    m = EmailDetector().scan(field("to <ola@example.no>"))[0]
    assert (m.start, m.end) == (4, 18)
    keyed = EmailDetector().scan(field("ola@example.no", "email"))[0]
    assert keyed.confidence > m.confidence
