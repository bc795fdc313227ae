"""Network security configs: found by content under res/, read with Android's inheritance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phonehome.static.apk import analyze_apk
from phonehome.static.axml import parse_axml
from phonehome.static.netsec import parse_config
from tests.needs import need_tool

from .builders_apk import (
    APKTOOL_MANIFEST,
    SMALI_TASK,
    El,
    apktool_build,
    build_apk,
    build_axml,
    manifest,
)


def domain(name: str, subdomains: bool | None = None) -> El:
    attrs: dict[str, object] = {}
    if subdomains is not None:
        attrs["includeSubdomains"] = subdomains
    return El("domain", attrs, text=name)


def anchors(*sources: str) -> El:
    return El("trust-anchors", {}, [El("certificates", {"src": s}) for s in sources])


NOKIA_LIKE = El(
    "network-security-config",
    {},
    [
        El("base-config", {"cleartextTrafficPermitted": False}, [anchors("system")]),
        El(
            "domain-config",
            {"cleartextTrafficPermitted": True},
            [
                domain("zzhc.vnet.cn", True),
                domain("203.0.113.7"),
                El(
                    "domain-config",
                    {},  # inherits cleartext from its parent, adds user CAs and a pin
                    [domain("api.zzhc.vnet.cn"), anchors("system", "user"), El("pin-set")],
                ),
            ],
        ),
        El("domain-config", {}, [domain("pinned.example"), El("pin-set")]),
        El("debug-overrides", {}, [anchors("user")]),
    ],
)


def config(root: El, target_sdk: int | None = 28, utf8: bool = False) -> dict[str, Any]:
    return parse_config("res/xml/nsc.xml", build_axml(root, utf8=utf8), target_sdk).to_dict()


@pytest.mark.parametrize("utf8", [False, True])
def test_domain_configs_inherit_and_report_cleartext_user_cas_and_pins(utf8: bool) -> None:
    got = config(NOKIA_LIKE, utf8=utf8)
    assert got == {
        "source": "res/xml/nsc.xml",
        "cleartext_permitted": False,
        "cleartext_domains": ["*.zzhc.vnet.cn", "203.0.113.7", "api.zzhc.vnet.cn"],
        "user_cas_trusted": False,
        "user_ca_domains": ["api.zzhc.vnet.cn"],
        "pinned_domains": ["api.zzhc.vnet.cn", "pinned.example"],
        "debug_overrides_trust_user_cas": True,
        "problems": [],
    }


@pytest.mark.parametrize(
    ("target_sdk", "cleartext", "user_cas"),
    [
        (23, True, True),
        (24, True, False),
        (27, True, False),
        (28, False, False),
        (None, True, True),
    ],
)
def test_platform_defaults_by_target_api(
    target_sdk: int | None, cleartext: bool, user_cas: bool
) -> None:
    root = El("network-security-config", {}, [El("domain-config", {}, [domain("a.example")])])
    got = config(root, target_sdk)
    assert got["cleartext_permitted"] is cleartext
    assert got["user_cas_trusted"] is user_cas
    assert got["cleartext_domains"] == (["a.example"] if cleartext else [])


def test_string_flags_as_aapt_may_leave_them() -> None:
    root = El(
        "network-security-config",
        {},
        [El("base-config", {"cleartextTrafficPermitted": "true"}, [anchors("user")])],
    )
    got = config(root, 33)
    assert got["cleartext_permitted"] is True and got["user_cas_trusted"] is True


def test_damage_is_a_problem_not_an_exception() -> None:
    data = build_axml(NOKIA_LIKE)
    got = parse_config("res/xml/x.xml", data[: len(data) // 2], 28)
    assert got.problems
    assert parse_config("res/xml/x.xml", b"<network-security-config/>", 30).problems
    empty = El("network-security-config", {}, [El("domain-config", {}, [domain("  ")])])
    assert config(empty)["problems"] == ["<domain> without a name ignored"]


def test_element_text_is_read_from_cdata() -> None:
    doc = parse_axml(build_axml(El("a", {}, [El("b", {}, text="x.example")])))
    assert doc.root is not None and doc.root.children[0].text == "x.example"


def apk_with(tmp_path: Path, entries: dict[str, bytes], nsc_ref: bool = True) -> dict[str, Any]:
    """The report of a code-less APK, without the problem of having no code."""
    m = manifest("com.ex", network_security_config=0x7F120001 if nsc_ref else None)
    path = build_apk(tmp_path / "ex.apk", manifest_xml=build_axml(m), extra=entries)
    doc = analyze_apk(path).to_dict()
    doc["problems"] = [p for p in doc["problems"] if "code not analysable" not in p]
    return doc


@pytest.mark.parametrize(
    "name", ["res/xml/network_security_config.xml", "res/Xq.xml", "res/xml-v24/n.xml"]
)
def test_an_apk_config_is_found_by_content_whatever_its_name(tmp_path: Path, name: str) -> None:
    layout = El("LinearLayout", {"android:name": "x"})
    doc = apk_with(
        tmp_path,
        {"res/layout/main.xml": build_axml(layout), name: build_axml(NOKIA_LIKE)},
    )
    assert doc["network_security"]["source"] == name
    assert doc["network_security"]["cleartext_domains"][0] == "*.zzhc.vnet.cn"
    assert doc["cleartext_allowed"] is False  # the config's base, not the manifest's None
    assert doc["problems"] == []


def test_declared_but_missing_config_is_a_problem(tmp_path: Path) -> None:
    doc = apk_with(tmp_path, {})
    assert doc["network_security"] is None
    assert doc["cleartext_allowed"] is None
    assert "networkSecurityConfig declared but no such config under res/" in doc["problems"]
    assert apk_with(tmp_path, {}, nsc_ref=False)["problems"] == []


NSC_XML = """<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <base-config cleartextTrafficPermitted="false">
    <trust-anchors><certificates src="system"/></trust-anchors>
  </base-config>
  <domain-config cleartextTrafficPermitted="true">
    <domain includeSubdomains="true">zzhc.vnet.cn</domain>
  </domain-config>
  <debug-overrides><trust-anchors><certificates src="user"/></trust-anchors></debug-overrides>
