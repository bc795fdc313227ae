"""``analyze_apk`` end to end: hand-built APKs (manifest + multidex code + native
library), APKs assembled by apktool when installed, pre-compiled system apps with their
code in oat/<arch>/*.vdex|odex, and broken inputs that must give per-file problems."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from phonehome.errors import InputError
from phonehome.static import analyze_apk
from phonehome.static.oat import extract_dex
from tests import aapt
from tests.builders_apk import (
    APKTOOL_MANIFEST,
    SMALI_TASK,
    Cls,
    Method,
    apktool_build,
    build_apk,
    build_axml,
    build_dex,
    manifest,
    vdex,
    zip_bytes,
)
from tests.needs import needs

REPO = Path(__file__).resolve().parents[1]
PKG = "com.qualcomm.qti.autoregistration"
RECV = "Lcom/qualcomm/qti/autoregistration/RegistrationReceiver;"
TASK = "Lcom/qualcomm/qti/autoregistration/RegistrationTask;"
MANIFEST = build_axml(
    manifest(
        PKG,
        permissions=("android.permission.READ_PHONE_STATE", "android.permission.INTERNET"),
        receivers={".RegistrationReceiver": ("android.intent.action.USER_PRESENT",)},
        shared_user_id="android.uid.system",
        cleartext=True,
    )
)
RECEIVER = Cls(
    RECV,
    "Landroid/content/BroadcastReceiver;",
    methods=[
        Method(
            "onReceive",
            [
                ("new", TASK),
                ("invoke", f"{TASK}-><init>", "direct"),
                ("invoke", "Ljava/lang/Thread;-><init>", "direct"),
                ("invoke", "Ljava/lang/Thread;->start"),
            ],
        )
    ],
)
TASK_CLS = Cls(
    TASK,
    interfaces=("Ljava/lang/Runnable;",),
    methods=[
        Method("<init>"),
        Method(
            "run",
            [
                ("invoke", "Landroid/telephony/TelephonyManager;->getDeviceId"),
                ("invoke", "Landroid/telephony/TelephonyManager;->getSubscriberId"),
                ("invoke", "Landroid/telephony/TelephonyManager;->getSimSerialNumber"),
                ("invoke", "Landroid/telephony/TelephonyManager;->getCellLocation"),
                ("string", "http://zzhc.vnet.cn"),
                ("invoke", "Ljava/net/HttpURLConnection;->getOutputStream"),
            ],
        ),
    ],
)
TRACKER = Cls("Lcom/google/firebase/analytics/FirebaseAnalytics;", methods=[Method("logEvent")])
SO = b"\x7fELF" + bytes(64) + b"\0https://log.example-telemetry.com/v1/up\0\0reg.vendor-cloud.net\0"


def _autoreg(tmp_path: Path, **kw: object) -> Path:
    args: dict[str, object] = {
        "manifest_xml": MANIFEST,
        "dex_files": [build_dex([RECEIVER]), build_dex([TASK_CLS, TRACKER])],
        "extra": {"lib/arm64-v8a/libreg.so": SO},
    }
    args.update(kw)
    return build_apk(tmp_path / "AutoRegistration.apk", **args)  # type: ignore[arg-type]


def test_autoregistration_like_app(tmp_path: Path) -> None:
    report = analyze_apk(_autoreg(tmp_path))
    assert report.problems == []
    d = report.to_dict()
    json.dumps(d)
    assert d["package"] == PKG and d["shared_user_id"] == "android.uid.system"
    assert d["code"] == "dex" and d["dex_files"] == ["classes.dex", "classes2.dex"]
    assert report.reads_identifiers() == {"imei", "imsi", "iccid", "cell_id"}
    assert report.triggers() == {"USER_PRESENT"}
    # A bare host in a native library is not reported: the code's use of it as a host
    # cannot be seen (only URLs count there).
    assert report.hosts() == {"zzhc.vnet.cn", "log.example-telemetry.com"}
    cleartext = {e.value for e in report.endpoints if e.cleartext}
    assert cleartext == {"http://zzhc.vnet.cn"}
    assert {e.where for e in report.endpoints} == {"dex", "lib/arm64-v8a/libreg.so"}
    assert [t.name for t in report.trackers] == ["Google Firebase Analytics"]
    # The hand-built code calls the sources and the sink without passing a value (no
    # move-result): reachability, not data flow.
    assert {c.evidence for c in report.chains} == {"reachability"}
    texts = [c.text() for c in report.chains]
    assert len(texts) == 4
    assert (
        "USER_PRESENT receiver -> RegistrationReceiver.onReceive -> RegistrationTask.run -> "
        "TelephonyManager.getDeviceId ... -> HttpURLConnection.getOutputStream"
    ) in texts


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        analyze_apk(tmp_path / "nope.apk")
    with pytest.raises(InputError):
        analyze_apk(tmp_path)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"just text", "not a zip archive"),
        (zip_bytes([("classes.dex", b"dex\n")]), "AndroidManifest.xml missing"),
        (zip_bytes([("AndroidManifest.xml", b"\x03\x00\x08\x00garbage")]), "AndroidManifest.xml:"),
        (
            zip_bytes([("AndroidManifest.xml", MANIFEST), ("classes.dex", b"PK junk")]),
            "classes.dex: not a DEX",
        ),
        (
            zip_bytes([("AndroidManifest.xml", MANIFEST), ("classes.dex", bytes(8 << 20))]),
            "zip bomb",
        ),
        (zip_bytes([("AndroidManifest.xml", MANIFEST), ("../../evil.so", b"x")]), "path traversal"),
    ],
)
def test_bad_apks_give_problems(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "bad.apk"
    path.write_bytes(data)
    report = analyze_apk(path)
    assert any(problem in p for p in report.problems), report.problems
    json.dumps(report.to_dict())


def test_corrupt_second_dex_keeps_the_first(tmp_path: Path) -> None:
    dex2 = bytearray(build_dex([TASK_CLS]))
    struct.pack_into("<I", dex2, 0x58, 10**6)
    report = analyze_apk(_autoreg(tmp_path, dex_files=[build_dex([RECEIVER]), bytes(dex2)]))
    assert any("out of bounds" in p for p in report.problems)
    assert report.manifest.package == PKG and report.classes >= 1


def _system_app_without_dex(tmp_path: Path) -> Path:
    app = tmp_path / "system" / "priv-app" / "AutoRegistration"
    app.mkdir(parents=True)
    return build_apk(
        app / "AutoRegistration.apk",
        manifest_xml=MANIFEST,
        extra={"lib/arm64-v8a/libreg.so": SO},
    )


@pytest.mark.parametrize("version", ["006", "010", "019", "021", "027"])
def test_code_from_vdex_beside_the_apk(tmp_path: Path, version: str) -> None:
    apk = _system_app_without_dex(tmp_path)
    oat = apk.parent / "oat" / "arm64"
    oat.mkdir(parents=True)
    dexes = [build_dex([RECEIVER]), build_dex([TASK_CLS])]
    (oat / "AutoRegistration.vdex").write_bytes(vdex(version, dexes))
    report = analyze_apk(apk)
    assert report.code == "oat", report.problems
    assert report.dex_files == [
        "AutoRegistration.vdex!classes1.dex",
        "AutoRegistration.vdex!classes2.dex",
    ]
    assert report.reads_identifiers() == {"imei", "imsi", "iccid", "cell_id"}
    assert report.chains


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (vdex("019", [], dex_section="000"), "code not analysable (vdex version 019)"),
        (vdex("021", [], dex_section="000"), "code not analysable (vdex version 021)"),
        (vdex("027", []), "code not analysable (vdex version 027)"),
        (vdex("099", []), "code not analysable (vdex version 099)"),
        (
            vdex("019", [b"cdex001\0" + bytes(200)]),
            "code not analysable (vdex version 019, compact dex)",
        ),
        (b"vdex006", "code not analysable (vdex version 006, truncated header)"),
        (b"\x7fELF" + bytes(500), "code not analysable (oat file without embedded DEX"),
    ],
)
def test_not_analysable_vdex_is_said_not_skipped(tmp_path: Path, blob: bytes, message: str) -> None:
    apk = _system_app_without_dex(tmp_path)
    oat = apk.parent / "oat" / "arm"
    oat.mkdir(parents=True)
    (
        oat / ("AutoRegistration.odex" if blob[:1] == b"\x7f" else "AutoRegistration.vdex")
    ).write_bytes(blob)
    report = analyze_apk(apk)
    assert report.code == "not analysable"
    assert any(message in p for p in report.problems), report.problems
    # the rest of the app is still reported
    assert report.manifest.package == PKG
    assert "log.example-telemetry.com" in report.hosts()


def test_no_code_anywhere(tmp_path: Path) -> None:
    report = analyze_apk(_system_app_without_dex(tmp_path))
    assert report.code == "none"
    assert any("code not analysable" in p for p in report.problems)


def test_oat_dir_override_and_odex_with_embedded_dex(tmp_path: Path) -> None:
    apk = _system_app_without_dex(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    odex = b"\x7fELF" + bytes(4092) + build_dex([RECEIVER, TASK_CLS]) + bytes(100)
    (elsewhere / "AutoRegistration.odex").write_bytes(odex)
    report = analyze_apk(apk, oat_dir=elsewhere)
    assert report.code == "oat" and report.triggers() == {"USER_PRESENT"}
    assert len(report.chains) == 4


def test_extract_dex_dalvik_odex() -> None:
    dex = build_dex([TASK_CLS])
    odex = b"dey\n036\0" + struct.pack("<II", 40, len(dex)) + bytes(24) + dex
    assert extract_dex(odex) == ([dex], None)


@needs(tools=["apktool"])
def test_apktool_built_apk(tmp_path: Path) -> None:
    recv = """.class public Lcom/ex/Recv;
