"""Decryption wired into phonehome: every real-stack capture of tests/data/tls through the
pipeline (``flows``/``scan``), with its key log given by ``--keylog`` and embedded as a DSB.

The HTTP messages the pipeline gives are the ones the standalone modules give
(``tests/builders_tls.decrypt_capture``, itself held to tshark in
``tests/test_decrypt_tshark.py``), and they are checked against tshark again here; what
changes is the message header: ``decrypted`` with how, ``http2``/``http3`` names, and the
coverage of each run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main
from phonehome.cli.options import make_context
from phonehome.context import Context
from phonehome.model.message import HttpRequest, HttpResponse, Message, QuicInitial, TlsClientHello
from phonehome.pipeline import iter_messages, open_all
from phonehome.protocols.tls import client_random
from tests.builders_tls import (
    DATA,
    decrypt_capture,
    read_frames,
    readdress_udp,
    write_pcapng,
)
from tests.needs import needs
from tests.test_decrypt_tshark import AGG, first_port, h2_fields
from tests.test_decrypt_tshark import tshark as wireshark_fields

KEYED = sorted(p.stem for p in DATA.glob("*.keys") if not p.stem.endswith(".wrong"))
"""Every capture with a key log (TLS 1.2/1.3 over TCP, QUIC)."""
CLEAR = ["h2c-prior-knowledge", "h2c-upgrade"]
AD_ID = "f409f3d8-dbd7-40a3-8548-2877e348feb5"
IMEI = "352071026884283"


def run(capture: Path | str, keys: list[Path] | None = None) -> tuple[list[Message], Context]:
    ctx = make_context((), (), tuple(keys or ()))
    return list(iter_messages(open_all([str(capture)]), ctx)), ctx


def http(messages: list[Message]) -> list[tuple[int, bool, HttpRequest | HttpResponse]]:
    return [
        (m.frame, m.src == m.flow.client, m.content)
        for m in messages
        if isinstance(m.content, HttpRequest | HttpResponse)
    ]


def variants(name: str) -> list[tuple[Path, list[Path]]]:
    """The capture with ``--keylog``, and the DSB one without."""
    return [
        (DATA / f"{name}.pcap", [DATA / f"{name}.keys"]),
        (DATA / f"{name}.dsb.pcapng", []),
    ]


def via(name: str) -> str:
    if name.startswith("h3-v2"):
        return "QUIC v2"
    if name.startswith("h3-"):
        return "QUIC v1"
    return "TLS 1.3" if name.startswith("tls13") else "TLS 1.2"


@pytest.mark.parametrize("name", KEYED)
@pytest.mark.parametrize("dsb", [False, True], ids=["keylog-file", "dsb"])
def test_pipeline_gives_what_the_decryption_modules_give(name: str, dsb: bool) -> None:
    capture, keys = variants(name)[dsb]
    messages, ctx = run(capture, keys)
    expected = decrypt_capture(DATA / f"{name}.pcap", [DATA / f"{name}.keys"])
    got = http(messages)
    want = [(p.frame, p.from_client, p.content) for p in expected.messages
            if isinstance(p.content, HttpRequest | HttpResponse)]  # fmt: skip
    assert sorted(got, key=repr) == sorted(want, key=repr)
    assert any(isinstance(c, HttpRequest) for _, _, c in got)
    for m in messages:
        if isinstance(m.content, TlsClientHello | QuicInitial):
            assert m.readability == "encrypted"
            continue
        assert m.readability == "decrypted"
        how = dict(m.extra)
        assert how["decrypted.via"] == via(name)
        assert how["decrypted.keys"] == ("dsb" if dsb else "file")
        assert how["decrypted.suite"].startswith("TLS_")
        expected_name = {"HTTP/2": "http2", "HTTP/3": "http3"}.get(m.content.version, "http")
        assert m.protocol == expected_name
    layer = "quic" if name.startswith("h3") else "tls"
    counts = ctx.coverage.quic if layer == "quic" else ctx.coverage.tls
    assert counts.get("decrypted", 0) >= 1
    assert ctx.anomalies.counts.get("tls.decrypt_failed", 0) == 0
    assert ctx.anomalies.counts.get("quic.decrypt_failed", 0) == 0


@pytest.mark.parametrize("name", KEYED)
def test_without_keys_only_the_hellos_as_before(name: str) -> None:
    messages, ctx = run(DATA / f"{name}.pcap")
    assert messages
    assert all(isinstance(m.content, TlsClientHello | QuicInitial) for m in messages)
    assert all(m.readability == "encrypted" and m.extra == () for m in messages)
    counts = ctx.coverage.quic if name.startswith("h3") else ctx.coverage.tls
    assert counts == {"keys_missing": len(messages)}
    assert not ctx.anomalies.counts  # a missing key is coverage, not damage


@pytest.mark.parametrize("name", CLEAR)
def test_h2c_through_the_registry(name: str) -> None:
    messages, ctx = run(DATA / f"{name}.pcap")
    expected = decrypt_capture(DATA / f"{name}.pcap")
    want = [(p.frame, p.from_client, p.content) for p in expected.messages
            if isinstance(p.content, HttpRequest | HttpResponse)]  # fmt: skip
    assert http(messages) == want
    assert all(m.readability == "cleartext" for m in messages)
    names = [m.protocol for m in messages]
    if name == "h2c-upgrade":
        # The upgrade request and its 101 are HTTP/1.1; the rest is HTTP/2.
        assert names[:2] == ["http", "http"] and set(names[2:]) == {"http2"}
    else:
        assert set(names) == {"http2"}
    assert not ctx.anomalies.counts


def test_wrong_key_is_an_anomaly_not_a_crash() -> None:
    capture = DATA / "tls13-aes128gcm-http11.pcap"
    messages, ctx = run(capture, [DATA / "tls13-aes128gcm-http11.wrong.keys"])
    assert [type(m.content) for m in messages] == [TlsClientHello]
    assert ctx.anomalies.counts["tls.decrypt_failed"] >= 1
    assert ctx.coverage.tls == {"wrong_key": 1}
    details = [a.detail for a in ctx.anomalies.samples if a.kind == "tls.decrypt_failed"]
    assert all("wrong or stale key" in d for d in details)


def test_wrong_quic_key_is_an_anomaly_not_a_crash(tmp_path: Path) -> None:
    keys = (DATA / "h3-aes128gcm.keys").read_text().splitlines()
    wrong = tmp_path / "wrong.keys"
    wrong.write_text("\n".join(_flip_last_byte(line) for line in keys) + "\n")
    messages, ctx = run(DATA / "h3-aes128gcm.pcap", [wrong])
    assert [type(m.content) for m in messages] == [QuicInitial]
    assert ctx.anomalies.counts["quic.decrypt_failed"] >= 1
    assert ctx.coverage.quic == {"wrong_key": 1}


def _flip_last_byte(line: str) -> str:
    parts = line.split()
    if len(parts) != 3 or line.startswith("#"):
        return line
    last = int(parts[2][-2:], 16) ^ 1
    return f"{parts[0]} {parts[1]} {parts[2][:-2]}{last:02x}"


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_dsb_anywhere_in_the_file_decrypts_every_connection(tmp_path: Path, where: str) -> None:
    """Unlike Wireshark, which needs each DSB before the packets it decrypts."""
    frames = read_frames(DATA / "tls13-aes128gcm-h2.pcap")
    at = {"start": 0, "middle": len(frames) // 2, "end": len(frames)}[where]
    secrets = (DATA / "tls13-aes128gcm-h2.keys").read_bytes()
    capture = write_pcapng(frames, tmp_path / "x.pcapng", secrets, at)
    messages, ctx = run(capture)
    assert {m.protocol for m in messages} == {"tls", "http2"}
    assert ctx.coverage.tls == {"decrypted": 1}
    assert not ctx.keylogs  # read ahead into the key log, not held a second time


def test_dsbs_add_up(tmp_path: Path) -> None:
    """Two DSBs in one file and one more key log by --keylog: none replaces another."""
    a = read_frames(DATA / "tls13-aes128gcm-h2.pcap")
    b = read_frames(DATA / "tls12-ecdhe-aes128gcm-http11.pcap")
    secrets_a = (DATA / "tls13-aes128gcm-h2.keys").read_bytes()
    capture = write_pcapng(a + b, tmp_path / "two.pcapng", secrets_a, 0)
    # The second DSB (the TLS 1.2 connection's key log) after everything.
    import struct

    from phonehome.ingest.pcapng import DSB, TLS_KEY_LOG, encode_block

    secrets_b = (DATA / "tls12-ecdhe-aes128gcm-http11.keys").read_bytes()
    with capture.open("ab") as f:
        f.write(encode_block(DSB, struct.pack("<II", TLS_KEY_LOG, len(secrets_b)) + secrets_b))
    messages, ctx = run(capture, [DATA / "h3-aes128gcm.keys"])
    assert ctx.coverage.tls == {"decrypted": 2}
    assert {m.protocol for m in messages} == {"tls", "http", "http2"}


def test_stdin_pcapng_uses_dsbs_that_come_first(tmp_path: Path) -> None:
    """Standard input cannot be read twice: a DSB before the packets it covers is used
    (what PCAPdroid and editcap write); one after them is not (docs/decrypt.md)."""
    frames = read_frames(DATA / "tls13-aes128gcm-h2.pcap")
    secrets = (DATA / "tls13-aes128gcm-h2.keys").read_bytes()
    runner = CliRunner()
    for at, decrypted in ((0, True), (len(frames), False)):
        data = write_pcapng(frames, tmp_path / f"{at}.pcapng", secrets, at).read_bytes()
        res = runner.invoke(main, ["flows", "-", "--format", "jsonl"], input=data)
        assert res.exit_code == 0, res.output
        lines = [json.loads(x) for x in res.stdout.splitlines()]
        assert any(x["protocol"] == "http2" for x in lines) == decrypted


def test_quic_on_ports_the_flow_table_orients_the_other_way(tmp_path: Path) -> None:
    """Between two unregistered ports the flow table calls the higher one the client; the
    QUIC client is who sent the first Initial. Here the phone (192.168.1.5:40001) talks to
    203.0.113.5:50001, so the table's client is the server."""
    frames = readdress_udp(
        read_frames(DATA / "h3-aes128gcm.pcap"), ("192.168.1.5", 40001), ("203.0.113.5", 50001)
    )
    capture = write_pcapng(frames, tmp_path / "flipped.pcapng")
    messages, ctx = run(capture, [DATA / "h3-aes128gcm.keys"])
    assert messages[0].flow.client.port == 50001  # the table's view
    initial = messages[0]
    assert isinstance(initial.content, QuicInitial)
    assert (initial.src.port, initial.direction) == (40001, "out")
    requests = [m for m in messages if isinstance(m.content, HttpRequest)]
    responses = [m for m in messages if isinstance(m.content, HttpResponse)]
    assert len(requests) == 3 and len(responses) == 3
    assert all(m.direction == "out" and m.src.ip == "192.168.1.5" for m in requests)
    assert all(m.direction == "in" and m.src.ip == "203.0.113.5" for m in responses)
    assert ctx.coverage.quic == {"decrypted": 1}
    # Without keys the Initial is still recognised (it was a raw UDP payload before).
    messages, _ = run(capture)
    assert [type(m.content) for m in messages] == [QuicInitial]


