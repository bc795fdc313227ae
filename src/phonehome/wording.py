"""Counts in words: ``1 time``, ``2 times``, never ``1 time(s)`` or ``1 anomalies``.

Every report and command line that prints a count of things goes through :func:`count`,
so the singular and plural of a noun are written once.
"""

from __future__ import annotations

_IRREGULAR = {
    "anomaly": "anomalies",
    "entry": "entries",
    "day": "days",
    "property": "properties",
    "match": "matches",
    "address": "addresses",
}


def plural(noun: str, n: int | float) -> str:
    """``noun`` for one, its plural otherwise; in a phrase the last word takes the plural
    (``static result`` -> ``static results``)."""
    if n == 1:
        return noun
    rest, sep, last = noun.rpartition(" ")
    many = _IRREGULAR.get(last)
    if many is None:
        many = last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou" else last
        if many == last:
            many = last + ("es" if last.endswith(("s", "x", "ch", "sh")) else "s")
    return rest + sep + many


def count(n: int | float, noun: str) -> str:
    """``1 finding``, ``2 findings``, ``1234 packets``."""
    return f"{n} {plural(noun, n)}"
