"""firmware-diff on the committed test trees (tests/apks/firmware/{old,new}), the same trees
as zips and ext4/erofs images, other layouts, damaged inputs, the cache and the pool."""

from __future__ import annotations

import shutil
import stat
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from phonehome.errors import InputError
from phonehome.privacy import home_dir
from phonehome.static import firmware as fw
from phonehome.static.signing import read_signing
from tests.needs import need_tool

APKS = Path(__file__).resolve().parent / "apks"
OLD, NEW = APKS / "firmware" / "old", APKS / "firmware" / "new"
AUTOREG = "org.phonehome.test.autoreg"
VERDICT = (
    f"added in NEW: {AUTOREG} — system app; reads IMEI, ICCID, IMSI, cell location; "
    "runs on USER_PRESENT; posts IMEI, ICCID, IMSI, cell location to http://zzhc.vnet.cn"
)


@pytest.fixture(scope="module")
def diff() -> dict[str, Any]:
    return fw.firmware_diff(OLD, NEW, jobs=1, cache=False)


def by_package(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["package"]: e for e in doc["changes"]}


def test_autoregistration_app_is_ranked_first_with_its_verdict(diff: dict[str, Any]) -> None:
    first = diff["changes"][0]
    assert first["verdict"] == VERDICT
    assert first["risky"] and first["status"] == "added"
    reasons = [r["reason"] for r in first["risk"]["reasons"]]
    assert "system app" in reasons
    assert "identifier flows to the network in code (data flow)" in reasons
    assert first["risk"]["score"] == sum(r["points"] for r in first["risk"]["reasons"])
    assert {c["identifier"] for c in first["new"]["chains"]} == {"imei", "iccid", "imsi", "cell_id"}


def test_signer_and_version_change_is_found(diff: dict[str, Any]) -> None:
    weather = by_package(diff)["org.phonehome.test.weather"]
    assert weather["status"] == "changed"
    old_apk = OLD / "product/app/Weather/Weather.apk"
    new_apk = NEW / "product/app/Weather/Weather.apk"
    signer = weather["changes"]["signer"]
    assert signer["old"] == list(read_signing(old_apk).signer())
    assert signer["new"] == list(read_signing(new_apk).signer())
    assert weather["changes"]["version"] == {"old": "1.0 (1)", "new": "2.0 (2)"}
    assert (
        "signer changed" in weather["verdict"] and "version 1.0 (1) → 2.0 (2)" in weather["verdict"]
    )
    # A signer change on a non-system app that reads nothing is listed, not flagged.
    assert not weather["risky"]


def test_removed_and_unchanged(diff: dict[str, Any]) -> None:
    entries = by_package(diff)
    assert entries["org.phonehome.test.imeilog"]["status"] == "removed"
    assert entries["org.phonehome.test.imeilog"]["verdict"].startswith("removed in NEW: ")
    assert "org.phonehome.test.oatonly" not in entries  # same bytes in both trees
    assert diff["unchanged"] == 1
    assert diff["old"]["apps"] == 3 and diff["new"]["apps"] == 3
    assert [e["status"] for e in diff["changes"]] == ["added", "changed", "removed"]


def test_precompiled_app_is_reported_not_skipped() -> None:
    apps, errors = fw.analyze_tree(NEW, jobs=1, cache=False)
    assert errors == []
    oat = next(a for a in apps if a["package"] == "org.phonehome.test.oatonly")
    assert oat["code"] == "not analysable"
    assert any("vdex version 027" in p for p in oat["problems"])
    assert fw.cleartext_endpoints(oat) == ["http://sim.oatonly.example.net"]
    assert oat["privileged"] and oat["partition"] == "system"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("system/app/A/A.apk", ("system", False)),
        ("system/priv-app/A/A.apk", ("system", True)),
        ("system/system/priv-app/A/A.apk", ("system", True)),  # system-as-root
        ("system/product/app/A/A.apk", ("product", False)),  # nested (Android 9)
        ("vendor/app/A.apk", ("vendor", False)),  # flat, old Android
        ("system_ext/priv-app/A/A.apk", ("system_ext", True)),
        ("priv-app/A/A.apk", ("system", True)),  # a partition image's own root
        ("system/framework/A.apk", None),  # not an app folder
        ("system/app/A/lib/A.apk", None),  # too deep
    ],
)
def test_layouts(tmp_path: Path, layout: str, expected: tuple[str, bool] | None) -> None:
    target = tmp_path / layout
    target.parent.mkdir(parents=True)
    shutil.copy(APKS / "built/Weather.apk", target)
    found = fw.find_apks(tmp_path)
    if expected is None:
        assert found == []
    else:
        assert [(f.rel, f.partition, f.privileged) for f in found] == [(layout, *expected)]


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(APKS / "built/Weather.apk", outside / "Weather.apk")
    tree = tmp_path / "tree" / "system" / "app"
    tree.mkdir(parents=True)
    (tree / "Link").symlink_to(outside)
    (tree / "Link.apk").symlink_to(outside / "Weather.apk")
    (tmp_path / "tree" / "system" / "priv-app").symlink_to(outside)
    assert fw.find_apks(tmp_path / "tree") == []


