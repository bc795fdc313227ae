"""Key logs are secrets: no output, report, log, store or exported capture holds a key; bad
key log lines are counted with where they were, never echoed; a key log that cannot be
read is an input error (exit 2, one line)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.ingest.pcapng import DSB
from tests.builders_tls import DATA

FORMATS = ["text", "json", "jsonl", "html", "csv", "markdown", "sarif"]


def secrets(keys: Path) -> list[bytes]:
    """Every secret of a key log, as the hex it is written in and as bytes."""
    out: list[bytes] = []
    for line in keys.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            out += [parts[2].lower().encode(), parts[2].upper().encode(), bytes.fromhex(parts[2])]
    assert out
    return out


def assert_no_secret(data: bytes, keys: list[Path], what: str) -> None:
    for key in keys:
        for secret in secrets(key):
            assert secret not in data, f"a secret of {key.name} is in {what}"


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from phonehome import simulate

    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=1)
    return out.with_name("nokia.device.toml")


CAPTURES = [
    (DATA / "tls13-aes128gcm-h2.pcap", DATA / "tls13-aes128gcm-h2.keys"),
    (DATA / "h3-aes128gcm.dsb.pcapng", DATA / "h3-aes128gcm.keys"),
    (DATA / "tls12-ecdhe-chacha20-http11.dsb.pcapng", DATA / "tls12-ecdhe-chacha20-http11.keys"),
]


def test_no_output_holds_a_key(profile: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    keys = [k for _, k in CAPTURES]
    args = [str(c) for c, _ in CAPTURES]
    for k in keys[:1]:
        args += ["--keylog", str(k)]
    db = tmp_path / "store.db"
    for fmt in FORMATS:
        for reveal in ([], ["--reveal"]):
            res = runner.invoke(main, ["scan", *args, "--device", str(profile), "--db", str(db),
                                       "--format", fmt, *reveal])  # fmt: skip
            assert res.exit_code == 1, res.output
            assert_no_secret(res.stdout_bytes + res.stderr_bytes, keys, f"scan --format {fmt}")
    for fmt in ("text", "jsonl"):
        res = runner.invoke(main, ["flows", *args, "--format", fmt])
        assert res.exit_code == 0, res.output
        assert "HTTP" in res.stdout.upper()
        assert_no_secret(res.stdout_bytes + res.stderr_bytes, keys, f"flows --format {fmt}")
    assert_no_secret(db.read_bytes(), keys, "the store")
    for extra in db.parent.glob("store.db*"):
        assert_no_secret(extra.read_bytes(), keys, extra.name)
    # And the stored scan says how its findings were read.
    res = runner.invoke(main, ["show", "1", "--db", str(db), "--format", "json"])
    doc = json.loads(res.stdout)
    assert {f["decrypted"]["keys"] for f in doc["findings"]} == {"file", "dsb"}


def blocks(path: Path) -> list[int]:
    """Block types of a little-endian pcapng."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        out.append(btype)
        pos += blen
    return out


def test_export_copies_no_key_material(profile: Path, tmp_path: Path) -> None:
    capture, keys = DATA / "tls13-aes128gcm-h2.dsb.pcapng", DATA / "tls13-aes128gcm-h2.keys"
    runner = CliRunner()
    doc = tmp_path / "scan.json"
    res = runner.invoke(main, ["scan", str(capture), "--device", str(profile), "--no-store",
                               "--format", "json", "-o", str(doc)])  # fmt: skip
    assert res.exit_code == 1, res.output
    out = tmp_path / "evidence.pcapng"
    res = runner.invoke(main, ["export", str(doc), "--pcap", str(out), "--keylog", str(keys)])
    assert res.exit_code == 0, res.output
    assert DSB in blocks(capture)  # the input has its keys embedded ...
    assert DSB not in blocks(out)  # ... the evidence does not
    assert_no_secret(out.read_bytes(), [keys], "the exported capture")
    assert_no_secret(res.stdout_bytes, [keys], "export's output")
    assert "the key log decrypts 1 of its 1 TLS/QUIC connection;" in res.stdout
    # Every packet of the flow is there: with the key log given again it decrypts whole.
    res = runner.invoke(main, ["flows", str(out), "--keylog", str(keys), "--format", "jsonl"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["protocol"] for r in rows if r["readability"] == "decrypted"] == ["http2"] * 4


def test_bad_key_log_lines_are_counted_never_echoed(tmp_path: Path) -> None:
    good = (DATA / "tls13-aes128gcm-http11.keys").read_text().splitlines()
    canary = "SECRETCANARY" + "ab" * 20
    lines = [
        "# a comment",
        "",
        f"CLIENT_TRAFFIC_SECRET_0 {canary}",  # 2 fields
        f"{canary} 00 11",  # unknown label
        f"CLIENT_RANDOM {'00' * 32} {canary}",  # not hex
        *good,
    ]
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    capture = DATA / "tls13-aes128gcm-http11.pcap"
    res = runner.invoke(main, ["flows", str(capture), "--keylog", str(keys)])
    assert res.exit_code == 0, res.output
    assert "keylog.bad_line=3" in res.stdout
    assert "HTTP POST https://" in res.stdout  # the good lines decrypt
    assert canary not in res.output
    res = runner.invoke(main, ["scan", str(capture), "--keylog", str(keys), "--no-store",
                               "--format", "json"])  # fmt: skip
    doc = json.loads(res.stdout)
    assert doc["anomalies"]["keylog.bad_line"] == 3
    assert doc["decryption"]["key_log"]["bad_lines"] == 3
    assert all(i["anomalies"].get("keylog.bad_line") is None for i in doc["inputs"])
    assert canary not in res.output

    from phonehome.cli.options import make_context

    ctx = make_context((), (), (keys,))
    details = [a.detail for a in ctx.anomalies.samples if a.kind == "keylog.bad_line"]
    assert details == [f"{keys} line 3: 2 fields instead of 3", f"{keys} line 4: unknown label",
                       f"{keys} line 5: secret is not hex"]  # fmt: skip


@pytest.mark.parametrize("command", ["scan", "flows"])
def test_a_key_log_that_cannot_be_read_is_an_input_error(command: str, tmp_path: Path) -> None:
    capture = str(DATA / "tls13-aes128gcm-http11.pcap")
    for bad, why in ((tmp_path / "missing.keys", "cannot read key log"),
                     (tmp_path, "is a directory")):  # fmt: skip
        res = CliRunner().invoke(main, [command, capture, "--keylog", str(bad)])
        assert res.exit_code == 2
        assert res.stderr.startswith("phonehome: error:") and why in res.stderr
        assert res.stderr.count("\n") == 1
