"""Hard-coded network endpoints in an app: URLs in DEX strings and in the printable
strings of native libraries, and bare host names the code uses as hosts. These are what
links a destination seen in a capture to the app whose code names it, and plain
``http://`` ones are flagged: whatever goes there can be read by anyone on the path.

A full URL (``scheme://host...``) is an endpoint wherever it appears. A bare dotted
string is one only when it *can* be a host and the code *uses* it as one:

- it is the whole string, lower case, ends in a suffix the Public Suffix List knows (its
  ICANN section, and no default rule: ``line.separator``, ``os.arch`` and
  ``fm.last.android.metachanged`` end in no real suffix), is not a Java package
  (``com.google.android``) or a file name (``config.properties``); and
- the method that loads it hands it to an API that takes a host or URL (``new URL``,
  ``Uri.parse``, ``InetSocketAddress``, ``Socket``, ``InetAddress.getByName``, OkHttp's
  ``HttpUrl.Builder.host``/``Request.Builder.url``, ``CertificatePinner.Builder.add``,
  ``HttpHost``), or appends it after a ``scheme://`` string it also loads
  (:data:`HOST_APIS`, checked while the call graph is built, ``callgraph.CallGraph``).

So ``System.getProperty("user.name")`` and ``new Intent("fm.last.android.play")`` name no
host, even where the suffix is real. Native libraries are not disassembled: only their
URLs count.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from phonehome.refdata import public_suffixes

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


HOST_APIS = frozenset(
    {
        "Ljava/net/URL;-><init>",
        "Ljava/net/URI;-><init>",
        "Ljava/net/URI;->create",
        "Landroid/net/Uri;->parse",
        "Landroid/net/Uri$Builder;->authority",
        "Landroid/net/Uri$Builder;->encodedAuthority",
        "Ljava/net/InetSocketAddress;-><init>",
        "Ljava/net/InetSocketAddress;->createUnresolved",
        "Ljava/net/InetAddress;->getByName",
        "Ljava/net/InetAddress;->getAllByName",
        "Ljava/net/Socket;-><init>",
        "Ljavax/net/ssl/SSLSocket;-><init>",
        "Ljavax/net/SocketFactory;->createSocket",
        "Ljavax/net/ssl/SSLSocketFactory;->createSocket",
        "Lokhttp3/HttpUrl$Builder;->host",
        "Lokhttp3/HttpUrl;->parse",
        "Lokhttp3/HttpUrl;->get",
        "Lokhttp3/Request$Builder;->url",
        "Lokhttp3/CertificatePinner$Builder;->add",
        "Lcom/squareup/okhttp/HttpUrl$Builder;->host",
        "Lcom/squareup/okhttp/Request$Builder;->url",
        "Lorg/apache/http/HttpHost;-><init>",
        "Landroid/webkit/WebView;->loadUrl",
    }
)
"""Calls whose string arguments are hosts or URLs: a bare string loaded just before one
of them (no other call in between) is used as a host."""

APPEND_APIS = frozenset(
    {
        "Ljava/lang/StringBuilder;->append",
        "Ljava/lang/StringBuilder;-><init>",
        "Ljava/lang/StringBuffer;->append",
        "Ljava/lang/String;->concat",
    }
)
"""String building: a bare string appended in a method that also loads a ``scheme://``
string is the host of the URL being built (``"https://" + HOST + "/v1"``)."""


def from_strings(strings: Iterable[str], where: str = "dex") -> list[Endpoint]:
    """URL endpoints among whole strings (DEX string table, resource strings)."""
    out: dict[str, Endpoint] = {}
    for text in strings:
        if len(out) >= MAX_ENDPOINTS:
            break
        if len(text) > MAX_STRING or "://" not in text:
            continue
        for match in _URL.finditer(text):
            _add_url(out, match.group(0), where)
    return list(out.values())


def host_endpoint(host: str, where: str = "dex") -> Endpoint:
    """A bare host the code uses as one (see the module docstring)."""
    return Endpoint(host, host, None, where)


def is_scheme_prefix(text: str) -> bool:
    """``https://``, ``http://`` ...: the start of a URL built in code."""
    return text.endswith("://") and _URL.match(text + "x.xx") is not None


def from_native(data: bytes, where: str) -> list[Endpoint]:
    """URL endpoints in the printable runs of a native library."""
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


def bare_host(text: str) -> str | None:
    """``text`` as a host name if it can be one (whole string, lower case, a suffix the
    Public Suffix List knows, not a Java package or a file name), else None."""
    host = text.strip().lower()
    if host != text.strip() or not _HOST.match(host):
        return None  # upper case: a class name, not a host
    labels = host.split(".")
    if labels[0] in _JAVA_ROOTS or labels[-1] in _FILE_TLDS:
        return None
    psl = public_suffixes(icann_only=True)
    domain = psl.privatesuffix(host, accept_unknown=False)
    return host if isinstance(domain, str) else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