def zip_tree(tree: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out


def verdicts(doc: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["status"], e["verdict"], e["risk"]["score"]) for e in doc["changes"]]


def test_zip_archives_give_the_same_diff(tmp_path: Path, diff: dict[str, Any]) -> None:
    old = zip_tree(OLD, tmp_path / "old.zip")
    new = zip_tree(
        NEW,
        tmp_path / "new.zip",
        {"../escape/app/X/X.apk": b"PK", "system/etc/hosts": b"127.0.0.1 localhost"},
    )
    doc = fw.firmware_diff(old, new, jobs=1, cache=False)
    assert verdicts(doc) == verdicts(diff)
    assert any("path traversal" in p for p in doc["new"]["problems"])
    assert not (tmp_path / "escape").exists()


def image_of(tree: Path, out: Path, kind: str) -> Path:
    """``tree`` as an ext4 or erofs image, made with the tools firmware-diff reads it with
    (debugfs, fsck.erofs) beside the ones that make it."""
    if kind == "ext4":
        need_tool("debugfs")
        cmd = [need_tool("mke2fs"), "-q", "-t", "ext4", "-d", str(tree), str(out), "8M"]
    else:
        need_tool("fsck.erofs")
        cmd = [need_tool("mkfs.erofs"), "--quiet", str(out), str(tree)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


@pytest.mark.parametrize("kind", ["ext4", "erofs"])
def test_filesystem_images(tmp_path: Path, kind: str, diff: dict[str, Any]) -> None:
    old = image_of(OLD, tmp_path / "old.img", kind)
    new = image_of(NEW, tmp_path / "new.img", kind)
    doc = fw.firmware_diff(old, new, jobs=1, cache=False)
    assert verdicts(doc) == verdicts(diff)


def test_directory_of_partition_images(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    image_of(NEW / "system", images / "system.img", "ext4")
    image_of(NEW / "product", images / "product.img", "ext4")
    with fw.open_firmware(images) as (root, problems):
        rels = {f.rel for f in fw.find_apks(root)}
    assert problems == []
    assert rels == {
        "system/priv-app/AutoReg/AutoReg.apk",
        "system/priv-app/OatOnly/OatOnly.apk",
        "product/app/Weather/Weather.apk",
    }


def test_missing_image_tool_is_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = image_of(NEW, tmp_path / "system.img", "ext4")
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda n: None if n == "debugfs" else real_which(n))
    with pytest.raises(InputError, match=r"install debugfs \(Debian e2fsprogs\)"):
        fw.firmware_diff(image, NEW, jobs=1, cache=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x3a\xff\x26\xed" + bytes(2000), "sparse image"),
        (b"CrAU" + bytes(2000), "payload.bin"),
        (b"hello" * 500, "not a firmware tree"),
        (b"", "not a firmware tree"),
    ],
)
def test_unreadable_inputs_stop_with_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.img"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        fw.firmware_diff(bad, NEW, jobs=1, cache=False)
    with pytest.raises(InputError, match="no such file"):
        fw.firmware_diff(tmp_path / "absent", NEW, jobs=1, cache=False)


def test_damaged_apks_are_errors_and_the_batch_goes_on(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(NEW, tree)
    junk = tree / "system/app/Junk/Junk.apk"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"not a zip")
    bomb = tree / "system/app/Bomb/Bomb.apk"
    bomb.parent.mkdir(parents=True)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("AndroidManifest.xml", bytes(64 * 1024 * 1024))
    apps, errors = fw.analyze_tree(tree, jobs=1, cache=False)
    assert {e["path"] for e in errors} == {"system/app/Junk/Junk.apk", "system/app/Bomb/Bomb.apk"}
    assert all(e["error"].startswith("not an APK") for e in errors)
    assert len(apps) == 3


