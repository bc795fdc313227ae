"""JSON values as leaves with JSONPath-like paths (``$.data[0].IMEI1``).

Numbers keep the spelling they were sent with (an IMEI sent as a JSON number must not
become ``3.520990017614810e+14``), so the parser hands them over as strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from phonehome.extract.leaf import MAX_SIBLINGS, Leaf, others, sibling_pair

MAX_NESTING = 64
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_Number: type[str] = type("JsonNumber", (str,), {"__slots__": ()})
"""A JSON number, kept as sent: a ``str`` subclass, so the engine can tell it needs no
decoding. Made with ``type()`` because mypyc, which compiles this module, cannot compile a
class that inherits from ``str``; a class made at run time stays an ordinary one."""


def looks_like_json(text: str) -> bool:
    start = text.lstrip()[:1]
    end = text.rstrip()[-1:]
    return (start == "{" and end == "}") or (start == "[" and end == "]")


TOO_DEEP = object()
"""What :func:`parse` returns for a document nested deeper than the parser can follow."""


def parse(text: str) -> Any:
    """The parsed document; None when it is not JSON, :data:`TOO_DEEP` when nested too deep."""
    try:
        return json.loads(text, parse_int=_Number, parse_float=_Number)
    except ValueError:
        return None
    except RecursionError:
        return TOO_DEEP


def is_number(value: str) -> bool:
    return isinstance(value, _Number)


def _member(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    quoted = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{quoted}']"


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return None  # true/false/null carry no identifier; containers are walked


def walk(doc: Any) -> Iterator[Leaf | None]:
    """Leaves in document order. Yields None once if nesting beyond the bound was cut."""
    # stack of (value, path, key, siblings) still to visit; depth is tracked alongside
    stack: list[tuple[Any, str, str | None, tuple[tuple[str, str], ...], int]] = [
        (doc, "$", None, (), 0)
    ]
    cut = False
    while stack:
        value, path, key, siblings, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= MAX_NESTING:
                cut = True
                continue
            pairs: list[tuple[str, str]] = []
            items = list(value.items())
            slots: list[int] = []
            for k, v in items:
                s = _scalar(v)
                if s is not None and len(pairs) <= MAX_SIBLINGS:
                    slots.append(len(pairs))
                    pairs.append(sibling_pair(k, s))
                else:
                    slots.append(-1)
            for (k, v), slot in zip(reversed(items), reversed(slots), strict=True):
                stack.append((v, _member(path, k), k, others(pairs, slot), depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_NESTING:
                cut = True
                continue
            for i in range(len(value) - 1, -1, -1):
                stack.append((value[i], f"{path}[{i}]", key, siblings, depth + 1))
        elif isinstance(value, str) and value:
            yield path, key, value, None, siblings
    if cut:
        yield None
