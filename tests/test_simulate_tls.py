"""The simulator's TLS 1.3 + HTTP/2 corpus (``bench --mix tls``): real AEAD records and HPACK
that phonehome and tshark both read with its key log, and the leaks its ground truth
lists, found where it says."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.protocols.hpack_decoder import HpackDecoder
from phonehome.simulate.tls13_h2 import HpackEncoder
from tests import tshark as wireshark
from tests.needs import need_module, needs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls") / "tls.pcap"
    simulate.run("bench", out, seed=2, size_mb=1.5, mix="tls")
    return out


def test_hpack_encoder_round_trips_through_the_decoder_and_uses_its_table() -> None:
    rng = random.Random(5)
    enc, dec = HpackEncoder(), HpackDecoder()
    for n in range(200):
        fields = [
            (":method", "POST"),
            (":path", f"/e?{rng.randrange(50)}"),
            ("x-ad-id", "f409f3d8"),
            (f"x-{rng.randrange(40)}", "v" * rng.randrange(300)),
        ]
        block = enc.encode(fields)
        assert dec.decode(block) == [(k.encode(), v.encode()) for k, v in fields]
        if n:
            assert block[0] == 0x83  # :method POST, static index 3
        assert enc.size == dec.size <= 4096
    hpack = need_module("hpack")  # the reference encoder/decoder (test extra)
    other = hpack.Decoder()
    enc = HpackEncoder()
    fields = [(":authority", "a.example"), ("user-agent", "okhttp/4.12.0")]
    for _ in range(3):
        assert other.decode(enc.encode(fields)) == fields
    assert len(enc.encode(fields)) == 2  # both from the dynamic table now


def test_same_seed_same_bytes(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pcap"
    simulate.run("bench", again, seed=2, size_mb=1.5, mix="tls")
    assert again.read_bytes() == corpus.read_bytes()
    assert again.with_suffix(".keys").read_bytes() == corpus.with_suffix(".keys").read_bytes()
    assert oct(corpus.with_suffix(".keys").stat().st_mode & 0o777) == "0o600"


def test_scan_with_the_key_log_finds_the_ground_truth(corpus: Path) -> None:
    truth = json.loads(corpus.with_suffix(".truth.json").read_text())
    res = CliRunner().invoke(main, ["scan", str(corpus), "--device",
                                    str(corpus.with_suffix(".device.toml")), "--keylog",
                                    str(corpus.with_suffix(".keys")), "--no-store",
                                    "--format", "json"])  # fmt: skip
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    found = Counter((f["identifier"], f["host"], f["where"]) for f in doc["findings"])
    want = Counter((lk["identifier"], lk["host"], lk["where"]) for lk in truth["leaks"])
    assert found == want and want
    assert all(f["readability"] == "decrypted" for f in doc["findings"])
    tls = doc["decryption"]["tls"]
    assert tls["connections"] == tls["decrypted"] > 10
    assert doc["anomalies"] == {}


def test_the_dsb_variant_decrypts_alike(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "tls.pcapng"
    simulate.run("bench", out, seed=2, size_mb=1.5, mix="tls", pcapng=True)
    runner = CliRunner()
    with_dsb = runner.invoke(main, ["flows", str(out), "--format", "jsonl"])
    with_file = runner.invoke(main, ["flows", str(corpus), "--format", "jsonl", "--keylog",
                                     str(corpus.with_suffix(".keys"))])  # fmt: skip
    a = [json.loads(x) for x in with_dsb.stdout.splitlines()]
    b = [json.loads(x) for x in with_file.stdout.splitlines()]
    for row in a:
        row.get("decrypted", {}).pop("keys", None)
    for row in b:
        row.get("decrypted", {}).pop("keys", None)
    assert a == b and any(r["protocol"] == "http2" for r in a)


@needs(tools=["tshark"])
def test_tshark_reads_the_same_requests(corpus: Path) -> None:
    rows = wireshark.fields(corpus, "http2.headers.authority", "http2.headers.path",
                            "http2.data.data", display_filter="http2.type == 1 && "
                            "http2.headers.method == \"POST\"", two_pass=True,
                            prefs={"tls.keylog_file": str(corpus.with_suffix(".keys"))},
                            )  # fmt: skip
    theirs = Counter((a, p) for a, p, _ in rows)
    res = CliRunner().invoke(main, ["flows", str(corpus), "--format", "jsonl", "--keylog",
                                    str(corpus.with_suffix(".keys"))])  # fmt: skip
    ours = Counter((r["http_host"], r["uri"]) for r in map(json.loads, res.stdout.splitlines())
                   if r.get("method") == "POST")  # fmt: skip
    assert ours == theirs and len(ours) > 10
