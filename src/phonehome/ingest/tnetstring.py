"""tnetstrings, the serialisation of mitmproxy's flow files, parsed as mitmproxy parses them.

A flow file is a sequence of tnetstrings (``<length>:<payload><tag>``, the tag one of
``, ; # ^ ! ~ ] }`` for bytes, text, integer, float, boolean, null, list and dict; the
payload of a list or dict is its items one after the other). mitmproxy reads them with
``mitmproxy.io.tnetstring``: pure Python that slices a memoryview per value, about a third
of reading a flow file of small flows (benchmarks/README.md, "Hostile inputs"). This module
is the same parse, compiled with mypyc (:mod:`phonehome.native`), for the well-formed case
only. Whatever is not plainly well-formed (a length prefix that is not all digits, a value
that does not fit its container, an unknown tag, bad UTF-8, an unhashable key, nesting
deeper than :data:`MAX_DEPTH`) is handed, whole, to mitmproxy's own parser, so the value,
or the exception, is always the one mitmproxy gives: its ``int()`` and ``float()``
leniencies, its error messages and where its recursion runs out stay its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, Final

MAX_DEPTH: Final = 64
"""Containers nested deeper than this go to mitmproxy's (recursive, Python) parser; a flow
state nests about five deep."""

Parse = Callable[[int, memoryview], Any]
"""``mitmproxy.io.tnetstring.parse``: (tag, payload) -> value."""


class _Unusual(Exception):
    """Not the well-formed common case: mitmproxy's parser decides."""


def load(stream: BinaryIO, fallback: Parse) -> Any:
    """The next value on ``stream``, reading exactly the bytes ``tnetstring.load`` of
    mitmproxy reads and raising what it raises (``ValueError("not a tnetstring: empty
    file")`` at the end of the stream); ``fallback`` is mitmproxy's ``parse``."""
    tag, data = load_raw(stream)
    return parse(tag, data, fallback)


def load_raw(stream: BinaryIO) -> tuple[int, bytes]:
    """The next value's tag and payload, unparsed: the reads and errors of :func:`load`."""
    c = stream.read(1)
    if c == b"":
        raise ValueError("not a tnetstring: empty file")
    data_length = b""
    while c.isdigit():
        data_length += c
        if len(data_length) > 12:
            raise ValueError("not a tnetstring: absurdly large length prefix")
        c = stream.read(1)
    if c != b":":
        raise ValueError("not a tnetstring: missing or invalid length prefix")
    data = stream.read(int(data_length))
    return stream.read(1)[0], data


def parse(tag: int, data: bytes, fallback: Parse) -> Any:
    """The value of a payload :func:`load_raw` read, as :func:`load` gives it."""
    try:
        return _parse(tag, data, 0, len(data), 0)
    except Exception:  # any doubt: mitmproxy's parser gives its value or its error
        return fallback(tag, memoryview(data))


Span = tuple[int, int, int]
"""(tag, start, end) of a value inside a payload."""


def dict_spans(tag: int, data: bytes) -> dict[str, Span] | None:
    """A dict payload's text keys -> where their values are, without parsing the values:
    what lets a reader take a large value it has seen before as it is (its bytes) instead
    of parsing it again. None when the payload is not plainly a dict of text keys (a
    container :func:`_parse` would hand to mitmproxy)."""
    if tag != 125:
        return None
    out: dict[str, Span] = {}
    pos = 0
    end = len(data)
    key: str | None = None
    try:
        while pos < end:
            start, stop = _item(data, pos, end)
            if key is None:
                if data[stop] != 59:  # a text key (the flow state's are)
                    return None
                key = data[start:stop].decode("utf-8")
            else:
                out[key] = (data[stop], start, stop)
                key = None
            pos = stop + 1
    except _Unusual:
        return None
    except UnicodeDecodeError:
        return None
    return out if key is None else None


def parse_span(data: bytes, span: Span) -> tuple[bool, Any]:
    """(True, value) of a top-level dict's value :func:`dict_spans` found, exactly as
    :func:`_parse` makes it; (False, None) where mitmproxy's parser would decide."""
    tag, start, end = span
    try:
        return True, _parse(tag, data, start, end, 1)
    except Exception:
        return False, None


def _item(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Start and end of the payload of the container item at ``pos`` (its tag at end)."""
    colon = buf.find(b":", pos, end)
    if colon <= pos:  # none, or an empty length prefix
        raise _Unusual
    length = 0
    for i in range(pos, colon):
        digit = buf[i] - 48
        if digit < 0 or digit > 9:
            raise _Unusual  # a sign, a space, an underscore: int()'s leniencies
        length = length * 10 + digit
    stop = colon + 1 + length
    if stop >= end:  # the payload and its tag must fit the container
        raise _Unusual
    return colon + 1, stop


def _parse(tag: int, buf: bytes, start: int, end: int, depth: int) -> Any:
    """The value tagged ``tag`` whose payload is ``buf[start:end]``."""
    if tag == 44:  # ,
        return buf[start:end]
    if tag == 59:  # ;
        return buf[start:end].decode("utf-8")
    if tag == 35:  # #
        return int(buf[start:end])
    if tag == 94:  # ^
        return float(buf[start:end])
    if tag == 33:  # !
        word = buf[start:end]
        if word == b"true":
            return True
        if word == b"false":
            return False
        raise _Unusual
    if tag == 126:  # ~
        if end > start:
            raise _Unusual
        return None
    if tag != 93 and tag != 125:  # ] }
        raise _Unusual
    if depth >= MAX_DEPTH:
        raise _Unusual
    items: list[Any] = []
    pos = start
    while pos < end:
        first, stop = _item(buf, pos, end)
        items.append(_parse(buf[stop], buf, first, stop, depth + 1))
        pos = stop + 1
    if tag == 93:
        return items
    if len(items) % 2:
        raise _Unusual
    d: dict[Any, Any] = {}
    for i in range(0, len(items), 2):
        d[items[i]] = items[i + 1]
    return d
