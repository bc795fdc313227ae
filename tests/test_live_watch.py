"""``phonehome watch`` end to end: real processes, real sockets on loopback (ports chosen
by the system), captures from the simulator replayed as PCAPdroid sends them.

Every test checks the same three things a user relies on: the alerts (which identifier,
to which host, from which app), that no raw value was printed, and that the store holds
the watch as a scan — the same findings ``phonehome scan`` finds in the same traffic.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.replay import datagrams, replay
from phonehome import simulate
from phonehome.detect.profile import load_profile
from tests.live_helpers import Watcher, phonehome
from tests.needs import missing, need_module, need_tool, needs

ZZHC_KINDS = {"imei", "imsi", "iccid", "mac", "cell_id"}


@pytest.fixture(scope="module")
def nokia(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated Nokia day in PCAPdroid's trailer format (every packet with its uid)."""
    path = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", path, seed=1, pcapdroid=True)
    return path


def side(capture: Path, suffix: str) -> Path:
    return capture.with_suffix(suffix)


def raw_values(profile_file: Path) -> list[str]:
    profile, _ = load_profile(profile_file)
    return [v for values in profile.values.values() for v in values if len(v) >= 6]


def assert_redacted(text: str, profile_file: Path) -> None:
    for value in raw_values(profile_file):
        assert value.lower() not in text.lower(), f"raw value {value[:3]}… printed"