def test_pool_gives_the_same_result_as_one_process() -> None:
    one, _ = fw.analyze_tree(NEW, jobs=1, cache=False)
    two, _ = fw.analyze_tree(NEW, jobs=2, cache=False)
    assert one == two


def test_cache_is_used_private_and_survives_corruption(monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(home_dir() / "cache", ignore_errors=True)
    fresh, _ = fw.analyze_tree(NEW, jobs=1, cache=True)
    files = sorted((home_dir() / "cache" / "apk").glob("*.json"))
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

    def no_analysis(apk: Path) -> dict[str, Any]:
        raise AssertionError(f"{apk} analysed again despite the cache")

    monkeypatch.setattr(fw, "_analyse", no_analysis)
    cached, _ = fw.analyze_tree(NEW, jobs=1, cache=True)
    assert cached == fresh
    files[0].write_bytes(b"{broken")
    monkeypatch.undo()
    again, _ = fw.analyze_tree(NEW, jobs=1, cache=True)
    assert again == fresh


FLOW = {"evidence": "data-flow", "sink_kind": "network", "identifier": "imei"}


@pytest.mark.parametrize(
    ("app", "risky"),
    [
        ({"privileged": True, "reads_identifiers": ["imei"], "chains": [FLOW]}, True),
        ({"reads_identifiers": ["imei", "imsi"], "triggers": ["BOOT_COMPLETED"]}, False),
        ({"reads_identifiers": ["imei"], "chains": [FLOW]}, True),
        # reachability is context: it earns no points and no way to send
        ({"reads_identifiers": ["imei", "imsi"], "chains": [{"evidence": "reachability"}]}, False),
        ({"reads_identifiers": ["ad_id"], "triggers": ["BOOT_COMPLETED"]}, False),
        (
            {
                "shared_user_id": "android.uid.system",
                "triggers": ["BOOT_COMPLETED"],
                "endpoints": [
                    {
                        "value": "http://x.example/",
                        "host": "x.example",
                        "scheme": "http",
                        "cleartext": True,
                    }
                ],
                "code": "not analysable",
            },
            False,  # high score, but nothing read that could be sent: ranked, not flagged
        ),
        ({}, False),
    ],
)
def test_risk_table(app: dict[str, Any], risky: bool) -> None:
    scored = fw.risk(app)
    assert scored["risky"] is risky
    assert scored["score"] == sum(r["points"] for r in scored["reasons"])


def test_progress_counts_every_apk() -> None:
    seen: list[tuple[int, int]] = []
    fw.analyze_tree(
        OLD, jobs=2, cache=False, progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def zip_of(out: Path, entries: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return out


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        # a file, then a folder of the same name: mkdir fails
        (
            ["system/app/A/A.apk", "system/app/A/A.apk/B.apk"],
            "system/app/A/A.apk/B.apk: not extracted (File exists)",
        ),
        # a folder, then a file of the same name: open fails
        (
            ["system/app/A/A.apk/B.apk", "system/app/A/A.apk"],
            "system/app/A/A.apk: not extracted (Is a directory)",
        ),
    ],
)
def test_zip_entries_that_cannot_all_be_files_are_problems(
    tmp_path: Path, names: list[str], problem: str
) -> None:
    weather = (NEW / "product/app/Weather/Weather.apk").read_bytes()
    entries = [(n, b"x") for n in names] + [("system/app/W/W.apk", weather)]
    with fw.open_firmware(zip_of(tmp_path / "fw.zip", entries)) as (root, problems):
        rels = {f.rel for f in fw.find_apks(root)}
    assert [p for p in problems if "not extracted" in p] == [problem]
    assert "system/app/W/W.apk" in rels


def test_a_zip_over_the_tree_limit_is_refused_before_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    archive = zip_of(tmp_path / "fw.zip", [("system/app/A/A.apk", bytes(60_000))])
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 50_000)
    with (
        pytest.raises(InputError, match="more than the 50000-byte limit"),
        fw.open_firmware(archive),
    ):
        pass
    assert not list(tmp_path.glob("phonehome-fw-*"))  # nothing left behind
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 60_000)
    with fw.open_firmware(archive) as (root, problems):
        assert (root / "system/app/A/A.apk").stat().st_size == 60_000 and problems == []


def test_a_zip_that_understates_its_sizes_is_still_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = bytearray(
        zip_of(tmp_path / "x.zip", [("system/app/A/A.apk", bytes(60_000))]).read_bytes()
    )
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)  # central directory: 10 bytes uncompressed
    archive = tmp_path / "fw.zip"
    archive.write_bytes(bytes(data))
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 50_000)
    with pytest.raises(InputError, match="limit"), fw.open_firmware(archive):
        pass
    assert not list(tmp_path.glob("phonehome-fw-*"))


