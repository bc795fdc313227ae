"""Names (DNS names, server names, MQTT topics): the whole and each label on its own.

Data hides in single labels (``<imei>.t.example.com``), so a name is expanded as a whole
and label by label. The same few hundred names come back all through a capture, so a
name's expansion is remembered.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

from phonehome.extract.engine import MAX_DECODED, MAX_FIELDS, Budget, expand
from phonehome.model.field import Field

MAX_NAME_MEMO = 255
"""Longest name (DNS, SNI, MQTT topic) whose expansion is remembered: a DNS name's limit."""
MAX_NAME_FIELDS = 32
MAX_NAME_TEXT = 2048
"""A remembered expansion has at most this many fields and characters (1,024 names are
remembered: a few MB at most)."""


def labels(budget: Budget, part: str, name: str, unit: str, sep: str = ".") -> Iterator[Field]:
    """A name as a whole and each label/level on its own.

    A remembered expansion is replayed only when this message's budget has room for all
    of it: then expanding again would give exactly the same fields and notes (an
    expansion that a per-message bound cut used up a whole budget, so it never has room)."""
    done = _expanded_name(part, name, unit, sep) if len(name) <= MAX_NAME_MEMO else None
    if (
        done is None
        or budget.fields + len(done.fields) > MAX_FIELDS
        or budget.decoded + done.decoded > MAX_DECODED
    ):
        yield from _expand_labels(budget, part, name, unit, sep)
        return
    budget.fields += len(done.fields)
    budget.decoded += done.decoded
    for kind, detail in done.notes:
        budget.note(kind, detail)
    yield from done.fields


def _expand_labels(budget: Budget, part: str, name: str, unit: str, sep: str) -> Iterator[Field]:
    name = name.rstrip(sep) if sep == "." else name
    yield from expand(budget, part, "", (), None, (), name)
    for i, label in enumerate(label for label in name.split(sep) if label):
        yield from expand(budget, part, f"{unit}[{i}]", (), None, (), label)


class _Expansion(NamedTuple):
    fields: tuple[Field, ...]
    decoded: int
    notes: tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def _expanded_name(part: str, name: str, unit: str, sep: str) -> _Expansion | None:
    """The fields of a name expanded on an empty budget; None (not remembered) when they
    are many or long: an 84-character name can inflate to 20,000 fields."""
    budget = Budget(None, 0, 0)
    fields: list[Field] = []
    size = 0
    for f in _expand_labels(budget, part, name, unit, sep):
        fields.append(f)
        size += len(f.text)
        if len(fields) > MAX_NAME_FIELDS or size > MAX_NAME_TEXT:
            return None
    return _Expansion(tuple(fields), budget.decoded, tuple(budget.noted.items()))