def stored(home: Path, db: Path, scan_id: int) -> dict[str, Any]:
    res = phonehome(home, "show", str(scan_id), "--db", str(db), "--format", "json")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def scanned(home: Path, capture: Path, *extra: str) -> dict[str, Any]:
    res = phonehome(
        home, "scan", str(capture), "--device", str(side(capture, ".device.toml")),
        "--no-store", "--format", "json", *extra,
    )  # fmt: skip
    assert res.returncode in (0, 1), res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def same_findings(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Same findings (identity, value id, count, times) whichever way they were read."""

    def key(f: dict[str, Any]) -> tuple[Any, ...]:
        app = f.get("app") or {}
        return (
            f["identifier"], f["value_id"], app.get("uid"), f["host"], f["port"], f["where"],
            tuple(f["encoding"]), f["count"], tuple(f["times"]), f["readability"],
        )  # fmt: skip

    assert sorted(map(key, a["findings"])) == sorted(map(key, b["findings"]))


# -- PCAPdroid's UDP exporter ------------------------------------------------------------


@pytest.mark.parametrize("with_header", [True, False], ids=["header", "late-listener"])
def test_udp_replay_of_the_nokia_day_alerts_with_the_app(
    nokia: Path, tmp_path: Path, with_header: bool
) -> None:
    db = tmp_path / "w.db"
    profile = side(nokia, ".device.toml")
    w = Watcher(
        ["--udp", "127.0.0.1:0", "--device", str(profile), "--events",
         str(side(nokia, ".events.csv")), "--db", str(db), "--format", "jsonl"],
        tmp_path / "home",
    )  # fmt: skip
    port = w.port()
    scan_id = w.scan_id()
    header, records = datagrams(nokia)
    # Garbage among the records: counted, skipped, and the watch goes on.
    garbage = [b"not a pcap record", b"\x00" * 3, b"\xff" * 100]
    mixed = records[:5] + garbage + records[5:]
    replay(header, mixed, ("127.0.0.1", port), send_header=with_header, rate=20_000)
    w.out.wait_for(r'"type":"alert"', count=7)
    w.out.wait_for(rf'"type":"status".*"packets":{len(records)},')
    assert w.stop() == 1  # findings
    alerts = w.alerts()
    to_zzhc = {a["finding"]["identifier"] for a in alerts if a["finding"]["host"] == "zzhc.vnet.cn"}
    assert to_zzhc >= ZZHC_KINDS
    for a in alerts:
        f = a["finding"]
        assert f["app"]["uid"] == 1000 and f["app"]["name"] == "AutoRegistration"
        assert f["readability"] == "cleartext"
        assert f["destination"]["entity"] == "China Telecom" and f["destination"]["country"] == "CN"
        assert a["trigger"].endswith("after unlock")  # the boot unlock, from --events
    assert len({(a["finding"]["identifier"], a["finding"]["value_id"]) for a in alerts}) == 7
    end = w.objects()[-1]
    assert end["type"] == "end" and end["alerts"] == 7 and end["sends"] == 70
    assert_redacted(w.out.text + w.err.text, profile)
    doc = stored(tmp_path / "home", db, scan_id)
    same_findings(doc, scanned(tmp_path / "home", nokia))
    assert doc["watch"]["status"] == "finished"
    assert doc["anomalies"].get("live.udp.bad_datagram") == len(garbage)
    history = json.loads(phonehome(tmp_path / "home", "history", "--db", str(db), "--format",
                                   "json").stdout)  # fmt: skip
    assert history["scans"][0]["status"] == "finished"


def test_text_alert_line_names_identifier_host_owner_app_and_trigger(
    nokia: Path, tmp_path: Path
) -> None:
    profile = side(nokia, ".device.toml")
    w = Watcher(
        ["--udp", "127.0.0.1:0", "--device", str(profile), "--events",
         str(side(nokia, ".events.csv")), "--no-store"],
        tmp_path / "home",
    )  # fmt: skip
    header, records = datagrams(nokia)
    replay(header, records, ("127.0.0.1", w.port()), rate=20_000)
    line = w.out.wait_for(r"^\d\d:\d\d:\d\dZ IMSI ").string
    assert "sent in CLEAR TEXT to zzhc.vnet.cn (China Telecom, CN" in line
    assert "by AutoRegistration (uid 1000)" in line and line.endswith("after unlock")
    w.out.wait_for(r"^\d\d:\d\d:\d\dZ ", count=7)
    assert w.stop() == 1
    assert "watch ended" in w.err.text
    # Not a terminal: no status line redrawn in place, no colour.
    assert "\r" not in w.err.text and "\x1b" not in w.out.text + w.err.text
    assert_redacted(w.out.text + w.err.text, profile)


def test_on_a_terminal_the_status_line_is_redrawn_and_alerts_are_coloured(
    nokia: Path, tmp_path: Path
) -> None:
    """stdout and stderr on one pseudo-terminal, as in a person's shell: the status line
    is redrawn in place (carriage return, erase to end of line) with the live counts, an
    alert first erases it and starts on a clean line, and readability is in colour."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import sys
    import termios
    import threading

    profile = side(nokia, ".device.toml")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "PHONEHOME_HOME": str(tmp_path / "home")}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phonehome", "watch", "--udp", "127.0.0.1:0", "--device",
         str(profile), "--no-store"],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    cond = threading.Condition()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the watch closed the terminal
                chunk = b""
            with cond:
                seen.extend(chunk)
                cond.notify_all()
            if not chunk:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(pattern: bytes) -> re.Match[bytes]:
        rx = re.compile(pattern)
        end = time.monotonic() + 120
        with cond:
            while (m := rx.search(seen)) is None:
                assert proc.poll() is None and time.monotonic() < end, bytes(seen)
                cond.wait(1.0)
            return m

    try:
        port = int(wait_for(rb"watching udp 127\.0\.0\.1:(\d+)").group(1))
        header, records = datagrams(nokia)
        replay(header, records, ("127.0.0.1", port), rate=20_000)
        wait_for(rb"\rudp 127\.0\.0\.1:%d \[receiving\] %d packets, \d+ flows, \d+ messages, "
                 rb"7 findings \(7 alerts, 70 sends\), 0 drops, 0 anomalies\x1b\[K"
                 % (port, len(records)))  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
        reader.join(timeout=120)
        os.close(master)
    assert rc == 1
    text = bytes(seen).decode("utf-8", "replace")
    alerts = re.findall(r"(.)(\d\d:\d\d:\d\dZ \x1b\[1m\w[^\r\n]*)", text, re.S)
    assert len(alerts) == 7
    for before, line in alerts:
        assert before == "\n" or text.count("\r\x1b[K" + line) == 1  # on a clean line
        assert "\x1b[31min CLEAR TEXT\x1b[0m to \x1b[1mzzhc.vnet.cn\x1b[0m (China Tel" in line
    assert text.count("\r\x1b[K") >= 1  # the status line was erased for an alert
    assert "phonehome: watch ended: udp" in text
    assert_redacted(text, profile)


