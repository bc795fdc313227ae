"""The lean DEX reader: references out of real bytecode layouts (payloads, wide and
jumbo instructions, range invokes, quickened opcodes), damage as problems, and a
cross-check against AOSP's dexdump on a DEX assembled by apktool/smali."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonehome.static.dex import DexError, DexFile, Op
from tests.builders_apk import Cls, Method, build_dex

TRICKY = build_dex(
    [
        Cls(
            "Lcom/x/A;",
            methods=[
                Method("<init>"),
                Method(
                    "go",
                    [
                        ("switch", 3),
                        ("string", "first"),
                        ("wide",),
                        ("array", 7),
                        ("nop",),
                        ("invoke-range", "Lcom/x/B;->run"),
                        ("jumbo-string", "second"),
                        ("quick",),
                        ("new", "Lcom/x/B;"),
                        ("class", "Lcom/x/B;"),
                        ("sget", "Landroid/os/Build;->SERIAL"),
                        ("invoke", "Lcom/x/B;->run", "interface"),
                    ],
                ),
            ],
        ),
        Cls("Lcom/x/B;", interfaces=("Ljava/lang/Runnable;",), methods=[Method("run")]),
    ]
)


def _refs(dex: DexFile, code_off: int) -> list[tuple[str, str]]:
    out = []
    for op, index in dex.code(code_off):
        if op is Op.INVOKE:
            out.append(("invoke", "->".join(dex.method_ref(index))))
        elif op is Op.STRING:
            out.append(("string", dex.string(index)))
        elif op in (Op.NEW_INSTANCE, Op.CONST_CLASS):
            out.append((op.name.lower(), dex.type_name(index)))
        elif op is Op.SGET:
            out.append(("sget", "->".join(dex.field_ref(index))))
    return out


def test_references_in_bytecode_order() -> None:
    dex = DexFile(TRICKY)
    assert dex.problems == []
    classes = {c.name: c for c in dex.classes()}
    assert set(classes) == {"Lcom/x/A;", "Lcom/x/B;"}
    assert classes["Lcom/x/B;"].interfaces == ("Ljava/lang/Runnable;",)
    go = next(code for idx, _, code in classes["Lcom/x/A;"].methods if dex.method_ref(idx)[1] == "go")
    assert _refs(dex, go) == [
        ("string", "first"),
        ("invoke", "Lcom/x/B;->run"),
        ("string", "second"),
        ("new_instance", "Lcom/x/B;"),
        ("const_class", "Lcom/x/B;"),
        ("sget", "Landroid/os/Build;->SERIAL"),
        ("invoke", "Lcom/x/B;->run"),
    ]


@pytest.mark.parametrize(
    "data",
    [b"", b"dex\n035\0", b"PK\x03\x04" + bytes(200), b"dex\n035\0" + bytes(0x68)],
)
def test_not_dex(data: bytes) -> None:
    with pytest.raises(DexError):
        DexFile(data)


@pytest.mark.parametrize("cut", [0x70, 0x90, len(TRICKY) // 2, len(TRICKY) - 20])
def test_truncated_dex_reads_what_it_can(cut: int) -> None:
    dex = DexFile(TRICKY[:cut])
    assert dex.problems  # header file_size no longer matches
    for cls in dex.classes():
        for _, _, code in cls.methods:
            list(dex.code(code))


def test_table_out_of_bounds() -> None:
    data = bytearray(TRICKY)
    struct.pack_into("<I", data, 0x58, 10**6)  # method_ids_size
    dex = DexFile(bytes(data))
    assert any("method_ids table out of bounds" in p for p in dex.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=64), st.integers(0x20, len(TRICKY) - 1))
def test_fuzz_never_raises(noise: bytes, at: int) -> None:
    mutated = TRICKY[:at] + noise + TRICKY[at + len(noise) :]
    try:
        dex = DexFile(mutated)
    except DexError:
        return
    for cls in dex.classes():
        for idx, _, code in cls.methods:
            dex.method_ref(idx)
            for op, index in dex.code(code):
                if op is Op.INVOKE:
                    dex.method_ref(index)
                elif op is Op.STRING:
                    dex.string(index)
                elif op is Op.SGET:
                    dex.field_ref(index)
                else:
                    dex.type_name(index)


SMALI = """
.class public Lcom/ex/Task;
.super Ljava/lang/Object;
.implements Ljava/lang/Runnable;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method