def test_a_lost_segment_stops_one_direction_not_the_run(tmp_path: Path) -> None:
    capture = DATA / "tls13-aes128gcm-http11.pcap"
    frames = read_frames(capture)
    messages, _ = run(capture, [DATA / "tls13-aes128gcm-http11.keys"])
    second = [m for m in messages if isinstance(m.content, HttpRequest)][1]
    lost = [f for i, f in enumerate(frames, 1) if i != second.frame]
    messages, ctx = run(write_pcapng(lost, tmp_path / "lost.pcapng"),
                        [DATA / "tls13-aes128gcm-http11.keys"])  # fmt: skip
    requests = [m.content for m in messages if isinstance(m.content, HttpRequest)]
    assert [r.target for r in requests] == ["/v1/checkin"]
    assert ctx.anomalies.counts["tls.gap"] == 1
    assert ctx.coverage.tls == {"decrypted": 1}


def test_client_random_from_the_first_record() -> None:
    stream = DATA / "tls13-aes128gcm-http11.pcap"
    from tests.builders_tls import flow_chunks

    (chunks,) = flow_chunks(stream)
    first = b"".join(d for c, d, _, _ in chunks if c)[:600]
    random = client_random(first)
    keys = (DATA / "tls13-aes128gcm-http11.keys").read_text()
    assert random is not None and random.hex() in keys
    assert client_random(first[:42]) is None  # too short
    assert client_random(b"\x17" + first[1:]) is None  # not a handshake record
    tiny = first[:3] + b"\x00\x10" + first[5:]  # a first record too small for the random
    assert client_random(tiny) is None


