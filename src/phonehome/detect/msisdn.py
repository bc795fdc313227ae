"""Phone numbers (MSISDN), validated by libphonenumber.

A digit run is a phone number only if the sender says so: under a phone-like key, or
written in international ``+`` form. Numbers without ``+`` are parsed in the profile's
home country when it has one. Only numbers libphonenumber calls valid are reported, in
E.164 form so the same number matches across fields.
"""

from __future__ import annotations

import re

import phonenumbers

from phonehome.detect.base import Detector, key_is
from phonehome.model.field import Field, Match

PHONE_KEYS = re.compile(
    r"x?(sim\d*)?(msisdn\d*|phone(number)?\d*|mobile(number|phone)?|tel(ephone)?|"
    r"line\d*number|cellphone|phoneno)"
)
_E164 = re.compile(r"(?<![\w+])\+[1-9][0-9]{6,14}(?![0-9])")
_KEYED = re.compile(r"\+?[0-9][0-9 ().-]{5,22}[0-9]")


def e164(number: str, region: str | None) -> str | None:
    """E.164 form of a valid phone number, else None."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


class MsisdnDetector(Detector):
    id = "PH-MSISDN"
    identifier = "msisdn"
    name = "phone number"
    keys = PHONE_KEYS
    needs = re.compile(r"\+[1-9][0-9]{6}")

    def scan(self, field: Field) -> list[Match]:
        text = field.text
        keyed = key_is(field, PHONE_KEYS)
        if keyed:
            region = self.profile.home_country if self.profile else None
            candidates, confidence = _KEYED.finditer(text), 0.9
        elif "+" in text:
            region, candidates, confidence = None, _E164.finditer(text), 0.7
        else:
            return []
        found: list[Match] = []
        for m in candidates:
            value = e164(m.group(), region)
            if value is not None:
                found.append(self.match(field, value, m.start(), m.end(), confidence))
        return found
