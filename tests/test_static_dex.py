"""The lean DEX reader: references out of real bytecode layouts (payloads, wide and
jumbo instructions, range invokes, quickened opcodes), damage as problems, and a
cross-check against AOSP's dexdump on a DEX assembled by apktool/smali."""

from __future__ import annotations

import re
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonehome.static.dex import DexError, DexFile, Op
from tests.builders_apk import (
    APKTOOL_MANIFEST,
    SMALI_TASK,
    Cls,
    Method,
    apktool_build,
    build_dex,
)
from tests.needs import needs

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
    go = next(
        code for idx, _, code in classes["Lcom/x/A;"].methods if dex.method_ref(idx)[1] == "go"
    )
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


@pytest.mark.parametrize("file_size", [0, 1, 0x6F])
def test_header_file_size_smaller_than_a_header_is_a_problem(file_size: int) -> None:
    """Found by the fuzz test in CI: cutting the data to such a size left no header."""
    lying = TRICKY[:0x20] + struct.pack("<I", file_size) + TRICKY[0x24:]
    dex = DexFile(lying)
    assert any("less than a DEX header" in p for p in dex.problems)


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


@needs(tools=["apktool", "dexdump"])
def test_against_dexdump_on_smali_built_dex(tmp_path: Path) -> None:
    apk = apktool_build(tmp_path, {"com/ex/Task.smali": SMALI_TASK}, APKTOOL_MANIFEST)
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
