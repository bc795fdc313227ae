"""The places of an HTTP request where data can hide: path, query, headers, cookies, body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from phonehome.extract import form, multipart
from phonehome.extract.engine import LEAF, Budget, expand_into
from phonehome.extract.leaf import MAX_SIBLINGS, escape_segment, others, sibling_pair
from phonehome.extract.text import to_text
from phonehome.model.field import Field
from phonehome.model.message import Headers, HttpRequest, HttpResponse, header

NOISE_HEADERS = frozenset(
    {
        "content-length",
        "connection",
        "proxy-connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept-encoding",
        "content-encoding",
        "expect",
        "cache-control",
        "pragma",
        "accept",
    }
)
"""Protocol mechanics whose values come from a small fixed vocabulary: never personal."""

_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})


def _path_and_query(req: HttpRequest) -> tuple[str, str | None]:
    target = req.target
    if req.method == "CONNECT" or target == "*":
        return "", None
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        question = rest.find("?")
        if slash < 0 or (0 <= question < slash):
            target = "/" + rest[question:] if question >= 0 else "/"
        else:
            target = rest[slash:]
    target = target.partition("#")[0]
    path, sep, query = target.partition("?")
    return path, (query if sep else None)


PSEUDO_HEADERS: Final = frozenset((":method", ":scheme", ":path", ":protocol"))
"""HTTP/2 and HTTP/3 pseudo-header fields that are protocol, or already read as the path
and query; ``:authority`` (the Host header's part) is searched like Host."""


def request_fields(req: HttpRequest, budget: Budget, part: str = "http") -> Iterator[Field]:
    """The fields of a request; ``part`` names the layer in ``where`` (``http``, or
    ``http2``/``http3`` for requests read from HTTP/2 and HTTP/3).

    Built into one list (:func:`expand_into`), not yielded layer by layer: a request has
    a handful of short fields, and a generator per place cost as much as they do."""
    out: list[Field] = []
    path, query = _path_and_query(req)
    if path and path != "/":
        expand_into(out, budget, f"{part}.path", "", (), None, (), path)
        for i, segment in enumerate(s for s in path.split("/")[1:] if s):
            expand_into(out, budget, f"{part}.path", f"segment[{i}]", (), None, (), segment)
    if query:
        # the pairs below are the structured view; a query without pairs may be one blob
        hint = LEAF if "=" in query else None
        expand_into(out, budget, f"{part}.query", "", (), None, (), query, None, hint)
        for name, key, value, _, sib in form.leaves(form.pairs(query)):
            expand_into(out, budget, f"{part}.query", escape_segment(name), (), key, sib, value)
    _headers(out, req.headers, budget, part)
    _body(out, req.headers, req.body, budget, part)
    return iter(out)


def response_fields(resp: HttpResponse, budget: Budget, part: str = "http") -> Iterator[Field]:
    """The fields of a response the device sent: a device that serves HTTP (a camera's
    status page, a UPnP description with its serial number and MAC) tells whoever asks.
    Its headers and body, under ``<part>.response.header`` and ``<part>.response.body``;
    the status line is protocol."""
    out: list[Field] = []
    _headers(out, resp.headers, budget, f"{part}.response", cookies=False)
    _body(out, resp.headers, resp.body, budget, f"{part}.response")
    return iter(out)


def _body(out: list[Field], headers: Headers, body: bytes, budget: Budget, part: str) -> None:
    if body:
        hint = structure_hint(header(headers, "content-type"))
        expand_into(out, budget, f"{part}.body", "", (), None, (), to_text(body), body, hint)


def _headers(
    out: list[Field], headers: Headers, budget: Budget, part: str, cookies: bool = True
) -> None:
    """The headers as fields; ``cookies``: a Cookie header as its cookies (a request's)."""
    kept = [
        (k, v) for k, v in headers if k.lower() not in NOISE_HEADERS and k not in PSEUDO_HEADERS
    ]
    context = [sibling_pair(k, v) for k, v in kept if not (cookies and k.lower() == "cookie")]
    context = context[: MAX_SIBLINGS + 1]
    slot = 0
    for name, value in kept:
        lname = name.lower()
        if lname == "cookie" and cookies:
            _cookies(out, value, budget, part)
            continue
        sib = others(context, slot if slot <= MAX_SIBLINGS else -1)
        slot += 1
        if lname in _AUTH_HEADERS:
            # the scheme (Basic, Bearer) is protocol; the credentials are the data
            scheme, space, credentials = value.strip().partition(" ")
            if space and scheme.isalpha():
                value = credentials.strip()
        where = escape_segment(name)
        expand_into(out, budget, f"{part}.header", where, (), name, sib, value.strip())


def _cookies(out: list[Field], value: str, budget: Budget, part: str) -> None:
    pairs = form.cookie_pairs(value)
    context = [sibling_pair(k, v) for k, v in pairs[: MAX_SIBLINGS + 1]]
    for i, (name, v) in enumerate(pairs):
        if not v:
            continue
        sib = others(context, i if i <= MAX_SIBLINGS else -1)
        expand_into(out, budget, f"{part}.cookie", escape_segment(name), (), name or None, sib, v)


def structure_hint(content_type: str | None) -> str | None:
    """What the Content-Type says that sniffing cannot: form encoding, multipart boundary."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.startswith("multipart/"):
        marker = multipart.boundary(content_type)
        return f"multipart;{marker}" if marker else None
    return None
