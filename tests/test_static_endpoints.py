"""Endpoints (static/endpoints.py): a URL anywhere counts; a bare string counts as a host
only when it can be one (a suffix the Public Suffix List knows) and the code uses it as
one (hands it to a host/URL API, or appends it after a ``scheme://`` it also loads).
Issue 17's junk (Java property names, broadcast actions) must not come back."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome.static.apk import analyze_apk
from phonehome.static.endpoints import bare_host, from_native, from_strings, is_scheme_prefix
from tests.builders_apk import Cls, Method, build_apk, build_axml, build_dex, manifest


def hosts_of(tmp_path: Path, code: list[tuple[str, ...]]) -> set[str]:
    dex = build_dex([Cls("Lcom/x/Main;", methods=[Method("run", code)])])
    apk = build_apk(tmp_path / "x.apk", manifest_xml=build_axml(manifest("com.x")), dex_files=[dex])
    return analyze_apk(apk).hosts()


def _use(api: str, kind: str, host: str = "api.example.com") -> list[tuple[str, ...]]:
    return [("string", host), ("invoke", api, kind)]


@pytest.mark.parametrize(
    ("code", "host"),
    [
        (_use("Ljava/net/URL;-><init>", "direct"), "api.example.com"),
        (_use("Landroid/net/Uri;->parse", "static"), "api.example.com"),
        (_use("Ljava/net/InetSocketAddress;-><init>", "direct"), "api.example.com"),
        (_use("Ljava/net/InetSocketAddress;->createUnresolved", "static"), "api.example.com"),
        (_use("Ljava/net/InetAddress;->getByName", "static"), "api.example.com"),
        (_use("Ljava/net/Socket;-><init>", "direct"), "api.example.com"),
        (_use("Lokhttp3/HttpUrl$Builder;->host", "virtual"), "api.example.com"),
        (_use("Lokhttp3/CertificatePinner$Builder;->add", "virtual"), "api.example.com"),
        (_use("Lorg/apache/http/HttpHost;-><init>", "direct", "mqtt.vendor.cn"), "mqtt.vendor.cn"),
        (
            [
                ("string", "https://"),
                ("invoke", "Ljava/lang/StringBuilder;-><init>", "direct"),
                ("string", "cdn.example.org"),
                ("invoke", "Ljava/lang/StringBuilder;->append"),
            ],
            "cdn.example.org",
        ),
    ],
)
def test_a_host_the_code_uses_is_an_endpoint(
    tmp_path: Path, code: list[tuple[str, ...]], host: str
) -> None:
    assert hosts_of(tmp_path, code) == {host}


@pytest.mark.parametrize(
    "code",
    [
        # Java system properties: some even end in a real suffix (.name, .home is not)
        *(
            _use("Ljava/lang/System;->getProperty", "static", p)
            for p in (
                "user.name",
                "os.name",
                "line.separator",
                "os.arch",
                "user.home",
                "pack.segment.limit",
                "file.encoding",
                "java.vendor.url",
            )
        ),
        # broadcast actions and intent extras
        _use("Landroid/content/Intent;-><init>", "direct", "fm.last.android.metachanged"),
        _use("Landroid/content/IntentFilter;->addAction", "virtual", "fm.last.android.play"),
        # a host API, but no real suffix or a Java package
        _use("Ljava/net/URL;-><init>", "direct", "config.internal"),
        _use("Ljava/net/URL;-><init>", "direct", "com.example.app"),
        # appended, but no URL being built in this method
        [("string", "user.name"), ("invoke", "Ljava/lang/StringBuilder;->append")],
        # a host string with a call in between: not the host API's argument
        [
            ("string", "api.example.com"),
            ("invoke", "Ljava/lang/System;->getProperty", "static"),
            ("invoke", "Ljava/net/URL;-><init>", "direct"),
        ],
    ],
)
def test_strings_that_are_not_hosts(tmp_path: Path, code: list[tuple[str, ...]]) -> None:
    assert hosts_of(tmp_path, code) == set()


def test_a_url_counts_wherever_it_is(tmp_path: Path) -> None:
    assert hosts_of(tmp_path, [("string", "https://telemetry.example.net/v1/up")]) == {
        "telemetry.example.net"
    }


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("api.example.com", "api.example.com"),
        ("zzhc.vnet.cn", "zzhc.vnet.cn"),
        ("user.name", "user.name"),  # can be a host: it takes a use in code to be one
        ("line.separator", None),
        ("fm.last.android.metachanged", None),
        ("Api.Example.com", None),
        ("config.properties", None),
        ("com.google.android", None),
        ("localhost", None),
    ],
)
def test_bare_host(text: str, host: str | None) -> None:
    assert bare_host(text) == host


def test_native_libraries_give_urls_only() -> None:
    data = b"\0https://log.example-telemetry.com/v1/up\0\0reg.vendor-cloud.net\0os.name\0"
    assert [e.value for e in from_native(data, "lib/x.so")] == [
        "https://log.example-telemetry.com/v1/up"
    ]
    assert from_strings(["reg.vendor-cloud.net"]) == []
    assert is_scheme_prefix("https://") and not is_scheme_prefix("note://x")
