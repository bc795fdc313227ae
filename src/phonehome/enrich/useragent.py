"""Which app sent a request, as far as its User-Agent says so (a weak source).

Precision over recall: a User-Agent names an app only when it carries an Android package
or iOS bundle id (a reverse-domain token such as ``com.example.app/1.2``), a Facebook
``FBPN``/``FBBI`` field, or the app's name in the form Apple's CFNetwork writes for every
iOS app (``AppName/1.0 CFNetwork/... Darwin/...``). Library and platform strings
(``Dalvik/2.1.0``, ``okhttp/4.9``, browsers) name no app. Dalvik's string names the
device model instead: ``device_from_user_agent``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from publicsuffixlist import PublicSuffixList

from phonehome.refdata import public_suffixes

SOURCE = "user-agent"
MAX_UA = 2048

# First labels of reverse-domain ids besides two-letter country codes. The newer generic
# TLDs (app, cloud, video ...) are left out: "video.example.com/1.0" is a host name.
_GENERIC_TLDS = frozenset({"com", "org", "net", "edu", "gov", "mil", "int", "info", "biz"})
_LABEL = r"[A-Za-z][A-Za-z0-9_]*"
_REVERSE_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_COMMENT = re.compile(r"\([^()]*\)")
_FB_FIELD = re.compile(r"\b(FBAN|FB_IAB|FBPN|FBBI)/([^;\]\s]+)")
# Facebook's app names (FBAN, or FB_IAB in its in-app browser) when no package field is given.
_FB_APPS = {"FB4A": "com.facebook.katana", "Orca-Android": "com.facebook.orca"}
# Instagram's own format, also appended to its in-app browser's WebView string.
_INSTAGRAM = re.compile(r"(?:^|\s)Instagram [0-9][0-9.]* (Android \(|\()")
_MODEL = re.compile(r"[;(]\s*([^;]+?)\s+Build/")


def _suffixes() -> PublicSuffixList:
    return public_suffixes()


def is_package_name(token: str) -> bool:
    """A reverse-domain id (``com.example.app``): its first label is a TLD."""
    if len(token) > 255 or not _REVERSE_DOMAIN.fullmatch(token):
        return False
    first = token.split(".", 1)[0].lower()
    if first in _GENERIC_TLDS:
        return True
    return len(first) == 2 and _suffixes().publicsuffix(first, accept_unknown=False) == first


def _products(ua: str) -> list[tuple[str, str]]:
    """Top-level ``name/version`` tokens (comments in parentheses removed)."""
    text = ua
    for _ in range(4):  # nested comments: peel up to four levels
        text, n = _COMMENT.subn(" ", text)
        if n == 0:
            break
    products = []
    for token in text.split():
        name, _, version = token.partition("/")
        products.append((name, version))
    return products


def app_from_user_agent(ua: str) -> tuple[list[str], str] | None:
    """``([package or app name, ...], "user-agent")`` when the User-Agent names the app."""
    ua = ua[:MAX_UA].strip()
    if not ua:
        return None
    names = _facebook(ua)
    instagram = _INSTAGRAM.search(ua)
    if not names and instagram:
        names = ["com.instagram.android" if instagram.group(1) != "(" else "Instagram"]
    products = _products(ua)
    if not names:
        names = [name for name, _ in products if is_package_name(name)]
    if not names and any(name == "CFNetwork" for name, _ in products[1:]):
        first = unquote(products[0][0]).strip()
        if first and first != "CFNetwork" and len(first) <= 64:
            names = [first]
    if not names:
        return None
    return list(dict.fromkeys(names)), SOURCE


def _facebook(ua: str) -> list[str]:
    fields = dict(_FB_FIELD.findall(ua))
    for key in ("FBPN", "FBBI"):
        if is_package_name(fields.get(key, "")):
            return [fields[key]]
    app = _FB_APPS.get(fields.get("FBAN", "")) or _FB_APPS.get(fields.get("FB_IAB", ""))
    if app:
        return [app]
    if fields.get("FBAN") == "FBIOS":
        return ["Facebook"]
    return []


def device_from_user_agent(ua: str) -> str | None:
    """The device model an Android User-Agent names (``TA-1046`` in Dalvik's string)."""
    match = _MODEL.search(ua[:MAX_UA])
    if match is None:
        return None
    model = match.group(1).strip()
    if not model or len(model) > 64 or model.startswith("Android"):
        return None
    return model