def test_kill_9_leaves_the_last_save_whole(nokia: Path, tmp_path: Path) -> None:
    """What was saved before a SIGKILL is in the store, consistent, as the scan of the
    same traffic finds it."""
    db = tmp_path / "w.db"
    profile = side(nokia, ".device.toml")
    w = Watcher(
        ["--udp", "127.0.0.1:0", "--device", str(profile), "--db", str(db), "--format",
         "jsonl", "--save-every", "0.5"],
        tmp_path / "home",
    )  # fmt: skip
    port = w.port()
    scan_id = w.scan_id()
    header, records = datagrams(nokia)
    half = records[: len(records) // 2]
    replay(header, half, ("127.0.0.1", port), rate=20_000)
    w.out.wait_for(rf'"type":"status".*"packets":{len(half)},')
    # A save after everything was processed: the store's saved time moves past this point.
    first = _saved(db, scan_id)
    deadline = time.monotonic() + 120
    while _saved(db, scan_id) == first:  # the next periodic save (every 0.5 s)
        assert time.monotonic() < deadline, "the watch stopped saving"
        time.sleep(0.05)
    # During the watch: show and history read the running scan from the store.
    during = stored(tmp_path / "home", db, scan_id)
    assert during["watch"]["status"] == "running"
    history = phonehome(tmp_path / "home", "history", "--db", str(db)).stdout
    assert history.splitlines()[1].endswith("(watching)")
    w.stop(signal.SIGKILL)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    (status,) = conn.execute("SELECT status FROM scans WHERE id = ?", (scan_id,)).fetchone()
    conn.close()
    assert status == "running"  # killed: never marked finished
    part = tmp_path / "half.pcap"
    part.write_bytes(header + b"".join(half))
    side(part, ".device.toml").write_bytes(profile.read_bytes())
    doc = stored(tmp_path / "home", db, scan_id)
    expected = scanned(tmp_path / "home", part)
    assert expected["findings"]
    same_findings(doc, expected)
    same_findings(during, expected)


def _saved(db: Path, scan_id: int) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT saved FROM scans WHERE id = ?", (scan_id,)).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("option", "extra"),
    [("--udp", ()), ("--tcp-listen", ()), ("--proxy", ()), ("--proxy", ("--mode", "wireguard"))],
    ids=["udp", "tcp-listen", "proxy", "proxy-wireguard"],
)
def test_a_port_in_use_is_one_line_and_exit_2(
    option: str, extra: tuple[str, ...], tmp_path: Path
) -> None:
    if option == "--proxy":
        need_module("mitmproxy")
    udp = option == "--udp" or "wireguard" in extra
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as busy:
        busy.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            busy.listen(1)
        port = busy.getsockname()[1]
        res = phonehome(
            tmp_path / "home", "watch", option, f"127.0.0.1:{port}", *extra, "--no-store"
        )
    assert res.returncode == 2
    assert res.stderr == (
        f"phonehome: error: {option}: 127.0.0.1 port {port} is already in use by another program\n"
    )


def test_one_source_exactly(tmp_path: Path) -> None:
    res = phonehome(tmp_path / "home", "watch", "--udp", "0", "--tcp-listen", "0")
    assert res.returncode == 2 and res.stderr.startswith("phonehome: error: watch needs exactly")
    assert res.stderr.count("\n") == 1


# -- byte streams: standard input, TCP, PCAPdroid's HTTP server ---------------------------