# -- scan: the "done when" ------------------------------------------------------


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated Nokia 7 Plus profile the captures were made with (seed 1)."""
    from phonehome import simulate

    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=1)
    return out.with_name("nokia.device.toml")


def scan(profile: Path, *args: str) -> tuple[dict, str]:
    res = CliRunner().invoke(main, ["scan", "--no-store", "--device", str(profile), *args])
    assert res.exit_code == 1, res.output
    return (json.loads(res.stdout) if "json" in args else {}), res.stdout


CASES = [
    ("tls13-aes128gcm-h2", "http2", "TLS 1.3"),
    ("h3-aes128gcm", "http3", "QUIC v1"),
]


@pytest.mark.parametrize(("name", "protocol", "layer"), CASES)
@pytest.mark.parametrize("dsb", [False, True], ids=["keylog-file", "dsb"])
def test_done_when(profile: Path, name: str, protocol: str, layer: str, dsb: bool) -> None:
    """curl h2 / aioquic h3 posting the advertising ID in a header and the IMEI in a JSON
    body: both findings, to the right host, decrypted, with how."""
    capture, keys = variants(name)[dsb]
    args = [str(capture), "--format", "json"]
    for k in keys:
        args += ["--keylog", str(k)]
    doc, _ = scan(profile, *args)
    found = {(f["identifier"], f["where"]): f for f in doc["findings"]}
    assert set(found) == {("imei", f"{protocol}.body:$.imei"),
                          ("ad_id", f"{protocol}.header:x-ad-id")}  # fmt: skip
    for f in found.values():
        assert f["host"] == "telemetry.phonehome.test"
        assert f["protocol"] == protocol
        assert f["readability"] == "decrypted"
        assert f["decrypted"]["via"] == layer
        assert f["decrypted"]["keys"] == ("dsb" if dsb else "file")
        assert f["profile_match"] is True
        assert any("read here with a key log" in r for r in f["severity"]["reasons"])
    cov = doc["decryption"]
    kind = "quic" if protocol == "http3" else "tls"
    assert cov[kind]["connections"] == cov[kind]["decrypted"] == 1
    assert doc["not_inspected"] == []


def test_the_text_report_says_how_it_was_read(profile: Path) -> None:
    _, text = scan(profile, str(DATA / "tls13-aes128gcm-h2.pcap"), "--keylog",
                   str(DATA / "tls13-aes128gcm-h2.keys"))  # fmt: skip
    assert re.search(r"sent inside TLS 1\.3 to \S*telemetry\.phonehome\.test\S* \(http2/\d+\); "
                     r"read with the key log", text)  # fmt: skip
    assert "CLEAR TEXT" not in text and "clear text" not in text
    assert "Decryption: decrypted 1 of 1 TLS connections and 0 of 0 QUIC connections." in text


def test_coverage_names_the_servers_without_keys(profile: Path) -> None:
    captures = ("h3-aes128gcm.pcap", "tls13-aes128gcm-h2.pcap", "tls12-cbc-sha-etm-http11.pcap")
    keys = str(DATA / "h3-aes128gcm.keys")
    doc, _ = scan(profile, *(str(DATA / c) for c in captures), "--keylog", keys, "--format", "json")
    cov = doc["decryption"]
    assert cov["tls"]["connections"] == 2 and cov["tls"]["keys_missing"] == 2
    assert cov["quic"] == {"connections": 1, "decrypted": 1, "keys_missing": 0, "wrong_key": 0,
                           "unsupported": 0, "incomplete": 0}  # fmt: skip
    assert cov["servers"] == {
        "keys_missing": [{"host": "telemetry.phonehome.test", "connections": 2}]
    }
    assert cov["key_log"]["sources"] == ["file"] and cov["key_log"]["client_randoms"] == 1
    from phonehome.report.document import coverage_sentence

    assert coverage_sentence(cov) == (
        "decrypted 0 of 2 TLS connections and 1 of 1 QUIC connections; keys missing for 2 "
        "(top servers: telemetry.phonehome.test 2)"
    )


def test_coverage_without_a_key_log_says_so(profile: Path) -> None:
    res = CliRunner().invoke(main, ["scan", "--no-store", str(DATA / "tls13-aes128gcm-h2.pcap")])
    assert res.exit_code == 0, res.output
    assert ("Decryption: decrypted 0 of 1 TLS connections and 0 of 0 QUIC connections; keys "
            "missing for 1 (top servers: telemetry.phonehome.test 1); no key log was given"
            ) in res.stdout  # fmt: skip


def test_flows_shows_decrypted_requests_like_http1_ones() -> None:
    res = CliRunner().invoke(
        main,
        [
            "flows",
            str(DATA / "tls13-aes128gcm-http11.pcap"),
            "--keylog",
            str(DATA / "tls13-aes128gcm-http11.keys"),
        ],
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert re.search(r"HTTP POST https://telemetry\.phonehome\.test:\d+/v1/checkin  \(61 bytes\) "
                     r"\[decrypted TLS 1\.3\]$", lines[1])  # fmt: skip
    res = CliRunner().invoke(main, ["flows", str(DATA / "h3-aes128gcm.dsb.pcapng"), "--format",
                                    "jsonl"])  # fmt: skip
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    post = next(r for r in rows if r.get("method") == "POST")
    assert post["protocol"] == "http3" and post["readability"] == "decrypted"
    assert post["decrypted"] == {"via": "QUIC v1", "suite": "TLS_AES_128_GCM_SHA256",
                                 "keys": "dsb", "alpn": "h3"}  # fmt: skip
    assert post["uri"] == "/v1/checkin" and post["http_host"].startswith("telemetry")


# -- the pipeline's own messages against tshark ----------------------------------------


@needs(tools=["tshark"])
@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("tls*-http11.pcap")))
def test_pipeline_http11_agrees_with_tshark(name: str) -> None:
    capture = DATA / f"{name}.pcap"
    messages, _ = run(capture, [capture.with_suffix(".keys")])
    theirs = wireshark_fields(capture, "http.request", ["frame.number", "http.request.method",
                                                        "http.request.uri", "http.request.line",
                                                        "http.file_data"])  # fmt: skip
    requests = [m for m in messages if isinstance(m.content, HttpRequest)]
    assert len(requests) == len(theirs) > 0
    for m, (frame, method, uri, lines, body) in zip(requests, theirs, strict=True):
        request = m.content
        assert isinstance(request, HttpRequest)
        assert (m.frame, request.method, request.target) == (int(frame), method, uri)
        assert [f"{k}: {v}" for k, v in request.headers] == [
            x.removesuffix("\\r\\n") for x in lines.split(AGG)
        ]
        assert request.body.decode() == body
    responses = [m.content for m in messages if isinstance(m.content, HttpResponse)]
    theirs = wireshark_fields(capture, "http.response", ["http.response.code", "http.file_data"])
    assert [(r.status, r.body.decode()) for r in responses] == [(int(c), b) for c, b in theirs]


@needs(tools=["tshark"])
@pytest.mark.parametrize("name", ["tls13-aes128gcm-h2", "tls12-ecdhe-aes128gcm-h2", *CLEAR])
def test_pipeline_http2_agrees_with_tshark(name: str) -> None:
    capture = DATA / f"{name}.pcap"
    keys = capture.with_suffix(".keys")
    messages, _ = run(capture, [keys] if keys.exists() else [])
    headers, data = h2_fields(capture)
    client, server = first_port(capture)
    for port, out in ((client, True), (server, False)):
        mine = [m.content for m in messages if m.protocol == "http2"
                and (m.src == m.flow.client) == out]  # fmt: skip
        assert [h for c in mine for h in c.headers] == headers[port]  # type: ignore[attr-defined]
        bodies = [body for (p, _), body in sorted(data.items(), key=lambda kv: int(kv[0][1]))
                  if p == port]  # fmt: skip
        assert [c.body for c in mine if c.body] == bodies  # type: ignore[attr-defined]
