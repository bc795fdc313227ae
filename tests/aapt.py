"""Android's own reading of an APK's manifest (``aapt dump badging`` / ``xmltree``), for the
tests that cross-check phonehome's AXML and manifest parsers against it.

``aapt`` is the Android SDK's packaging tool (Debian package ``aapt``); what it prints is
how the build tools read the binary manifest, independently of phonehome's parser.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.needs import need_tool

COMPONENTS = {
    "activity": "activity",
    "activity-alias": "activity",
    "service": "service",
    "receiver": "receiver",
    "provider": "provider",
}
"""Manifest element -> phonehome's component kind (an alias is reported as an activity)."""


def dump(*what: str) -> str:
    return subprocess.run(
        [need_tool("aapt"), "dump", *what],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def badging(apk: Path) -> dict[str, Any]:
    """package name, versionCode, versionName, sdkVersion, targetSdkVersion as aapt's
    ``dump badging`` states them."""
    text = dump("badging", str(apk))
    line = re.search(r"^package: (.*)$", text, re.M)
    assert line, text
    package = dict(re.findall(r"(\w+)='([^']*)'", line[1]))
    sdk = re.search(r"^sdkVersion:'(\d+)'$", text, re.M)
    target = re.search(r"^targetSdkVersion:'(\d+)'$", text, re.M)
    return {
        "package": package["name"],
        "version_code": int(package["versionCode"]) if package.get("versionCode") else None,
        "version_name": package.get("versionName") or None,
        "min_sdk": int(sdk[1]) if sdk else None,
        "target_sdk": int(target[1]) if target else None,
    }


@dataclass
class Element:
    tag: str
    attrs: dict[str, object] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)

    def all(self, tag: str) -> list[Element]:
        return [c for c in self.children if c.tag == tag]


_ATTR = re.compile(r"^(?P<name>[\w:.-]+?)(?:\(0x[0-9a-f]+\))?=(?P<value>.*)$")


def _value(text: str) -> object:
    """A string (``"x" (Raw: "x")``), an integer (``(type 0x10)0x2a``) or a boolean
    (``(type 0x12)0xffffffff``)."""
    if text.startswith('"'):
        m = re.match(r'"((?:[^"\\]|\\.)*)"', text)
        assert m, text
        return m[1].replace('\\"', '"').replace("\\\\", "\\")
    m = re.match(r"\(type (0x[0-9a-f]+)\)(0x[0-9a-f]+)", text)
    assert m, text
    kind, raw = int(m[1], 16), int(m[2], 16)
    if kind == 0x12:
        return raw != 0
    return raw


def xmltree(apk: Path) -> Element:
    """The manifest's element tree from ``dump xmltree`` (nesting by indentation)."""
    text = dump("xmltree", str(apk), "AndroidManifest.xml")
    root = Element("")
    stack: list[tuple[int, Element]] = [(-1, root)]
    for line in text.splitlines():
        m = re.match(r"^( *)([NEA]): (.*)$", line)
        if not m or m[2] == "N":
            continue
        indent, kind, rest = len(m[1]), m[2], m[3]
        while stack[-1][0] >= indent:
            stack.pop()
        if kind == "E":
            el = Element(rest.split(" (line=")[0])
            stack[-1][1].children.append(el)
            stack.append((indent, el))
        else:
            a = _ATTR.match(rest)
            assert a, line
            stack[-1][1].attrs[a["name"]] = _value(a["value"])
    (manifest,) = root.all("manifest")
    return manifest


def class_name(package: str, name: str) -> str:
    """A component's class as Android resolves it: ``.X`` and ``X`` are in the package."""
    if name.startswith("."):
        return package + name
    return name if "." in name else f"{package}.{name}"


def manifest_facts(apk: Path) -> dict[str, Any]:
    """What phonehome's manifest report must say about ``apk``, as aapt reads it."""
    tree = xmltree(apk)
    package = str(tree.attrs["package"])
    [application] = tree.all("application") or [Element("application")]
    components = []
    for el in application.children:
        if el.tag not in COMPONENTS:
            continue
        actions = [
            str(a.attrs["android:name"])
            for f in el.all("intent-filter")
            for a in f.all("action")
            if "android:name" in a.attrs
        ]
        name = class_name(package, str(el.attrs["android:name"]))
        components.append((COMPONENTS[el.tag], name, actions, el.attrs.get("android:exported")))
    cleartext = application.attrs.get("android:usesCleartextTraffic")
    return {
        **badging(apk),
        "shared_user_id": tree.attrs.get("android:sharedUserId"),
        "permissions": [str(p.attrs["android:name"]) for p in tree.all("uses-permission")],
        "uses_cleartext_traffic": cleartext if isinstance(cleartext, bool) else None,
        "components": components,
    }
