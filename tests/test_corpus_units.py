"""The corpus engine's parts on their own: INPUT expansion, session markers, the options
digest and its secret key, part files, the progress line, query output cells."""

from __future__ import annotations

import io
import os
import pickle
import re
import shutil
import stat
from pathlib import Path

import pytest

from phonehome import simulate
from phonehome.corpus import inputs, options
from phonehome.corpus.progress import RunProgress
from phonehome.errors import UsageError
from tests.needs import needs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/a.pcap, root/sub/b.pcapng.gz, root/sub/notes.txt, root/sub/x.truth.json,
    root/sess/{one,two}.pcap + marker, root/sess/inner/three.pcap + its own marker."""
    root = tmp_path_factory.mktemp("tree")
    simulate.run("encodings", root / "a.pcap", seed=1)
    (root / "sub").mkdir()
    simulate.run("encodings", root / "sub" / "b.pcapng", seed=2, pcapng=True)
    import gzip

    data = (root / "sub" / "b.pcapng").read_bytes()
    (root / "sub" / "b.pcapng.gz").write_bytes(gzip.compress(data))
    (root / "sub" / "b.pcapng").unlink()
    (root / "sub" / "notes.txt").write_text("pcap\n")
    sess = root / "sess"
    (sess / "inner").mkdir(parents=True)
    simulate.run("encodings", sess / "one.pcap", seed=3)
    simulate.run("encodings", sess / "two.pcap", seed=4)
    simulate.run("encodings", sess / "inner" / "three.pcap", seed=5)
    (sess / inputs.SESSION_MARKER).write_text('name = "s"\ndevice = "one.device.toml"\n')
    (sess / "inner" / inputs.SESSION_MARKER).write_text('name = "inner"\n')
    return root


def test_directory_expansion_by_content(tree: Path) -> None:
    exp = inputs.expand([str(tree)], "scan", tree / "out")
    kinds = [(t.kind, Path(t.path).relative_to(tree).as_posix()) for t in exp.tasks]
    assert kinds == [
        ("capture", "a.pcap"),
        ("capture", "sub/b.pcapng.gz"),  # gzip undone to sniff, never the name
        ("session", "sess"),
    ]
    session = exp.tasks[2]
    members = [Path(m).relative_to(tree / "sess").as_posix() for m in session.members]
    assert members == ["inner/three.pcap", "one.pcap", "two.pcap"]  # the outer marker wins
    assert session.session is not None and session.session.name == "s"
    assert session.session.device == str((tree / "sess" / "one.device.toml").resolve())
    ignored = {Path(p).name for p in exp.ignored}
    assert {"notes.txt", "a.truth.json", "a.device.toml", "one.events.csv"} <= ignored
    assert session.size == sum(os.path.getsize(m) for m in session.members)


def test_globs_files_and_errors(tree: Path, tmp_path: Path) -> None:
    exp = inputs.expand([str(tree / "**" / "*.pcap")], "scan", tmp_path)
    names = sorted(Path(t.path).name for t in exp.tasks)
    assert names == ["a.pcap", "one.pcap", "three.pcap", "two.pcap"]  # named: each its own task
    with pytest.raises(UsageError, match="no file matches"):
        inputs.expand([str(tree / "*.nothing")], "scan", tmp_path)
    with pytest.raises(UsageError, match="no such file or directory"):
        inputs.expand([str(tree / "missing.pcap")], "scan", tmp_path)
    # the same file twice is one task
    exp = inputs.expand([str(tree / "a.pcap"), str(tree / "a.pcap")], "scan", tmp_path)
    assert len(exp.tasks) == 1


def test_out_inside_an_input_directory_is_not_walked(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(tree / "sub", root)
    out = root / "out"
    (out / "inputs").mkdir(parents=True)
    shutil.copy(tree / "a.pcap", out / "inputs" / "looks-like-a.pcap")
    exp = inputs.expand([str(root)], "scan", out)
    assert [Path(t.path).name for t in exp.tasks] == ["b.pcapng.gz"]


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("name = [", "not a readable session marker"),
        ('colour = "red"', "unknown key(s) colour"),
        ('device = "nope.toml"', "device profile"),
        ("device_ip = 3", "device_ip must be a string or a list of strings"),
        ("home_country = 1", "home_country must be a string"),
    ],
)
def test_bad_session_markers_stop_the_run(tmp_path: Path, marker: str, message: str) -> None:
    (tmp_path / inputs.SESSION_MARKER).write_text(marker)
    simulate.run("encodings", tmp_path / "x.pcap", seed=1)
    with pytest.raises(UsageError, match=re.escape(message)):
        inputs.expand([str(tmp_path)], "scan", tmp_path / "out")


def test_apk_expansion(tmp_path: Path) -> None:
    apks = REPO / "tests/apks"
    exp = inputs.expand([str(apks)], "apk", tmp_path)
    assert exp.tasks and all(t.kind == "apk" and t.path.endswith(".apk") for t in exp.tasks)
    assert len(exp.tasks) == len(list(apks.rglob("*.apk")))
    # a zip without a manifest is not an APK; a named directory without APKs is a failure
    import zipfile

    (tmp_path / "d").mkdir()
    with zipfile.ZipFile(tmp_path / "d" / "data.apk", "w") as z:
        z.writestr("classes.dex", b"dex\n")
    exp = inputs.expand([str(tmp_path / "d")], "apk", tmp_path / "out")
    assert [t.kind for t in exp.tasks] == ["directory"]
    assert exp.tasks[0].problem is not None and "no APK in this directory" in exp.tasks[0].problem


def test_secret_key_never_shown_and_survives_pickling() -> None:
    key = options.SecretKey(b"k" * 32)
    assert "k" * 8 not in repr(key) and "kkkk" not in str(key)
    opts = options.make_options("scan", b"k" * 32)
    assert "kkkk" not in repr(opts)
    back = pickle.loads(pickle.dumps(opts))
    assert back.key.data == b"k" * 32 and back.digest == opts.digest


def test_options_digest_is_keyed_and_covers_the_profile(tmp_path: Path) -> None:
    simulate.run("encodings", tmp_path / "x.pcap", seed=1)
    profile = tmp_path / "x.device.toml"
    a = options.make_options("scan", b"a" * 32, device=profile)
    b = options.make_options("scan", b"b" * 32, device=profile)
    assert a.digest != b.digest  # another installation's key: other value ids
    assert a.digest == options.make_options("scan", b"a" * 32, device=profile).digest
    profile.write_text(profile.read_text().replace("imei", "imei_changed_key_is_ignored", 0))
    profile.write_text(profile.read_text() + "\n# a comment changes the file\n")
    assert options.make_options("scan", b"a" * 32, device=profile).digest != a.digest
    assert (
        options.make_options("apk", b"a" * 32).digest
        != options.make_options("scan", b"a" * 32).digest
    )
    assert "kari" not in str(a.summary).lower()  # the summary names the file, not values


def test_bind_directory(tmp_path: Path) -> None:
    opts = options.make_options("scan", b"a" * 32, home_country="NO")
    out = tmp_path / "out"
    options.bind_directory(out, opts)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / options.MANIFEST).stat().st_mode) == 0o600
    options.bind_directory(out, opts)  # the same options: fine
    other = options.make_options("scan", b"a" * 32, home_country="SE")
    with pytest.raises(UsageError, match=re.escape("home_country: 'NO' then, 'SE' now")):
        options.bind_directory(out, other)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("")
    with pytest.raises(UsageError, match="not a phonehome corpus directory"):
        options.bind_directory(busy, opts)


@needs(modules=["pyarrow"])
@needs(modules=["pyarrow"])
def test_part_files_are_atomic_and_private(tmp_path: Path) -> None:
    from phonehome.corpus import parts

    row = {"task": "k", "kind": "capture", "path": "/x", "status": "done"}
    path = parts.write_part(tmp_path, "inputs", "k", [row])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parts.read_part(path)[0]["path"] == "/x"
    assert [p.name for p in path.parent.iterdir()] == ["k.parquet"]
    with pytest.raises(KeyError):
        parts.write_part(tmp_path, "nope", "k", [row])
    # a failing write leaves the earlier part and no temporary file
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        parts.write_part(tmp_path, "inputs", "k", [{"task": "k", "files": "not a number"}])
    assert [p.name for p in path.parent.iterdir()] == ["k.parquet"]
    assert parts.read_part(path)[0]["path"] == "/x"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_counts_rate_and_eta() -> None:
    stream = _Tty()
    p = RunProgress(4, 400_000_000, stream)
    p.started -= 10  # ten seconds ago
    p.update("done", 100_000_000, earlier=True)
    p.update("done", 100_000_000)
    p.update("failed", 0)
    line = p.line(p.started + 10)
    assert line.startswith("[############------------] 3/4 inputs, 1 failed, 1 done before")
    assert "0.2/s" in line and "10.0 MB/s" in line and "ETA 0:00:20" in line
    p.draw(force=True)
    p.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    RunProgress(1, 1, quiet).update("done", 1)
    assert quiet.getvalue() == ""  # not a terminal: nothing


@needs(modules=["pyarrow", "duckdb"])
@needs(modules=["pyarrow", "duckdb"])
def test_cells() -> None:
    from phonehome.corpus.query import csv_cell, table_text, text_cell

    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell(-3) == "-3"
    assert text_cell(["a", "b"]) == "a;b" and text_cell(True) == "true" and text_cell(None) == ""
    table = table_text(["host", "n"], [("evil\x1b]0;x\x07.com", 3), ("a", 12)])
    assert "\x1b" not in table and "\\x1b" in table
    assert table.splitlines()[2].endswith(" 3") and table.rstrip().endswith("(2 rows)")


def test_key_logs_count_in_the_digest_and_stay_out_of_the_manifest(tmp_path: Path) -> None:
    secret = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48
    keylog = tmp_path / "keys.txt"
    keylog.write_text(secret + "\n")
    with_keys = options.make_options("scan", b"a" * 32, keylogs=(keylog,))
    without = options.make_options("scan", b"a" * 32)
    assert with_keys.digest != without.digest
    assert with_keys.keylogs == (str(keylog.resolve()),)  # workers read the file themselves
    out = tmp_path / "out"
    options.bind_directory(out, with_keys)
    manifest = (out / options.MANIFEST).read_text()
    assert "cd" * 48 not in manifest and '"keylogs": 1' in manifest
    keylog.write_text(secret.replace("cd", "ef") + "\n")
    assert options.make_options("scan", b"a" * 32, keylogs=(keylog,)).digest != with_keys.digest