.super Landroid/content/BroadcastReceiver;
.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 5
    new-instance v0, Lcom/ex/Task;
    invoke-direct {v0}, Lcom/ex/Task;-><init>()V
    new-instance v1, Ljava/lang/Thread;
    invoke-direct {v1, v0}, Ljava/lang/Thread;-><init>(Ljava/lang/Runnable;)V
    invoke-virtual {v1}, Ljava/lang/Thread;->start()V
    return-void
.end method
"""
    man = APKTOOL_MANIFEST.replace(
        "<application/>",
        '<uses-permission android:name="android.permission.READ_PHONE_STATE"/>'
        '<application android:usesCleartextTraffic="true"><receiver android:name=".Recv">'
        '<intent-filter><action android:name="android.intent.action.USER_PRESENT"/>'
        "</intent-filter></receiver></application>",
    )
    apk = apktool_build(tmp_path, {"com/ex/Recv.smali": recv, "com/ex/Task.smali": SMALI_TASK}, man)
    report = analyze_apk(apk)
    assert report.problems == []
    assert report.manifest.permissions == ["android.permission.READ_PHONE_STATE"]
    assert report.manifest.uses_cleartext_traffic is True
    assert [c.text() for c in report.chains] == [
        "USER_PRESENT receiver -> Recv.onReceive -> Task.run -> Build.SERIAL"
        " ... -> HttpURLConnection.connect",
        "USER_PRESENT receiver -> Recv.onReceive -> Task.run -> Task.imei -> "
        "TelephonyManager.getDeviceId ... -> HttpURLConnection.connect",
    ]
    assert report.reads_identifiers() == {"imei", "serial"}
    assert report.hosts() == {"zzhc.vnet.cn"}


PROJECT_APKS = sorted((REPO / "tests" / "apks").rglob("*.apk"))
BUILT = REPO / "tests" / "apks" / "built"


def assert_manifest_as_aapt_reads_it(apk: Path) -> None:
    """Package, version, SDK levels, shared uid, permissions, cleartext flag and every
    component with its class, intent actions and declared export, as Android's ``aapt``
    reads the binary manifest."""
    d = analyze_apk(apk).to_dict()
    json.dumps(d)
    want = aapt.manifest_facts(apk)
    components = want.pop("components")
    assert {k: d[k] for k in want} == want
    assert [(c["kind"], c["name"], c["actions"]) for c in d["components"]] == [
        (kind, name, actions) for kind, name, actions, _ in components
    ]
    for c, (_, _, _, declared) in zip(d["components"], components, strict=True):
        if declared is not None:
            assert c["exported"] is declared, c["name"]


@pytest.mark.parametrize("apk", PROJECT_APKS, ids=lambda p: str(p.relative_to(REPO / "tests")))
def test_project_apks_manifest_agrees_with_aapt(apk: Path) -> None:
    assert_manifest_as_aapt_reads_it(apk)


def test_project_apks_are_all_checked() -> None:
    # tests/apks/built (9, with BootWeather, Flows, Weather-rotated and
    # Weather-target30-v1only for the data flow and signature tests) and both firmware trees
    assert len(PROJECT_APKS) == 15
    assert {p.parent.name for p in PROJECT_APKS} >= {"built", "Weather", "AutoReg"}


@pytest.mark.parametrize("utf8", [False, True], ids=["utf16-pool", "utf8-pool"])
def test_hand_built_manifest_agrees_with_aapt(tmp_path: Path, utf8: bool) -> None:
    """Our own AXML builder's output, read by aapt and by phonehome: relative (``.X``),
    bare (``X``) and foreign class names, several actions, an empty intent filter, every
    component kind, a non-ASCII version name, cleartext off."""
    man = manifest(
        "com.ex.app",
        permissions=("android.permission.INTERNET", "android.permission.READ_PHONE_STATE"),
        receivers={
            ".Boot": ("android.intent.action.BOOT_COMPLETED", "android.intent.action.USER_PRESENT"),
            "Plain": ("a.b.C",),
            "com.other.Full": (),
        },
        services=(".Svc",),
        activities=("com.ex.app.Main",),
        shared_user_id="android.uid.phone",
        cleartext=False,
        version_code=42,
        version_name="4.2-β",
        target_sdk=33,
    )
    apk = build_apk(tmp_path / "hand.apk", manifest_xml=build_axml(man, utf8=utf8))
    assert_manifest_as_aapt_reads_it(apk)
    assert len(aapt.manifest_facts(apk)["components"]) == 5


def test_project_apks_verdicts() -> None:
    """The issue's verdicts on the project's own smali-built APKs: the autoregistration-like
    app reads the IMEI on USER_PRESENT and posts it over plain HTTP; the one that only
    logs the IMEI reads it with no chain to the network."""
    autoreg = analyze_apk(BUILT / "AutoReg.apk")
    assert {"imei", "iccid", "imsi", "cell_id"} <= autoreg.reads_identifiers()
    assert "USER_PRESENT" in autoreg.triggers()
    assert any(e.cleartext and e.host == "zzhc.vnet.cn" for e in autoreg.endpoints)
    imei_chains = [c for c in autoreg.chains if c.identifier == "imei"]
    assert imei_chains and imei_chains[0].entry == "USER_PRESENT receiver"
    assert imei_chains[0].evidence == "data-flow" and imei_chains[0].sink_kind == "network"
    imeilog = analyze_apk(BUILT / "ImeiLog.apk")
    assert "imei" in imeilog.reads_identifiers()
    # The IMEI goes to the log only: a local data flow, nothing to the network.
    assert [(c.evidence, c.sink_kind, c.channel) for c in imeilog.chains] == [
        ("data-flow", "local", "log")
    ]


def test_a_version_needed_zipfile_refuses_hides_nothing(tmp_path: Path) -> None:
    """Every central directory entry claiming "version needed to extract" 25.5: zipfile
    refuses the archive, Android ignores the field and installs the app; the analysis
    must find what it finds in the same APK without the claim."""
    import zipfile

    plain = _autoreg(tmp_path)
    data = bytearray(plain.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<LL", data, end + 12)
    pos = offset
    while pos < offset + size:
        struct.pack_into("<H", data, pos + 6, 255)
        pos += 46 + sum(struct.unpack_from("<HHH", data, pos + 28))
    claimed = tmp_path / "claimed.apk"
    claimed.write_bytes(bytes(data))
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(claimed)
    before, after = analyze_apk(plain), analyze_apk(claimed)
    assert after.problems == []
    assert (
        after.reads_identifiers()
        == before.reads_identifiers()
        == {"imei", "imsi", "iccid", "cell_id"}
    )
    assert after.hosts() == before.hosts() and after.triggers() == before.triggers()
    assert sorted(c.text() for c in after.chains) == sorted(c.text() for c in before.chains)
