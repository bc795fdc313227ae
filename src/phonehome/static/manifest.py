"""What an app's manifest says about its privacy: who it runs as, what it may read, and
which system events wake it up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phonehome.static.axml import AttrValue, XmlElement, parse_axml

COMPONENT_TAGS = ("activity", "activity-alias", "service", "receiver", "provider")


@dataclass(slots=True)
class Component:
    kind: str
    """``activity``, ``service``, ``receiver``, ``provider`` (aliases count as activities)."""
    name: str
    """Fully qualified class name (``.Foo`` resolved against the package)."""
    actions: list[str] = field(default_factory=list)
    exported: bool | None = None
    """As declared; None when absent (then Android derives it from the intent filters)."""
    permission: str | None = None
    enabled: bool = True

    @property
    def effectively_exported(self) -> bool:
        return self.exported if self.exported is not None else bool(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "actions": self.actions,
            "exported": self.effectively_exported,
            "permission": self.permission,
            "enabled": self.enabled,
        }


@dataclass(slots=True)
class Manifest:
    package: str = ""
    version_code: int | None = None
    version_name: str | None = None
    shared_user_id: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    permissions: list[str] = field(default_factory=list)
    application_class: str | None = None
    uses_cleartext_traffic: bool | None = None
    """As declared; None means the platform default (allowed below API 28)."""
    network_security_config: str | None = None
    debuggable: bool = False
    components: list[Component] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def cleartext_allowed(self) -> bool | None:
        """Whether plain HTTP is permitted app-wide, as far as the manifest alone tells.
        A network security config can override either way: None then."""
        if self.network_security_config is not None:
            return None
        if self.uses_cleartext_traffic is not None:
            return self.uses_cleartext_traffic
        return self.target_sdk is None or self.target_sdk < 28

    def receivers(self) -> list[Component]:
        return [c for c in self.components if c.kind == "receiver"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version_code": self.version_code,
            "version_name": self.version_name,
            "shared_user_id": self.shared_user_id,
            "min_sdk": self.min_sdk,
            "target_sdk": self.target_sdk,
            "permissions": self.permissions,
            "application_class": self.application_class,
            "uses_cleartext_traffic": self.uses_cleartext_traffic,
            "network_security_config": self.network_security_config,
            "cleartext_allowed": self.cleartext_allowed,
            "debuggable": self.debuggable,
            "components": [c.to_dict() for c in self.components],
        }


def parse_manifest(data: bytes) -> Manifest:
    """Read a binary ``AndroidManifest.xml``; damage goes to ``problems``."""
    doc = parse_axml(data)
    manifest = Manifest(problems=[f"AndroidManifest.xml: {p}" for p in doc.problems])
    root = doc.root
    if root is None:
        return manifest
    if root.tag != "manifest":
        manifest.problems.append(f"AndroidManifest.xml: root element is {root.tag!r}")
    manifest.package = _text(root.attrs.get("package")) or ""
    manifest.version_code = _int(root.attrs.get("versionCode"))
    manifest.version_name = _text(root.attrs.get("versionName"))
    manifest.shared_user_id = _text(root.attrs.get("sharedUserId"))
    for sdk in root.find_all("uses-sdk"):
        manifest.min_sdk = _int(sdk.attrs.get("minSdkVersion"))
        manifest.target_sdk = _int(sdk.attrs.get("targetSdkVersion"))
    for tag in ("uses-permission", "uses-permission-sdk-23", "uses-permission-sdk-m"):
        for perm in root.find_all(tag):
            name = _text(perm.attrs.get("name"))
            if name and name not in manifest.permissions:
                manifest.permissions.append(name)
    for app in root.find_all("application")[:1]:
        _read_application(app, manifest)
    return manifest


def _read_application(app: XmlElement, manifest: Manifest) -> None:
    name = _text(app.attrs.get("name"))
    manifest.application_class = _qualify(name, manifest.package) if name else None
    cleartext = app.attrs.get("usesCleartextTraffic")
    manifest.uses_cleartext_traffic = cleartext if isinstance(cleartext, bool) else None
    nsc = app.attrs.get("networkSecurityConfig")
    manifest.network_security_config = None if nsc is None else str(nsc)
    manifest.debuggable = app.attrs.get("debuggable") is True
    for child in app.children:
        if child.tag not in COMPONENT_TAGS:
            continue
        cname = _text(child.attrs.get("name") or child.attrs.get("targetActivity"))
        if not cname:
            manifest.problems.append(f"AndroidManifest.xml: {child.tag} without a name")
            continue
        exported = child.attrs.get("exported")
        component = Component(
            kind="activity" if child.tag == "activity-alias" else child.tag,
            name=_qualify(cname, manifest.package),
            exported=exported if isinstance(exported, bool) else None,
            permission=_text(child.attrs.get("permission")),
            enabled=child.attrs.get("enabled") is not False,
        )
        for intent_filter in child.find_all("intent-filter"):
            for action in intent_filter.find_all("action"):
                value = _text(action.attrs.get("name"))
                if value and value not in component.actions:
                    component.actions.append(value)
        manifest.components.append(component)


def _qualify(name: str, package: str) -> str:
    if name.startswith("."):
        return package + name
    if "." not in name and package:
        return f"{package}.{name}"
    return name


def _text(value: AttrValue) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def _int(value: AttrValue) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None