</network-security-config>
"""


def test_a_config_compiled_by_the_real_toolchain(tmp_path: Path) -> None:
    need_tool("apktool")
    app_manifest = APKTOOL_MANIFEST.replace(
        "<application/>",
        '<application android:networkSecurityConfig="@xml/network_security_config"/>',
    )
    apk = apktool_build(
        tmp_path,
        {"com/ex/Task.smali": SMALI_TASK},
        app_manifest,
        res={"xml/network_security_config.xml": NSC_XML},
    )
    doc = analyze_apk(apk).to_dict()
    assert doc["network_security_config"] is not None
    ns = doc["network_security"]
    assert ns["cleartext_permitted"] is False
    assert ns["cleartext_domains"] == ["*.zzhc.vnet.cn"]
    assert ns["user_cas_trusted"] is False
    assert ns["debug_overrides_trust_user_cas"] is True
    assert doc["cleartext_allowed"] is False


def test_the_text_report_says_what_the_config_permits() -> None:
    from phonehome.report.static_text import network_security_line

    line = network_security_line(config(NOKIA_LIKE))
    assert line == (
        "cleartext blocked except *.zzhc.vnet.cn, 203.0.113.7, api.zzhc.vnet.cn; "
        "trusts user CAs for 1 domain; pins 2 domains"
    )
    assert network_security_line({}) == ""
    open_app = El("network-security-config", {}, [El("base-config", {}, [anchors("user")])])
    assert network_security_line(config(open_app, 23)) == (
        "cleartext allowed; trusts user-installed CAs (a proxy CA reads its TLS)"
    )