.method public run()V
    .registers 8
    const-string v0, "http://zzhc.vnet.cn/"
    const/4 v1, 0x1
    packed-switch v1, :sw
    :back
    const-wide v2, 0x1234567890abcdefL
    fill-array-data v4, :arr
    invoke-static {}, Lcom/ex/Task;->imei()Ljava/lang/String;
    move-result-object v1
    new-instance v1, Ljava/net/URL;
    invoke-direct {v1, v0}, Ljava/net/URL;-><init>(Ljava/lang/String;)V
    invoke-virtual/range {v1 .. v1}, Ljava/net/URL;->openConnection()Ljava/net/URLConnection;
    move-result-object v1
    sget-object v5, Landroid/os/Build;->SERIAL:Ljava/lang/String;
    invoke-virtual {v1}, Ljava/net/HttpURLConnection;->connect()V
    return-void
    :sw
    .packed-switch 0x0
        :back
        :back
    .end packed-switch
    :arr
    .array-data 4
        0x1
        0x2
        0x3
    .end array-data
.end method

.method static imei()Ljava/lang/String;
    .registers 2
    const/4 v0, 0x0
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method
"""

APKTOOL_YML = """version: 2.7.0
apkFileName: ex.apk
isFrameworkApk: false
usesFramework:
  ids:
  - 1
sdkInfo:
  minSdkVersion: '21'
  targetSdkVersion: '28'
versionInfo:
  versionCode: '1'
  versionName: '1.0'
"""

APKTOOL_MANIFEST = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.ex">
  <application/>
</manifest>
"""


def apktool_build(tmp: Path, smali: dict[str, str], manifest_xml: str) -> Path:
    """Assemble smali sources and a text manifest into an APK with Debian's apktool."""
    proj = tmp / "proj"
    for name, source in smali.items():
        path = proj / "smali" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (proj / "apktool.yml").write_text(APKTOOL_YML)
    (proj / "AndroidManifest.xml").write_text(manifest_xml)
    out = tmp / "ex.apk"
    subprocess.run(
        ["apktool", "b", str(proj), "-o", str(out)], check=True, capture_output=True, timeout=120
    )
    return out


@pytest.mark.skipif(
    not (shutil.which("apktool") and shutil.which("dexdump")),
    reason="needs Debian's apktool and dexdump (apt-get install apktool dexdump)",
)
def test_against_dexdump_on_smali_built_dex(tmp_path: Path) -> None:
    apk = apktool_build(tmp_path, {"com/ex/Task.smali": SMALI}, APKTOOL_MANIFEST)
    import zipfile

    dex_bytes = zipfile.ZipFile(apk).read("classes.dex")
    (tmp_path / "classes.dex").write_bytes(dex_bytes)
    dump = subprocess.run(
        ["dexdump", "-d", str(tmp_path / "classes.dex")], capture_output=True, text=True, check=True
    ).stdout
    expected = []
    for line in dump.splitlines():
        if m := re.search(r"\|[0-9a-f]{4}: invoke-\S+ \{[^}]*\}, (L[^.]+;)\.([^:]+):", line):
            expected.append(("invoke", f"{m.group(1)}->{m.group(2)}"))
        elif m := re.search(r'\|[0-9a-f]{4}: const-string v\d+, "(.*)" //', line):
            expected.append(("string", m.group(1)))
        elif m := re.search(r"\|[0-9a-f]{4}: new-instance v\d+, (L\S+;) //", line):
            expected.append(("new_instance", m.group(1)))
        elif m := re.search(r"\|[0-9a-f]{4}: sget-object v\d+, (L[^.]+;)\.(\w+):", line):
            expected.append(("sget", f"{m.group(1)}->{m.group(2)}"))
    dex = DexFile(dex_bytes)
    got = [r for cls in dex.classes() for _, _, code in cls.methods for r in _refs(dex, code)]
    assert sorted(got) == sorted(expected)
    assert len(expected) >= 8
