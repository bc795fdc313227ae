"""Reading JSON documents defensively: a missing or mistyped value reads as empty.

Scan and static-analysis documents come back from the store, written by an older
phonehome, or edited by hand; enrichers, the store and every report read them, and none
may stop on a key that is absent or of the wrong type. These few functions are the one
way they do it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` if it is an array, else an empty one."""
    return value if isinstance(value, list) else []


def dicts(value: object) -> list[dict[str, Any]]:
    """The items of an array of objects; an item that is not an object reads as empty."""
    return [as_dict(item) for item in as_list(value)]


def as_int(value: object) -> int:
    """An integer (``true`` is not one), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def opt_int(value: object) -> int | None:
    """An integer (``true`` is not one), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def opt_number(value: object) -> float | None:
    """A number (``true`` is not one) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def strs(value: object) -> tuple[str, ...]:
    """The items of an array, each as text; anything else reads as empty."""
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def map_strings(node: Any, fn: Callable[[str], str], skip: frozenset[str] = frozenset()) -> Any:
    """``node`` with ``fn`` applied to every string in it, dictionary keys included; the
    values under ``skip`` keys are copied as they are."""
    if isinstance(node, str):
        return fn(node)
    if isinstance(node, list):
        return [map_strings(x, fn, skip) for x in node]
    if isinstance(node, dict):
        return {
            fn(k) if isinstance(k, str) else k: v if k in skip else map_strings(v, fn, skip)
            for k, v in node.items()
        }
    return node
