"""E-mail addresses: a dot-atom local part, ``@``, a domain with a real TLD.

The local part takes the characters addresses use in practice (letters, digits,
``_ % + -`` and inner dots), not all of RFC 5322's: ``= & / ?`` would swallow the query
string in front of an address.

The TLD check (against the Public Suffix List bundled by ``publicsuffixlist``) removes
the common look-alikes: ``icon@2x.png``, ``pkg@1.2.3``, ``user@localhost``.
"""

from __future__ import annotations

import re

from publicsuffixlist import PublicSuffixList

from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match
from phonehome.refdata import public_suffixes

EMAIL_KEYS = re.compile(r"x?(user)?(e?mail(address)?\d*|login|username|account)")
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9._%+-])"
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?![A-Za-z0-9-])(?!\.[A-Za-z0-9])"
)


def _suffixes() -> PublicSuffixList:
    return public_suffixes()


def known_tld(domain: str) -> bool:
    return _suffixes().publicsuffix(domain.lower(), accept_unknown=False) is not None


class EmailDetector(Detector):
    id = "PH-EMAIL"
    identifier = "email"
    name = "e-mail address"
    needs = re.compile("@")

    def scan(self, field: Field) -> list[Match]:
        if "@" not in field.text:
            return []
        confidence = 0.95 if key_is(field, EMAIL_KEYS) else 0.85
        return [
            self.match(field, m.group().lower(), m.start(), m.end(), confidence)
            for m in _CANDIDATE.finditer(field.text)
            if known_tld(m.group(1))
        ]