def test_stdin_stream_finds_what_scan_finds(nokia: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    with open(nokia, "rb") as f:
        w = Watcher(
            ["-", "--device", str(side(nokia, ".device.toml")), "--db", str(db), "--format",
             "jsonl"],
            tmp_path / "home",
            stdin=f,
        )  # fmt: skip
        assert w.stop(signal.SIGCONT) == 1  # ends with its input
    assert len(w.alerts()) == 7
    same_findings(stored(tmp_path / "home", db, w.scan_id()), scanned(tmp_path / "home", nokia))


def _send_stream(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(data)


def test_tcp_listen_takes_one_exporter_after_another(nokia: Path, tmp_path: Path) -> None:
    w = Watcher(
        ["--tcp-listen", "127.0.0.1:0", "--device", str(side(nokia, ".device.toml")),
         "--no-store", "--format", "jsonl"],
        tmp_path / "home",
    )  # fmt: skip
    port = w.port()
    data = nokia.read_bytes()
    _send_stream(port, data)
    w.err.wait_for(r"connection closed; waiting for the exporter to reconnect")
    _send_stream(port, data)  # the exporter again: its own segment, nothing re-alerted
    w.err.wait_for(r"connection closed", count=2)
    assert w.stop() == 1
    assert len(w.alerts()) == 7
    assert w.objects()[-1]["sends"] == 140


def test_tcp_connect_retries_until_the_server_is_there(nokia: Path, tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]  # bound, not listening yet: connections are refused
    w = Watcher(
        ["--tcp-connect", f"127.0.0.1:{port}", "--device", str(side(nokia, ".device.toml")),
         "--no-store", "--format", "jsonl"],
        tmp_path / "home",
    )  # fmt: skip
    w.err.wait_for(r"cannot connect .*retrying in 1 s")
    w.err.wait_for(r"cannot connect .*retrying in 2 s")  # backoff
    server.listen(1)
    conn, _ = server.accept()
    with conn:
        conn.sendall(nokia.read_bytes())
    w.out.wait_for(r'"type":"alert"', count=7)
    w.err.wait_for(r"connection lost; reconnecting")
    server.close()
    assert w.stop() == 1


def test_http_server_mode_redirect_and_chunked_stream(nokia: Path, tmp_path: Path) -> None:
    """A server that answers as PCAPdroid's does: GET / -> 302 -> chunked capture."""
    import http.server
    import threading

    data = nokia.read_bytes()

    class Phone(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/":
                self.send_response(302)
                self.send_header("Location", "/PCAPdroid_06_Dec_10_00_00.pcap")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.tcpdump.pcap")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(0, len(data), 3000):  # chunks that cut records anywhere
                chunk = data[i : i + 3000]
                self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Phone)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        w = Watcher(
            ["--http", f"http://127.0.0.1:{httpd.server_address[1]}/", "--device",
             str(side(nokia, ".device.toml")), "--no-store", "--format", "jsonl"],
            tmp_path / "home",
        )  # fmt: skip
        w.out.wait_for(r'"type":"alert"', count=7)
        w.err.wait_for(r"capture stream ended; reconnecting in 1 s")
        assert w.stop() == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert {a["finding"]["app"]["uid"] for a in w.alerts()} == {1000}


# -- a local interface -----------------------------------------------------------------


def need_root(why: str) -> None:
    import os

    if os.geteuid() != 0:
        missing(f"{why} needs root (CI runs as root)")


@needs(tools=["dumpcap"])
def test_interface_lo_alerts_on_a_local_post(nokia: Path, tmp_path: Path) -> None:
    import http.server
    import threading
    import urllib.request

    need_root("capturing on lo")
    profile, _ = load_profile(side(nokia, ".device.toml"))
    imei = profile.values["imei"][0]

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        w = Watcher(
            ["--interface", "lo", "--bpf", f"tcp port {port}", "--device",
             str(side(nokia, ".device.toml")), "--no-store", "--format", "jsonl"],
            tmp_path / "home",
        )  # fmt: skip
        w.started()
        body = json.dumps({"imei": imei}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/register", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=30).close()
        alert = w.out.wait_for(r'"type":"alert"')
        assert w.stop() == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
    finding = json.loads(alert.string)["finding"]
    assert finding["identifier"] == "imei" and finding["where"] == "http.body:$.imei"
    assert imei not in w.out.text


@needs(tools=["setpriv", "dumpcap"])
def test_interface_without_permission_says_what_is_needed(tmp_path: Path) -> None:
    """Root without CAP_NET_RAW/CAP_NET_ADMIN cannot capture, and is told so in one line.

    The capabilities are dropped from the bounding set rather than switching to another
    user: an unprivileged user may not be able to read the interpreter's packages (CI
    installs them for root only), which would test the install, not the message.
    """
    import os
    import sys

    need_root("dropping capabilities")
    env = {**os.environ, "PHONEHOME_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    res = subprocess.run(
        ["setpriv", "--inh-caps=-net_raw,-net_admin", "--bounding-set=-net_raw,-net_admin",
         sys.executable, "-m", "phonehome", "watch", "--interface", "lo", "--no-store"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(
        "phonehome: error: --interface lo: capturing needs root or the CAP_NET_RAW capability"
    )
    assert res.stderr.count("\n") == 1


def test_a_capture_tool_that_closes_its_output_before_exiting_is_a_failed_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dumpcap refused by the kernel closes its output (end of file, readable) a moment
    before it exits; that is its error, not a started capture (a race CI lost under
    load: the watch ran, said "dumpcap stopped (exit 1)", and exited 0)."""
    from phonehome.errors import UsageError
    from phonehome.live.interface import NEEDS, InterfaceSource

    fake = tmp_path / "dumpcap"
    fake.write_text(
        "#!/bin/sh\nexec 1>&-\nsleep 0.5\n"
        "echo 'dumpcap: cap_set_proc() fail return: Operation not permitted' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    source = InterfaceSource("lo")
    with pytest.raises(UsageError) as raised:
        source.open()
    assert str(raised.value).startswith(f"--interface lo: {NEEDS} (dumpcap: ")


def test_a_capture_tool_that_dies_during_the_watch_ends_it_with_an_error(
    tmp_path: Path,
) -> None:
    """The capture started (a pcapng header came), then the tool stopped on its own (the
    interface went away): the watch must not end as if all was well (it said "dumpcap
    stopped (exit 2)" and exited 0); it saves, then exits 2 with the tool's message."""
    import os
    import struct
    import sys

    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20)
    fake = tmp_path / "dumpcap"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"sys.stdout.buffer.write({shb + idb!r}); sys.stdout.flush()\n"
        "time.sleep(1.0)\n"
        "sys.stderr.write('Capturing on \\'lo\\'\\n')\n"
        "sys.stderr.write('dumpcap: The network adapter is no longer attached.\\n')\n"
        "sys.exit(2)\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PHONEHOME_HOME": str(tmp_path / "home")}
    env["PATH"] = f"{tmp_path}:{env.get('PATH', '/usr/bin:/bin')}"
    res = subprocess.run(
        [sys.executable, "-m", "phonehome", "watch", "--interface", "lo"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines()[-1] == (
        "phonehome: error: --interface lo: dumpcap stopped (exit 2): "
        "dumpcap: The network adapter is no longer attached."
    )
    # saved before the error: the watch is in the store, finished
    history = subprocess.run(
        [sys.executable, "-m", "phonehome", "history"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert history.returncode == 0 and "interface lo" in history.stdout, history.stdout


# -- mitmproxy ----------------------------------------------------------------------------


def _tls_server(tmp_path: Path) -> tuple[Any, int, Path, list[bytes]]:
    """A local HTTPS server with its own CA; records each request line and body."""
    import datetime
    import http.server
    import ipaddress
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "server.pem"
    key_file = tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[bytes] = []

    class App(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1], cert_file, seen


@needs(tools=["curl"], modules=["mitmproxy"])
def test_proxy_alerts_on_plain_http_and_https_with_the_advertising_id(
    nokia: Path, tmp_path: Path
) -> None:
    curl = need_tool("curl")
    import http.server
    import threading

    profile_file = side(nokia, ".device.toml")
    profile, _ = load_profile(profile_file)
    ad_id = profile.values["ad_id"][0]
    android_id = profile.values["android_id"][0]

    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    tls, tls_port, server_ca, seen = _tls_server(tmp_path)
    confdir = tmp_path / "mitmproxy"
    db = tmp_path / "w.db"
    try:
        w = Watcher(
            ["--proxy", "127.0.0.1:0", "--confdir", str(confdir), "--upstream-ca",
             str(server_ca), "--device", str(profile_file), "--db", str(db), "--format",
             "jsonl"],
            tmp_path / "home",
        )  # fmt: skip
        proxy = int(w.err.wait_for(r"proxy listening on 127\.0\.0\.1:(\d+)").group(1))
        scan_id = w.scan_id()
        via = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{proxy}"]
        res = subprocess.run(
            [curl, *via, f"http://127.0.0.1:{plain.server_address[1]}/ping?aid={android_id}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.stdout == "204", res.stderr
        w.out.wait_for(r'"identifier":"android_id"')
        res = subprocess.run(
            [curl, *via, "--cacert", str(confdir / "mitmproxy-ca-cert.pem"),
             "-H", "Content-Type: application/json", "--data", json.dumps({"adid": ad_id}),
             f"https://localhost:{tls_port}/v1/ads"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.stdout == "200", res.stderr
        w.out.wait_for(r'"identifier":"ad_id"')
        assert w.stop() == 1
    finally:
        plain.shutdown()
        tls.shutdown()
    assert seen == [json.dumps({"adid": ad_id}).encode()]  # the request did go through
    by_id = {a["finding"]["identifier"]: a["finding"] for a in w.alerts()}
    assert by_id["ad_id"]["host"] == "localhost" and by_id["ad_id"]["where"] == "http.body:$.adid"
    assert by_id["ad_id"]["readability"] == "decrypted"
    assert by_id["android_id"]["ips"] == ["127.0.0.1"]
    assert_redacted(w.out.text + w.err.text, profile_file)
    doc = stored(tmp_path / "home", db, scan_id)
    assert {f["identifier"] for f in doc["findings"]} == {"ad_id", "android_id"}
    assert doc["inputs"][0]["format"] == "mitmproxy"


@needs(modules=["mitmproxy"])
def test_proxy_wireguard_mode_listens_on_udp_and_keeps_its_keys_private(tmp_path: Path) -> None:
    """No WireGuard client here (it needs a kernel module or a userspace tunnel): the mode
    starts, its UDP port is taken, and the keys mitmproxy generates are in no output, not
    in the store, and not readable by other users."""
    confdir = tmp_path / "mitmproxy"
    db = tmp_path / "w.db"
    w = Watcher(
        ["--proxy", "127.0.0.1:0", "--mode", "wireguard", "--confdir", str(confdir), "--db",
         str(db), "--format", "jsonl"],
        tmp_path / "home",
    )  # fmt: skip
    port = int(w.err.wait_for(r"wireguard proxy listening on udp 127\.0\.0\.1:(\d+)").group(1))
    scan_id = w.scan_id()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
        probe.bind(("127.0.0.1", port))
    assert w.stop() == 0
    conf = confdir / "wireguard.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    keys = [v for v in json.loads(conf.read_text()).values() if isinstance(v, str)]
    assert len(keys) == 2 and all(len(k) == 44 for k in keys)  # Base64 of 32-byte keys
    stored_bytes = db.read_bytes()
    for key in keys:
        assert key not in w.out.text + w.err.text
        assert key.encode() not in stored_bytes
    doc = stored(tmp_path / "home", db, scan_id)
    assert doc["watch"]["status"] == "finished" and doc["watch"]["source"].endswith(f":{port}")


@needs(tools=["curl"], modules=["mitmproxy"])
def test_mitmdump_loads_the_addon_and_alerts(nokia: Path, tmp_path: Path) -> None:
    import http.server
    import os
    import sys
    import threading

    from tests.live_helpers import Lines

    curl = need_tool("curl")
    # mitmproxy's pip package puts mitmdump beside this Python.
    mitmdump = Path(sys.executable).parent / "mitmdump"
    assert mitmdump.is_file(), "mitmproxy is installed but its mitmdump is not beside python"
    addon = phonehome(tmp_path / "home", "watch", "--print-addon-path").stdout.strip()
    assert Path(addon).is_file() and addon.endswith("mitm_addon.py")
    profile_file = side(nokia, ".device.toml")
    profile, _ = load_profile(profile_file)
    ad_id = profile.values["ad_id"][0]

    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    env = {**os.environ, "PHONEHOME_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [str(mitmdump), "-q", "--listen-host", "127.0.0.1", "-p", "0", "--set",
         f"confdir={tmp_path / 'mitmproxy'}", "-s", addon, "--set",
         f"phonehome_device={profile_file}", "--set", "phonehome_format=jsonl", "--set",
         "phonehome_no_store=true"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        # -p 0: the system chose the port; the addon says which (mitmdump -q does not).
        port = int(err.wait_for(r"proxy listening on 127\.0\.0\.1:(\d+)").group(1))
        res = subprocess.run(
            [curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{port}",
             f"http://127.0.0.1:{plain.server_address[1]}/?idfa={ad_id}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert res.stdout == "204"
        alert = json.loads(out.wait_for(r'"type":"alert"').string)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        plain.shutdown()
    assert alert["finding"]["identifier"] == "ad_id"
    assert alert["finding"]["where"] == "http.query:idfa"
    assert ad_id not in out.text + err.text


# -- the store ---------------------------------------------------------------------------


def test_store_update_touch_and_state(tmp_path: Path) -> None:
    from phonehome.store import Store

    doc = {"schema": "phonehome.scan/1", "findings": [], "inputs": [{"path": "udp 1"}]}
    with Store.open(tmp_path / "s.db") as store:
        scan_id = store.save_scan(doc, status="running")
        (row,) = store.scans()
        assert row.status == "running" and row.state == "running"
        finding = {"identifier": "imei", "value_id": "h1:x", "host": "h", "readability":
                   "cleartext", "count": 3}  # fmt: skip
        assert store.update_scan(scan_id, {**doc, "findings": [finding]}, status="finished")
        (row,) = store.scans()
        assert (row.findings, row.cleartext, row.state) == (1, 1, "finished")
        assert store.touch_scan(scan_id)
        assert not store.update_scan(scan_id + 1, doc, status="running")
        assert not store.touch_scan(scan_id + 1)
        with pytest.raises(Exception, match="unknown scan status"):
            store.save_scan(doc, status="paused")
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE scans SET status = 'running', saved = '2026-01-01T00:00:00.000Z'")
    conn.commit()
    conn.close()
    with Store.open(tmp_path / "s.db") as store:
        assert store.scans()[0].state == "interrupted"  # killed: no save for long


def test_history_marks_running_and_interrupted_watches(tmp_path: Path) -> None:
    from phonehome.store import Store

    doc = {"schema": "phonehome.scan/1", "findings": [], "inputs": [{"path": "udp 1"}]}
    db = tmp_path / "s.db"
    with Store.open(db) as store:
        store.save_scan(doc, status="running")
        store.save_scan(doc, status="running")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE scans SET saved = '2026-01-01T00:00:00.000Z' WHERE id = 1")
    conn.commit()
    conn.close()
    text = phonehome(tmp_path / "home", "history", "--db", str(db)).stdout
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert lines["1"].endswith("(watch interrupted)")
    assert lines["2"].endswith("(watching)")
