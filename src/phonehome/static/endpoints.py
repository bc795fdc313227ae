"""Hard-coded network endpoints in an app: URLs and bare host names in DEX strings and in
the printable strings of native libraries. These are what links a destination seen in a
capture to the app whose code names it, and plain ``http://`` ones are flagged: whatever
goes there can be read by anyone on the path.

A bare string counts as a host only if it is the whole string, has an ICANN public suffix
and does not read like a Java package (``com.google.android`` has a valid TLD too).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from phonehome.refdata import registrable_domain

MAX_ENDPOINTS = 2000
MAX_STRING = 4096
MIN_NATIVE_RUN = 8
MAX_NATIVE_BYTES = 64 * 1024 * 1024

_URL = re.compile(r"\b(?:https?|wss?|ftp|mqtts?|tcp)://[^\s\"'<>\\^`{|}]{1,2000}", re.I)
_HOST = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")
_NATIVE_RUN = re.compile(rb"[\x20-\x7e]{%d,}" % MIN_NATIVE_RUN)
_JAVA_ROOT_WORDS = "com org net android androidx java javax kotlin io dalvik junit sun de fr uk cn"
_JAVA_ROOTS = frozenset(_JAVA_ROOT_WORDS.split())
"""First labels that make a dotted string a reversed-domain Java package, not a host."""
_FILE_EXT_WORDS = (
    "xml json png jpg jpeg gif webp so dex txt html htm js css properties db bin dat zip "
    "apk jar class java kt proto mp3 mp4 ogg wav ttf otf conf cfg log tmp"
)
_FILE_TLDS = frozenset(_FILE_EXT_WORDS.split())
"""File extensions that are also TLDs or look like them (``config.properties``)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    value: str
    """The URL or host as written in the app (trimmed)."""
    host: str
    scheme: str | None
    """``http``, ``https``, ... or None for a bare host."""
    where: str
    """``dex`` or the native library's path in the APK."""

    @property
    def cleartext(self) -> bool:
        return self.scheme in ("http", "ws", "ftp", "mqtt", "tcp")

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "host": self.host,
            "scheme": self.scheme,
            "cleartext": self.cleartext,
            "where": self.where,
        }


def from_strings(strings: Iterable[str], where: str = "dex") -> list[Endpoint]:
    """Endpoints among whole strings (DEX string table, resource strings)."""
    out: dict[str, Endpoint] = {}
    for text in strings:
        if len(out) >= MAX_ENDPOINTS:
            break
        if len(text) > MAX_STRING or ("." not in text):
            continue
        if "://" in text:
            for match in _URL.finditer(text):
                _add_url(out, match.group(0), where)
        else:
            host = _bare_host(text)
            if host:
                out.setdefault(host, Endpoint(host, host, None, where))
    return list(out.values())


def from_native(data: bytes, where: str) -> list[Endpoint]:
    """Endpoints in the printable runs of a native library (URLs, and whole-run hosts)."""
    runs = (m.group(0).decode("ascii") for m in _NATIVE_RUN.finditer(data[:MAX_NATIVE_BYTES]))
    return from_strings(runs, where)


def _add_url(out: dict[str, Endpoint], url: str, where: str) -> None:
    url = url.rstrip(".,;:)]")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return
    if not host or not (_is_ip(host) or _HOST.match(host.lower())):
        return
    out.setdefault(url, Endpoint(url, host.lower(), parts.scheme.lower(), where))


def _bare_host(text: str) -> str | None:
    host = text.strip().lower()
    if host != text.strip() or not _HOST.match(host):
        return None  # upper case: a class name, not a host
    labels = host.split(".")
    if labels[0] in _JAVA_ROOTS or labels[-1] in _FILE_TLDS:
        return None
    domain = registrable_domain(host, icann_only=True)
    return host if domain else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
