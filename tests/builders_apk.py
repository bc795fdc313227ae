"""Hand-built Android inputs for the static-analysis tests: binary XML (AXML) manifests,
DEX files with real bytecode, APK zips, and vdex headers.

The writers follow the published formats (AOSP ``ResourceTypes.h``, the Dalvik
executable format) closely enough that a reader of the real files reads these, and they
keep the knobs the tests need (UTF-8 or UTF-16 pools, jumbo strings, payloads, range
invokes, multidex splits).
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.needs import need_tool

ANDROID_NS = "http://schemas.android.com/apk/res/android"
ATTR_IDS = {
    "name": 0x01010003,
    "permission": 0x01010006,
    "sharedUserId": 0x0101000B,
    "enabled": 0x0101000E,
    "exported": 0x01010010,
    "versionCode": 0x0101021B,
    "versionName": 0x0101021C,
    "minSdkVersion": 0x0101020C,
    "targetSdkVersion": 0x01010270,
    "usesCleartextTraffic": 0x010104EC,
    "networkSecurityConfig": 0x01010527,
}
T_REF, T_STRING, T_INT, T_BOOL = 0x01, 0x03, 0x10, 0x12

# -- AXML ------------------------------------------------------------------------------


@dataclass
class El:
    tag: str
    attrs: dict[str, object] = field(default_factory=dict)
    """``android:x`` keys are android attributes; values: str, int, bool, or ("@", id)."""
    children: list[El] = field(default_factory=list)
    text: str = ""
    """Character data, written as a CDATA chunk after the start tag."""


def _pool(strings: list[str], utf8: bool) -> bytes:
    offsets, blob = [], bytearray()
    for s in strings:
        offsets.append(len(blob))
        if utf8:
            raw = s.encode()
            for n in (len(s), len(raw)):
                blob += bytes([n]) if n < 0x80 else bytes([0x80 | (n >> 8), n & 0xFF])
            blob += raw + b"\0"
        else:
            raw = s.encode("utf-16-le")
            n = len(s)
            blob += (
                struct.pack("<H", n)
                if n < 0x8000
                else struct.pack("<HH", 0x8000 | (n >> 16), n & 0xFFFF)
            )
            blob += raw + b"\0\0"
    while len(blob) % 4:
        blob += b"\0"
    header = 28
    start = header + 4 * len(strings)
    body = struct.pack(f"<{len(strings)}I", *offsets) + bytes(blob)
    flags = 0x100 if utf8 else 0
    return (
        struct.pack("<HHIIIIII", 1, header, header + len(body), len(strings), 0, flags, start, 0)
        + body
    )


def build_axml(root: El, *, utf8: bool = False, blank_attr_names: bool = False) -> bytes:
    """Binary XML for ``root``. ``blank_attr_names`` empties android attribute name strings
    (an obfuscator trick: Android reads the resource id instead)."""
    res_names = [n for n in ATTR_IDS if _uses_attr(root, n)]
    strings: list[str] = [("" if blank_attr_names else n) for n in res_names]
    index: dict[str, int] = {}

    def sid(s: str) -> int:
        if s not in index:
            index[s] = len(strings)
            strings.append(s)
        return index[s]

    attr_index = {n: i for i, n in enumerate(res_names)}
    sid(ANDROID_NS)
    sid("android")
    chunks = bytearray()
    chunks += _node(0x0100, struct.pack("<II", sid("android"), sid(ANDROID_NS)))

    def emit(el: El) -> None:
        attrs = bytearray()
        items = sorted(el.attrs.items())
        for key, value in items:
            if key.startswith("android:"):
                local = key.split(":", 1)[1]
                ns, name = sid(ANDROID_NS), attr_index[local]
            else:
                ns, name = 0xFFFFFFFF, sid(key)
            raw = 0xFFFFFFFF
            if isinstance(value, bool):
                dtype, data = T_BOOL, 0xFFFFFFFF if value else 0
            elif isinstance(value, int):
                dtype, data = T_INT, value & 0xFFFFFFFF
            elif isinstance(value, tuple):
                dtype, data = T_REF, int(value[1])
            else:
                raw = sid(str(value))
                dtype, data = T_STRING, raw
            attrs += struct.pack("<IIIHBBI", ns, name, raw, 8, 0, dtype, data)
        ext = struct.pack("<IIHHHHHH", 0xFFFFFFFF, sid(el.tag), 20, 20, len(items), 0, 0, 0)
        chunks.extend(_node(0x0102, ext + attrs))
        if el.text:
            t = sid(el.text)
            chunks.extend(_node(0x0104, struct.pack("<IHBBI", t, 8, 0, T_STRING, t)))
        for child in el.children:
            emit(child)
        chunks.extend(_node(0x0103, struct.pack("<II", 0xFFFFFFFF, sid(el.tag))))

    emit(root)
    chunks += _node(0x0101, struct.pack("<II", sid("android"), sid(ANDROID_NS)))
    resmap = struct.pack("<HHI", 0x0180, 8, 8 + 4 * len(res_names)) + struct.pack(
        f"<{len(res_names)}I", *(ATTR_IDS[n] for n in res_names)
    )
    body = _pool(strings, utf8) + resmap + bytes(chunks)
    return struct.pack("<HHI", 0x0003, 8, 8 + len(body)) + body


def _uses_attr(el: El, name: str) -> bool:
    return f"android:{name}" in el.attrs or any(_uses_attr(c, name) for c in el.children)


def _node(kind: int, ext: bytes) -> bytes:
    # ResXMLTree_node: chunk header (8) + lineNumber + comment = 16-byte header
    return struct.pack("<HHIII", kind, 16, 16 + len(ext), 1, 0xFFFFFFFF) + ext


def manifest(
    package: str,
    *,
    permissions: tuple[str, ...] = (),
    receivers: dict[str, tuple[str, ...]] | None = None,
    services: tuple[str, ...] = (),
    activities: tuple[str, ...] = (),
    shared_user_id: str | None = None,
    cleartext: bool | None = None,
    network_security_config: int | None = None,
    version_code: int = 1,
    version_name: str = "1.0",
    target_sdk: int = 28,
) -> El:
    """A manifest element tree: receivers map class name -> intent-filter actions."""
    root = El(
        "manifest",
        {
            "package": package,
            "android:versionCode": version_code,
            "android:versionName": version_name,
        },
    )
    if shared_user_id:
        root.attrs["android:sharedUserId"] = shared_user_id
    root.children.append(
        El("uses-sdk", {"android:minSdkVersion": 21, "android:targetSdkVersion": target_sdk})
    )
    root.children += [El("uses-permission", {"android:name": p}) for p in permissions]
    app = El("application", {})
    if cleartext is not None:
        app.attrs["android:usesCleartextTraffic"] = cleartext
    if network_security_config is not None:
        app.attrs["android:networkSecurityConfig"] = ("@", network_security_config)
    for name, actions in (receivers or {}).items():
        filt = El("intent-filter", {}, [El("action", {"android:name": a}) for a in actions])
        app.children.append(
            El("receiver", {"android:name": name, "android:exported": True}, [filt])
        )
    app.children += [
        El("service", {"android:name": s, "android:exported": False}) for s in services
    ]
    app.children += [El("activity", {"android:name": a}) for a in activities]
    root.children.append(app)
    return root


# -- DEX -------------------------------------------------------------------------------


@dataclass
class Method:
    name: str
    code: list[tuple[str, ...]] = field(default_factory=list)
    """Instructions: ("invoke", "Lc;->m"[, kind]), ("invoke-range", ref), ("string", s),
    ("jumbo-string", s), ("new", "Lc;"), ("class", "Lc;"), ("sget", "Lc;->F"),
    ("switch", n) packed-switch payload, ("array", n) fill-array-data payload,
    ("wide",) const-wide, ("nop",), ("quick",) iget-quick + invoke-virtual-quick."""
    direct: bool = False


@dataclass
class Cls:
    name: str
    superclass: str = "Ljava/lang/Object;"
    interfaces: tuple[str, ...] = ()
    methods: list[Method] = field(default_factory=list)


_INVOKE_OPS = {"virtual": 0x6E, "super": 0x6F, "direct": 0x70, "static": 0x71, "interface": 0x72}


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _mutf8(s: str) -> bytes:
    return (
        _uleb(len(s.encode("utf-16-le")) // 2)
        + s.encode("utf-8").replace(b"\0", b"\xc0\x80")
        + b"\0"
    )


def build_dex(classes: list[Cls]) -> bytes:
    """A DEX file defining ``classes`` (all methods ``()V``; prototypes do not matter to
    the reader under test). Strings, types, fields and methods are sorted as the format
    requires, and the checksum and signature are real."""
    strings: set[str] = {"V"}
    types: set[str] = {"V"}
    methods: set[tuple[str, str]] = set()
    fields: set[tuple[str, str]] = set()
    for c in classes:
        types.update((c.name, c.superclass, *c.interfaces))
        for m in c.methods:
            methods.add((c.name, m.name))
            for ins in m.code:
                op, arg = ins[0], ins[1] if len(ins) > 1 else ""
                if op in ("invoke", "invoke-range"):
                    cls, _, name = arg.partition("->")
                    types.add(cls)
                    methods.add((cls, name))
                elif op in ("string", "jumbo-string"):
                    strings.add(arg)
                elif op in ("new", "class"):
                    types.add(arg)
                elif op == "sget":
                    cls, _, name = arg.partition("->")
                    types.update((cls, "Ljava/lang/String;"))
                    fields.add((cls, name))
    strings |= types | {n for _, n in methods} | {n for _, n in fields}
    str_list = sorted(strings, key=lambda s: s.encode("utf-16-be"))
    sidx = {s: i for i, s in enumerate(str_list)}
    type_list = sorted(types, key=lambda t: sidx[t])
    tidx = {t: i for i, t in enumerate(type_list)}
    field_list = sorted(fields, key=lambda f: (tidx[f[0]], sidx[f[1]]))
    fidx = {f: i for i, f in enumerate(field_list)}
    method_list = sorted(methods, key=lambda m: (tidx[m[0]], sidx[m[1]]))
    midx = {m: i for i, m in enumerate(method_list)}

    n_str, n_typ, n_fld, n_mth, n_cls = (
        len(str_list),
        len(type_list),
        len(field_list),
        len(method_list),
        len(classes),
    )
    off_str = 0x70
    off_typ = off_str + 4 * n_str
    off_pro = off_typ + 4 * n_typ
    off_fld = off_pro + 12
    off_mth = off_fld + 8 * n_fld
    off_cls = off_mth + 8 * n_mth
    data_start = off_cls + 32 * n_cls
    data = bytearray()

    def place(blob: bytes, align: int = 1) -> int:
        while (data_start + len(data)) % align:
            data.append(0)
        at = data_start + len(data)
        data.extend(blob)
        return at

    string_offs = [place(_mutf8(s)) for s in str_list]
    iface_offs = {}
    for c in classes:
        if c.interfaces:
            blob = struct.pack("<I", len(c.interfaces)) + b"".join(
                struct.pack("<H", tidx[t]) for t in c.interfaces
            )
            iface_offs[c.name] = place(blob, 4)
    code_offs: dict[tuple[str, str], int] = {}
    for c in classes:
        for m in c.methods:
            insns = _assemble(m.code, sidx, tidx, fidx, midx)
            head = struct.pack("<HHHHII", 4, 1, 4, 0, 0, len(insns) // 2)
            code_offs[(c.name, m.name)] = place(head + insns, 4)
    class_data_offs = {}
    for c in classes:
        direct = sorted(
            (m for m in c.methods if m.direct or m.name == "<init>"),
            key=lambda m: midx[(c.name, m.name)],
        )
        virtual = sorted(
            (m for m in c.methods if not (m.direct or m.name == "<init>")),
            key=lambda m: midx[(c.name, m.name)],
        )
        blob = bytearray(_uleb(0) + _uleb(0) + _uleb(len(direct)) + _uleb(len(virtual)))
        for group, flags in ((direct, 0x10001), (virtual, 0x1)):
            prev = 0
            for m in group:
                i = midx[(c.name, m.name)]
                blob += _uleb(i - prev) + _uleb(flags) + _uleb(code_offs[(c.name, m.name)])
                prev = i
        class_data_offs[c.name] = place(bytes(blob))
    table = bytearray()
    table += b"".join(struct.pack("<I", o) for o in string_offs)
    table += b"".join(struct.pack("<I", sidx[t]) for t in type_list)
    table += struct.pack("<III", sidx["V"], tidx["V"], 0)
    table += b"".join(
        struct.pack("<HHI", tidx[c], tidx["Ljava/lang/String;"], sidx[n]) for c, n in field_list
    )
    table += b"".join(struct.pack("<HHI", tidx[c], 0, sidx[n]) for c, n in method_list)
    for c in classes:
        table += struct.pack(
            "<8I",
            tidx[c.name],
            1,
            tidx[c.superclass],
            iface_offs.get(c.name, 0),
            0xFFFFFFFF,
            0,
            class_data_offs[c.name],
            0,
        )
    body = bytes(table) + bytes(data)
    size = 0x70 + len(body)
    header = bytearray(b"dex\n035\0" + bytes(24))
    header += struct.pack("<IIIII", size, 0x70, 0x12345678, 0, 0)
    header += struct.pack("<I", 0)  # map_off (none: readers under test do not need it)
    header += struct.pack(
        "<14I",
        n_str,
        off_str,
        n_typ,
        off_typ,
        1,
        off_pro,
        n_fld,
        off_fld if n_fld else 0,
        n_mth,
        off_mth,
        n_cls,
        off_cls,
        len(data),
        data_start,
    )
    out = bytearray(header + body)
    out[12:32] = hashlib.sha1(out[32:]).digest()
    out[8:12] = struct.pack("<I", zlib.adler32(bytes(out[12:])))
    return bytes(out)


def _assemble(code, sidx, tidx, fidx, midx) -> bytes:  # type: ignore[no-untyped-def]
    units: list[int] = []
    payloads: list[list[int]] = []
    for ins in code:
        op = ins[0]
        if op == "invoke":
            cls, _, name = ins[1].partition("->")
            kind = ins[2] if len(ins) > 2 else "virtual"
            units += [(1 << 12) | _INVOKE_OPS[kind], midx[(cls, name)], 0]
        elif op == "invoke-range":
            cls, _, name = ins[1].partition("->")
            units += [(1 << 8) | 0x74, midx[(cls, name)], 0]
        elif op == "string":
            units += [0x1A, sidx[ins[1]]]
        elif op == "jumbo-string":
            i = sidx[ins[1]]
            units += [0x1B, i & 0xFFFF, i >> 16]
        elif op == "new":
            units += [0x22, tidx[ins[1]]]
        elif op == "class":
            units += [0x1C, tidx[ins[1]]]
        elif op == "sget":
            cls, _, name = ins[1].partition("->")
            units += [0x62, fidx[(cls, name)]]
        elif op == "wide":
            units += [0x18, 0x1A6E, 0x1A6E, 0x1A6E, 0x1A6E]  # operands that look like opcodes
        elif op == "nop":
            units += [0x00]
        elif op == "quick":
            units += [0x00E3, 0x1A6E, 0x10E9, 0x0005, 0x0000]
        elif op == "switch":
            n = int(ins[1])
            payloads.append([0x0100, n, 0, 0] + [0x6E, 0x1A] * n)
            units += [0x2B, 0, 0]
        elif op == "array":
            n = int(ins[1])
            payloads.append([0x0300, 1, n & 0xFFFF, n >> 16] + [0x226E] * ((n + 1) // 2))
            units += [0x26, 0, 0]
        else:
            raise ValueError(op)
    units.append(0x0E)  # return-void
    for p in payloads:
        if len(units) % 2:
            units.append(0)
        units += p
    return struct.pack(f"<{len(units)}H", *units)


# -- APK / vdex ------------------------------------------------------------------------


def build_apk(
    path: Path,
    *,
    manifest_xml: bytes | None,
    dex_files: list[bytes] = (),  # type: ignore[assignment]
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A zip laid out like an APK (classes.dex, classes2.dex, ...)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest_xml is not None:
            zf.writestr("AndroidManifest.xml", manifest_xml)
        for i, dex in enumerate(dex_files):
            zf.writestr("classes.dex" if i == 0 else f"classes{i + 1}.dex", dex)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def zip_bytes(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def vdex(version: str, dex_files: list[bytes] = (), *, dex_section: str = "002") -> bytes:  # type: ignore[assignment]
    """A vdex container of ``version`` holding ``dex_files``."""
    magic = b"vdex" + version.encode() + b"\0"
    n = len(dex_files)
    checksums = struct.pack(f"<{n}I", *([0x1234] * n))
    if version in ("006", "010"):
        body = b"".join(_align4(d) for d in dex_files)
        return magic + struct.pack("<IIII", n, len(body), 0, 0) + checksums + body
    if version in ("019", "021"):
        head = magic + dex_section.encode() + b"\0" + struct.pack("<II", n, 0)
        if version == "021":
            head += struct.pack("<II", 0, 0)
        if dex_section == "000":
            return head + checksums
        body = b"".join(struct.pack("<I", 0) + _align4(d) for d in dex_files)
        return head + checksums + struct.pack("<III", len(body), 0, 0) + body
    if version == "027":
        table_end = 12 + 4 * 12
        body = b"".join(_align4(d) for d in dex_files)
        sections = [
            (0, table_end, len(checksums)),
            (1, table_end + len(checksums), len(body)),
            (2, 0, 0),
            (3, 0, 0),
        ]
        return (
            magic
            + struct.pack("<I", 4)
            + b"".join(struct.pack("<III", *s) for s in sections)
            + checksums
            + body
        )
    return magic + struct.pack("<IIII", n, 0, 0, 0)


def _align4(blob: bytes) -> bytes:
    return blob + b"\0" * (-len(blob) % 4)


# -- apktool (real toolchain, when installed) -------------------------------------

SMALI_TASK = """
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
"""A Runnable that reads the IMEI in a helper and connects to a plain-HTTP URL, with a
packed-switch and array-data payload, const-wide and a range invoke in between."""

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


