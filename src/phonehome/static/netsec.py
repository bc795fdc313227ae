"""An app's network security config: may it send cleartext, to whom, and whom it trusts.

Android (API 24+) reads ``android:networkSecurityConfig`` from the manifest, an XML
resource with a ``<base-config>`` and per-host ``<domain-config>`` elements
(``cleartextTrafficPermitted``, ``<trust-anchors>`` with ``<certificates src=...>``,
``<pin-set>``). For a researcher this answers two questions a finding raises: was the
app even allowed to send this host plain HTTP, and will it accept a user-installed CA,
so that its TLS traffic can be read with mitmproxy?

Which file: the manifest names the config by resource id (``@0x7f...``), and only
``resources.arsc`` maps ids to paths. Rather than read that table, the config is found
by content: the compiled XML under ``res/`` whose root element is
``<network-security-config>``. That also finds it after resource shrinking renames
``res/xml/network_security_config.xml`` to something like ``res/Xq.xml``. If several
exist, the one with the usual name is taken first.

Semantics as documented for Android: ``cleartextTrafficPermitted`` defaults to true for
apps targeting API < 28 and false from 28; a ``<domain-config>`` inherits what it does not
set from the enclosing one, then from ``<base-config>``; ``<debug-overrides>`` apply only
to debuggable builds and are reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phonehome.static.axml import AttrValue, XmlElement, parse_axml
from phonehome.static.zipsafe import SafeZip

ROOT_TAG = "network-security-config"
MAX_CANDIDATES = 4000
"""``res/`` XML files looked at (a large app has a few thousand)."""
MAX_CONFIG_BYTES = 1024 * 1024
MAX_DOMAINS = 500
_NEEDLES = (ROOT_TAG.encode(), ROOT_TAG.encode("utf-16-le"))
_USUAL_NAME = "res/xml/network_security_config.xml"


@dataclass(slots=True)
class DomainRule:
    domain: str
    include_subdomains: bool
    cleartext: bool
    """Effective: set here, or inherited from the enclosing config, then the base."""
    user_cas: bool
    pinned: bool

    def label(self) -> str:
        return f"*.{self.domain}" if self.include_subdomains else self.domain


@dataclass(slots=True)
class NetworkSecurity:
    source: str
    """The APK entry the config was read from."""
    base_cleartext: bool
    """``<base-config cleartextTrafficPermitted>``, else the platform default."""
    base_user_cas: bool
    """The base config trusts user-installed CAs: a proxy's CA on the phone is enough
    to read the app's TLS traffic."""
    domains: list[DomainRule] = field(default_factory=list)
    debug_user_cas: bool = False
    """``<debug-overrides>`` trust user CAs (only in a debuggable build)."""
    problems: list[str] = field(default_factory=list)

    def cleartext_domains(self) -> list[str]:
        return sorted({d.label() for d in self.domains if d.cleartext})

    def cleartext_anywhere(self) -> bool:
        return self.base_cleartext or any(d.cleartext for d in self.domains)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "cleartext_permitted": self.base_cleartext,
            "cleartext_domains": self.cleartext_domains(),
            "user_cas_trusted": self.base_user_cas,
            "user_ca_domains": sorted({d.label() for d in self.domains if d.user_cas}),
            "pinned_domains": sorted({d.label() for d in self.domains if d.pinned}),
            "debug_overrides_trust_user_cas": self.debug_user_cas,
            "problems": self.problems,
        }


def find_config(archive: SafeZip) -> tuple[str, bytes] | None:
    """The entry under ``res/`` whose compiled XML root is the config, with its bytes."""
    names = [n for n in archive.names() if n.startswith("res/") and n.endswith(".xml")]
    names.sort(key=lambda n: (n != _USUAL_NAME, n))
    for name in names[:MAX_CANDIDATES]:
        data = archive.read(name, limit=MAX_CONFIG_BYTES)
        if data is None or not any(needle in data for needle in _NEEDLES):
            continue
        root = parse_axml(data).root
        if root is not None and root.tag == ROOT_TAG:
            return name, data
    return None


def parse_config(source: str, data: bytes, target_sdk: int | None) -> NetworkSecurity:
    """Read a compiled network security config; damage goes to ``problems``."""
    doc = parse_axml(data)
    # Platform defaults by target API: cleartext until 27, user CAs until 23.
    default_cleartext = target_sdk is None or target_sdk < 28
    default_user_cas = target_sdk is None or target_sdk < 24
    config = NetworkSecurity(
        source, default_cleartext, default_user_cas, problems=list(doc.problems)
    )
    root = doc.root
    if root is None:
        return config
    for base in root.find_all("base-config")[:1]:
        config.base_cleartext = _flag(base, "cleartextTrafficPermitted", default_cleartext)
        config.base_user_cas = _trusts_user(base, default_user_cas)
    for debug in root.find_all("debug-overrides")[:1]:
        config.debug_user_cas = _trusts_user(debug, False)
    for dc in root.find_all("domain-config"):
        _domain_config(dc, config.base_cleartext, config.base_user_cas, config)
    return config


def _domain_config(
    element: XmlElement, cleartext: bool, user_cas: bool, config: NetworkSecurity
) -> None:
    cleartext = _flag(element, "cleartextTrafficPermitted", cleartext)
    user_cas = _trusts_user(element, user_cas)
    pinned = bool(element.find_all("pin-set"))
    for d in element.find_all("domain"):
        name = d.text.strip().lower().rstrip(".")
        if not name:
            config.problems.append("<domain> without a name ignored")
            continue
        if len(config.domains) >= MAX_DOMAINS:
            config.problems.append(f"over {MAX_DOMAINS} domains: rest ignored")
            return
        subs = _flag(d, "includeSubdomains", False)
        config.domains.append(DomainRule(name, subs, cleartext, user_cas, pinned))
    for nested in element.find_all("domain-config"):
        _domain_config(nested, cleartext, user_cas, config)


def _trusts_user(element: XmlElement, inherited: bool) -> bool:
    anchors = element.find_all("trust-anchors")
    if not anchors:
        return inherited
    return any(
        _text(c.attrs.get("src")) == "user" for a in anchors for c in a.find_all("certificates")
    )


def _flag(element: XmlElement, name: str, default: bool) -> bool:
    value = element.attrs.get(name)
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "false"):
        return text == "true"
    return default


def _text(value: AttrValue) -> str:
    return value if isinstance(value, str) else ""
