"""NSS key logs: lines accepted and refused, sources adding up, bounds, and secrets that
never show in a repr, an anomaly or an exception."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phonehome.decrypt.keylog import (
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_RANDOM,
    CLIENT_TRAFFIC_SECRET_0,
    MAX_CANDIDATES,
    MAX_LINE,
    SOURCE_DSB,
    SOURCE_FILE,
    KeyLog,
)
from phonehome.errors import InputError
from phonehome.model.anomaly import Anomalies
from tests.builders_tls import DATA

RANDOM = bytes(range(32))
MASTER = bytes(range(100, 148))
SECRET = bytes(range(200, 232))


def line(label: str, random: bytes = RANDOM, secret: bytes = SECRET) -> bytes:
    return f"{label} {random.hex()} {secret.hex()}\n".encode()


def test_a_real_curl_key_log_gives_every_tls13_secret() -> None:
    keylog = KeyLog()
    added = keylog.add_file(str(DATA / "tls13-aes128gcm-http11.keys"))
    assert added == 4  # two handshake and two traffic secrets; EXPORTER_SECRET is not kept
    assert len(keylog) == 1
    text = (DATA / "tls13-aes128gcm-http11.keys").read_text().split()
    entry = keylog.lookup(bytes.fromhex(text[1]))
    assert entry is not None
    secret = entry.get(CLIENT_TRAFFIC_SECRET_0)[0]
    assert secret.source == SOURCE_FILE and len(secret.value) == 32
    assert keylog.sources == {SOURCE_FILE}


def test_python_key_log_comment_line_is_skipped() -> None:
    anomalies = Anomalies()
    keylog = KeyLog(anomalies)
    path = DATA / "tls12-resumed-ticket-http11.keys"
    assert path.read_text().startswith("#")
    assert keylog.add_file(str(path)) == 2
    assert anomalies.total() == 0 and keylog.bad_lines == 0


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (b"CLIENT_RANDOM 00 " + MASTER.hex().encode(), "client random is not 64 hex digits"),
        (line(CLIENT_RANDOM, secret=MASTER[:47]), "master secret of 47 bytes"),
        (line(CLIENT_TRAFFIC_SECRET_0, secret=bytes(20)), "secret of 20 bytes"),
        (b"CLIENT_RANDOM " + RANDOM.hex().encode() + b" zz" + MASTER.hex()[2:].encode(),
         "secret is not hex"),
        (b"CLIENT_RANDOM " + RANDOM.hex().encode(), "2 fields instead of 3"),
        (b"SECRETLY_" + MASTER.hex().encode() + b" " + RANDOM.hex().encode() + b" 00",
         "unknown label"),
    ],
)  # fmt: skip
def test_bad_lines_are_counted_with_their_line_number_and_never_echoed(
    text: bytes, detail: str
) -> None:
    anomalies = Anomalies()
    keylog = KeyLog(anomalies)
    data = b"# comment\n\n" + line(CLIENT_RANDOM, secret=MASTER) + text + b"\n"
    assert keylog.add_text(data, SOURCE_FILE, "keys.txt", input=3) == 1
    assert keylog.bad_lines == 1
    (sample,) = anomalies.samples
    assert sample.kind == "keylog.bad_line" and sample.input == 3
    assert sample.detail == f"keys.txt line 4: {detail}"
    assert MASTER.hex()[:16] not in sample.detail and RANDOM.hex()[:16] not in sample.detail


def test_known_but_unused_labels() -> None:
    anomalies = Anomalies()
    keylog = KeyLog(anomalies)
    data = line("EXPORTER_SECRET") + b"RSA 0011223344556677 " + MASTER.hex().encode() + b"\n"
    data += line("CLIENT_TRAFFIC_SECRET_N")  # OpenSSL 3, after a KeyUpdate
    assert keylog.add_text(data, SOURCE_DSB, "DSB 1") == 0
    assert keylog.unsupported_lines == 1 and keylog.bad_lines == 0
    assert anomalies.samples[0].detail == "DSB 1 line 2: RSA lines are not used"


def test_crlf_uppercase_hex_and_surrounding_space() -> None:
    keylog = KeyLog()
    data = b"  CLIENT_RANDOM " + RANDOM.hex().upper().encode() + b" " + MASTER.hex().encode()
    assert keylog.add_text(data + b"  \r\n", SOURCE_FILE, "k") == 1
    entry = keylog.lookup(RANDOM)
    assert entry is not None and entry.get(CLIENT_RANDOM)[0].value == MASTER


def test_sources_add_up_and_disagreeing_values_are_all_kept() -> None:
    keylog = KeyLog()
    wrong = bytes(48)
    keylog.add_text(line(CLIENT_RANDOM, secret=wrong), SOURCE_FILE, "a")
    keylog.add_text(line(CLIENT_RANDOM, secret=MASTER), SOURCE_DSB, "DSB 1")
    keylog.add_text(line(CLIENT_RANDOM, secret=MASTER), SOURCE_FILE, "b")  # a repeat
    keylog.add_text(line(CLIENT_HANDSHAKE_TRAFFIC_SECRET), SOURCE_DSB, "DSB 2")
    entry = keylog.lookup(RANDOM)
    assert entry is not None
    candidates = entry.get(CLIENT_RANDOM)
    assert [(s.value, s.source) for s in candidates] == [(wrong, "file"), (MASTER, "dsb")]
    assert entry.get(CLIENT_HANDSHAKE_TRAFFIC_SECRET)[0].source == "dsb"
    assert keylog.accepted == 3 and keylog.sources == {"file", "dsb"}


def test_candidates_per_label_are_capped() -> None:
    keylog = KeyLog()
    for i in range(MAX_CANDIDATES + 3):
        keylog.add_text(line(CLIENT_RANDOM, secret=bytes([i]) * 48), SOURCE_FILE, "k")
    entry = keylog.lookup(RANDOM)
    assert entry is not None and len(entry.get(CLIENT_RANDOM)) == MAX_CANDIDATES


def test_entries_are_capped_and_the_rest_counted() -> None:
    anomalies = Anomalies()
    keylog = KeyLog(anomalies, max_entries=3)
    data = b"".join(line(CLIENT_RANDOM, bytes([i]) * 32, MASTER) for i in range(5))
    assert keylog.add_text(data, SOURCE_FILE, "k") == 3
    assert len(keylog) == 3 and keylog.dropped == 2
    assert anomalies.counts["keylog.too_many_entries"] == 2
    # A known random still takes more secrets.
    keylog.add_text(line(CLIENT_TRAFFIC_SECRET_0, bytes(32)), SOURCE_FILE, "k")
    entry = keylog.lookup(bytes(32))
    assert entry is not None and entry.get(CLIENT_TRAFFIC_SECRET_0)


def test_an_over_long_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_bytes(b"A" * (MAX_LINE * 50) + b"\n" + line(CLIENT_RANDOM, secret=MASTER))
    anomalies = Anomalies()
    keylog = KeyLog(anomalies)
    assert keylog.add_file(str(path)) == 1
    assert anomalies.samples[0].detail.endswith("line 1: too long")


def test_a_binary_file_gives_bad_lines_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcap"
    path.write_bytes(os.urandom(1 << 16))
    keylog = KeyLog()
    assert keylog.add_file(str(path)) == 0
    assert keylog.bad_lines > 0


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read key log"):
        KeyLog().add_file(str(tmp_path / "missing.keys"))


def test_secrets_never_show_in_reprs() -> None:
    keylog = KeyLog()
    keylog.add_text(line(CLIENT_RANDOM, secret=MASTER), SOURCE_FILE, "k")
    entry = keylog.lookup(RANDOM)
    assert entry is not None
    secret = entry.get(CLIENT_RANDOM)[0]
    for text in (repr(keylog), repr(entry), repr(secret), str(secret), f"{secret}"):
        assert MASTER.hex()[:8] not in text and "100, 101" not in text
    assert repr(secret) == "<Secret CLIENT_RANDOM from file, 48 bytes>"