@pytest.mark.parametrize("kind", ["ext4", "erofs"])
def test_an_image_extracting_past_the_tree_limit_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Zeros compress to nothing in erofs and take no blocks when sparse: the image is
    # small, what it extracts to is not.
    tree = tmp_path / "tree"
    shutil.copytree(NEW / "system", tree)
    (tree / "app" / "Big").mkdir(parents=True)
    with (tree / "app" / "Big" / "filler.bin").open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)
    image = image_of(tree, tmp_path / "system.img", kind)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 1024 * 1024)
    with (
        pytest.raises(InputError, match="wrote more than the 1048576-byte limit; stopped"),
        fw.open_firmware(image),
    ):
        pass
    assert not list(tmp_path.glob("phonehome-fw-*"))  # nothing left behind
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 64 * 1024 * 1024)
    with fw.open_firmware(image) as (root, _):
        assert "system/priv-app/AutoReg/AutoReg.apk" in {f.rel for f in fw.find_apks(root)}


def test_tree_bytes_counts_files_stops_early_and_skips_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(bytes(1000))
    (tmp_path / "a" / "b" / "two").write_bytes(bytes(500))
    (tmp_path / "link").symlink_to(tmp_path / "a" / "one")
    assert fw._tree_bytes(tmp_path) == 1500
    monkeypatch.setattr(fw, "MAX_TREE_BYTES", 100)
    assert 100 < fw._tree_bytes(tmp_path) <= 1500
    assert fw._tree_bytes(tmp_path / "missing") == 0


def test_an_image_debugfs_cannot_open_is_an_error_not_an_empty_tree(tmp_path: Path) -> None:
    # debugfs exits 0 here; taken as an empty tree, every app would show as removed.
    image = image_of(NEW, tmp_path / "system.img", "ext4")
    data = bytearray(image.read_bytes())
    data[1024 + 0x18 : 1024 + 0x1C] = (60).to_bytes(4, "little")  # absurd block size
    image.write_bytes(bytes(data))
    with (
        pytest.raises(InputError, match=r"system\.img: debugfs: .*while trying to open"),
        fw.open_firmware(image),
    ):
        pass


def _tree_with_new_weather(tmp_path: Path, apk: bytes) -> Path:
    new = tmp_path / "new"
    shutil.copytree(NEW, new, symlinks=True)
    (new / "product" / "app" / "Weather" / "Weather.apk").write_bytes(apk)
    return new


def test_a_signature_that_does_not_verify_is_said(tmp_path: Path) -> None:
    """Weather 2.0 with its v2/v3 block stripped: the claimed signer is still readable,
    but the JAR signature says v2/v3 were there, so Android would refuse the APK."""
    from tests import tamper_apk as t

    stripped = t.with_pairs((NEW / "product/app/Weather/Weather.apk").read_bytes(), None)
    doc = fw.firmware_diff(OLD, _tree_with_new_weather(tmp_path, stripped), jobs=1, cache=False)
    (weather,) = [e for e in doc["changes"] if e["package"] == "org.phonehome.test.weather"]
    assert weather["new"]["signature_verified"] is False
    assert "it was stripped" in weather["changes"]["signature"]["reason"]
    assert (
        "signature does not verify (v1: META-INF/VENDOR.SF says the APK is also signed"
        in (weather["verdict"])
    )
    reasons = [r["reason"] for r in weather["risk"]["reasons"]]
    assert "signature does not verify" in reasons and "signer changed" in reasons
    assert weather["risk"]["score"] == 4  # ranked; flagged only when the app is also risky


def test_a_proven_key_rotation_is_not_a_signer_change(tmp_path: Path) -> None:
    """Weather 1.0 re-signed with a v3 lineage from the platform key to the vendor key:
    the signer differs, but the old key signed the hand-over."""
    rotated = (APKS / "built" / "Weather-rotated.apk").read_bytes()
    doc = fw.firmware_diff(OLD, _tree_with_new_weather(tmp_path, rotated), jobs=1, cache=False)
    (weather,) = [e for e in doc["changes"] if e["package"] == "org.phonehome.test.weather"]
    assert weather["changes"]["signer"]["rotated"] is True
    assert weather["verdict"].startswith(
        "changed in NEW: org.phonehome.test.weather — signer rotated, proof of rotation verified"
    )
    assert weather["risk"] == {"score": 0, "risky": False, "reasons": []}