def apktool_build(
    tmp: Path, smali: dict[str, str], manifest_xml: str, res: dict[str, str] | None = None
) -> Path:
    """Assemble smali sources, a text manifest and text resources (``res/`` paths, e.g.
    ``xml/network_security_config.xml``) into an APK with Debian's apktool."""
    proj = tmp / "proj"
    for name, text in (res or {}).items():
        path = proj / "res" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name, source in smali.items():
        path = proj / "smali" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (proj / "apktool.yml").write_text(APKTOOL_YML)
    (proj / "AndroidManifest.xml").write_text(manifest_xml)
    out = tmp / "ex.apk"
    subprocess.run(
        [need_tool("apktool"), "b", str(proj), "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


# -- large generated apps (benchmarks, scale tests) -----------------------------------


def large_app_dexes(dex_count: int, classes_per_dex: int, methods_per_class: int) -> list[bytes]:
    """A big multidex app: every method calls two others (one in another DEX), builds a
    string, instantiates a class. ``com.big.p0.C0.onReceive`` leads (over a DEX boundary)
    to a method that reads the IMEI and posts it over HTTP. Keep classes x methods under
    ~30,000 per DEX: each DEX also references the next one's methods, and a DEX can
    address 65,536."""
    out = []
    for d in range(dex_count):
        classes = []
        for c in range(classes_per_dex):
            name = f"Lcom/big/p{d}/C{c};"
            nxt = f"Lcom/big/p{(d + 1) % dex_count}/C{(c * 7 + 1) % classes_per_dex};"
            methods = []
            for m in range(methods_per_class):
                body: list[tuple[str, ...]] = [
                    ("string", f"https://api{c % 50}.example-{d}.com/v{m}"),
                    ("invoke", f"{name}->m{(m + 1) % methods_per_class}"),
                    ("invoke", f"{nxt}->m{m}"),
                    ("new", nxt),
                    ("invoke", "Ljava/lang/StringBuilder;->append"),
                ]
                if d == 1 % dex_count and c == 1 and m == 3:
                    body += [
                        ("invoke", "Landroid/telephony/TelephonyManager;->getDeviceId"),
                        ("invoke", "Ljava/net/HttpURLConnection;->connect"),
                    ]
                methods.append(Method(f"m{m}", body))
            if d == 0 and c == 0:
                methods.append(Method("onReceive", [("invoke", f"{name}->m1")]))
            classes.append(Cls(name, methods=methods))
        out.append(build_dex(classes))
    return out
