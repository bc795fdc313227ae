#!/usr/bin/env python3
"""Make the TLS/QUIC test captures in tests/data/tls/ with real TLS stacks on loopback.

Each case starts a real server (Python's ``ssl`` = OpenSSL, ``nghttpd`` = nghttp2 +
OpenSSL, or an aioquic HTTP/3 server), captures loopback with ``tcpdump -i lo`` while a
real client (curl with ``SSLKEYLOGFILE``, or an aioquic client with its secrets log) posts
the simulated Nokia 7 Plus's IMEI in a JSON body and its advertising ID in a header, and
writes ``NAME.pcap`` + ``NAME.keys``, then ``NAME.dsb.pcapng`` with the keys embedded by
``editcap --inject-secrets``. What is sent is the same on every run (the profile comes
from ``phonehome simulate nokia7plus``); keys, randoms and ports differ, so the files do.

Needs root (tcpdump), curl, openssl, nghttpd, editcap and the ``test`` extra (aioquic).
Ports are chosen by the OS. Usage::

    sudo python tools/make_tls_captures.py                 # all cases into tests/data/tls
    sudo python tools/make_tls_captures.py --only h2 --out /tmp/x
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "telemetry.phonehome.test"
"""The name clients ask for (SNI, Host, :authority); curl resolves it to 127.0.0.1."""
PATHS = ("/v1/checkin", "/v1/register")
"""Two requests per connection: the second one's repeated headers are HPACK dynamic-table
references."""
PATHS_H3 = (*PATHS, "/v1/heartbeat")
"""aioquic's QPACK encoder (lsqpack) inserts a field it has seen before the peer's SETTINGS
allowed a table only at its next use, and refers to it from the use after: three requests
make the third refer to client-inserted entries."""
OP_NO_ENCRYPT_THEN_MAC = 1 << 19
"""OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (Python's ssl module has no name for it)."""

REPO = Path(__file__).resolve().parent.parent


# -- what is sent ----------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    imei: str
    ad_id: str
    android_id: str

    def body(self) -> bytes:
        doc = {"imei": self.imei, "event": "unlock", "model": "TA-1046"}
        return json.dumps(doc, separators=(",", ":")).encode()

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-ad-id", self.ad_id),
            ("x-client", "phonehome-capture/1.0"),
            ("user-agent", "okhttp/4.12.0"),
        ]


def load_payload(work: Path) -> Payload:
    """The simulated Nokia 7 Plus profile (the same values on every run)."""
    out = work / "nokia.pcap"
    subprocess.run(
        [sys.executable, "-m", "phonehome", "simulate", "nokia7plus", "-o", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(work / "nokia.device.toml", "rb") as f:
        profile = tomllib.load(f)
    return Payload(profile["imei"][0], profile["ad_id"], profile["android_id"])


# -- capture plumbing ------------------------------------------------------------------


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the OS picks (for servers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tcpdump:
    """``tcpdump -i lo`` on one port, started and ready before the client runs."""

    def __init__(self, out: Path, port: int, udp: bool = False) -> None:
        proto = "udp" if udp else "tcp"
        self.proc = subprocess.Popen(
            [
                "tcpdump",
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-w",
                str(out),
                f"{proto} port {port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        if "listening" not in line:
            self.proc.kill()
            raise RuntimeError(f"tcpdump did not start: {line.strip()}")

    def stop(self) -> None:
        time.sleep(1.0)  # the last packets and FIN/ACKs
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)


def inject(pcap: Path, keys: Path, out: Path) -> None:
    subprocess.run(["editcap", "--inject-secrets", f"tls,{keys}", str(pcap), str(out)], check=True)


def make_cert(work: Path) -> tuple[Path, Path]:
    """A small self-signed P-256 certificate for HOST (ECDSA keeps the captures small)."""
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
            "-days", "3650", "-keyout", str(key), "-out", str(cert),
        ],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return cert, key


# -- HTTP/1.1 over Python's ssl (OpenSSL) ------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(size)
        reply = json.dumps({"ok": True, "received": len(body)}).encode()
        packed = gzip.compress(reply, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(packed)))
        self.end_headers()
        self.wfile.write(packed)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def shutdown_request(self, request: object) -> None:
        """Close with a TLS close_notify: OpenSSL drops a session from its cache when the
        connection ends without one, and then nothing can resume it by session ID."""
        with contextlib.suppress(OSError, ValueError):
            request.unwrap()  # type: ignore[attr-defined]
        super().shutdown_request(request)  # type: ignore[arg-type]


def https_server(cert: Path, key: Path, options: int = 0) -> ThreadingHTTPServer:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.options |= options
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def curl(port: int, keys: Path, payload: Payload, args: list[str], scheme: str = "https") -> None:
    """Both requests in one curl run, so the second reuses the connection (``--next``
    makes curl 7.88 drop a prior-knowledge h2c connection)."""
    cmd = ["curl", "-sS", "-k", "--resolve", f"{HOST}:{port}:127.0.0.1"]
    for name, value in payload.headers():
        cmd += ["-H", f"{name}: {value}"]
    cmd += ["-H", "content-type: application/json", *args]
    cmd += ["--data-binary", payload.body().decode()]
    for path in PATHS:
        cmd += ["-o", "/dev/null", f"{scheme}://{HOST}:{port}{path}"]
    env = dict(os.environ, SSLKEYLOGFILE=str(keys))
    subprocess.run(cmd, check=True, env=env, timeout=30)


def http11_request(payload: Payload, path: str, port: int, close: bool = False) -> bytes:
    body = payload.body()
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += ["Connection: close"] if close else []
    lines += [f"{k}: {v}" for k, v in payload.headers()]
    lines += ["content-type: application/json", f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def case_openssl(out: Path, name: str, work: Path, payload: Payload, mode: str) -> None:
    """``openssl s_server`` and ``s_client``. ``early``: a first connection saves the
    session, the second resumes it and sends the request as 0-RTT early data. ``hrr``: the
    server only accepts P-256 while the client's key share is X25519, so the server sends
    a HelloRetryRequest. ``keyupdate``: between two requests s_client's ``K`` command
    sends a KeyUpdate that asks the server to update too. ``reneg``: TLS 1.2, and ``R``
    renegotiates between the requests."""
    early_data = mode == "early"
    cert, key = make_cert(work)
    port = free_port()
    keys = out / f"{name}.keys"
    keys.unlink(missing_ok=True)
    server_cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
                  "-key", str(key)]  # fmt: skip
    server_cmd += {
        "early": ["-early_data"],
        "hrr": ["-groups", "P-256", "-www"],
        "reneg": ["-tls1_2", "-client_renegotiation", "-www"],
    }.get(mode, ["-www"])
    server = subprocess.Popen(server_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_port(port)
        dump = Tcpdump(out / f"{name}.pcap", port)
        try:
            client = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                      HOST, "-keylogfile", str(keys)]  # fmt: skip
            request = http11_request(payload, PATHS[0], port)
            if early_data:
                session, early = work / "session.pem", work / "early.txt"
                early.write_bytes(http11_request(payload, PATHS[1], port))
                _s_client([*client, "-sess_out", str(session)], [request])
                _s_client([*client, "-sess_in", str(session), "-early_data", str(early)], [])
            elif mode == "hrr":
                _s_client([*client, "-groups", "X25519:P-256"], [request])
            else:
                # s_client takes "K"/"R" as a command only when it is all one read gives it.
                second = http11_request(payload, PATHS[1], port)
                command = b"R\n" if mode == "reneg" else b"K\n"
                _s_client(client, [request, command, second])
        finally:
            dump.stop()
    finally:
        server.terminate()
        server.wait(10)


def _s_client(cmd: list[str], parts: list[bytes]) -> None:
    """Runs s_client, writing each part to its standard input after a pause, and keeping
    it open long enough for the answer."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    assert proc.stdin is not None
    for part in parts:
        time.sleep(0.3)
        proc.stdin.write(part)
        proc.stdin.flush()
    time.sleep(0.5)
    proc.stdin.close()
    proc.wait(10)


def python_client(port: int, keys: Path, payload: Payload, ciphers: str) -> None:
    """Each request on its own TLS 1.2 connection, the second resuming the first's session
    with the ticket it got (curl turns TLS 1.2 tickets off: SSL_OP_NO_TICKET)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    ctx.keylog_filename = str(keys)
    session = None
    for path in PATHS:
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            ctx.wrap_socket(raw, server_hostname=HOST, session=session) as tls,
        ):
            tls.sendall(http11_request(payload, path, port, close=True))
            while tls.recv(65536):
                pass
            session = tls.session


def case_https(
    out: Path, name: str, work: Path, payload: Payload, curl_args: list[str], options: int = 0
) -> None:
    cert, key = make_cert(work)
    server = https_server(cert, key, options)
    port = server.server_address[1]
    keys = out / f"{name}.keys"
    keys.unlink(missing_ok=True)
    dump = Tcpdump(out / f"{name}.pcap", port)
    try:
        if curl_args[0] == "python":
            python_client(port, keys, payload, curl_args[1])
        else:
            curl(port, keys, payload, curl_args)
    finally:
        dump.stop()
        server.shutdown()


# -- HTTP/2 with nghttpd ---------------------------------------------------------------


def case_nghttpd(out: Path, name: str, work: Path, payload: Payload, curl_args: list[str]) -> None:
    cert, key = make_cert(work)
    htdocs = work / "htdocs"
    (htdocs / "v1").mkdir(parents=True, exist_ok=True)
    for path in PATHS:
        (htdocs / path.lstrip("/")).write_text('{"ok":true}\n')
    port = free_port()
    cmd = ["nghttpd", "--echo-upload", "-d", str(htdocs), str(port), str(key), str(cert)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        keys = out / f"{name}.keys"
        keys.unlink(missing_ok=True)
        dump = Tcpdump(out / f"{name}.pcap", port)
        try:
            curl(port, keys, payload, curl_args)
        finally:
            dump.stop()
    finally:
        server.terminate()
        server.wait(10)


def case_h2c(out: Path, name: str, work: Path, payload: Payload, curl_args: list[str]) -> None:
    """Cleartext HTTP/2 to a small server on the ``h2`` library (nghttpd has no Upgrade:
    h2c), which answers with a gzip-encoded JSON body. With prior knowledge the client is
    nghttp2's ``nghttp`` (curl 7.88 fails its second request on a reused connection)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    thread = threading.Thread(target=_h2c_serve, args=(sock,), daemon=True)
    thread.start()
    dump = Tcpdump(out / f"{name}.pcap", port)
    try:
        if curl_args:
            curl(port, out / f"{name}.keys", payload, curl_args, "http")
        else:
            nghttp(port, payload, work)
    finally:
        dump.stop()
        sock.close()


def nghttp(port: int, payload: Payload, work: Path) -> None:
    body = work / "body.json"
    body.write_bytes(payload.body())
    cmd = ["nghttp", "-d", str(body), "-H", f":authority: {HOST}:{port}"]
    for name, value in [*payload.headers(), ("content-type", "application/json")]:
        cmd += ["-H", f"{name}: {value}"]
    cmd += [f"http://127.0.0.1:{port}{path}" for path in PATHS]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=30)


def _h2c_serve(sock: socket.socket) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            _h2c_connection(conn)


def _h2c_connection(conn: socket.socket) -> None:
    import h2.config
    import h2.connection
    import h2.events

    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    data = conn.recv(65536)
    bodies: dict[int, bytes] = {}
    if data.startswith(b"PRI * HTTP/2.0"):
        h2conn.initiate_connection()
        events = h2conn.receive_data(data)
    else:
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
        fields = {k.lower(): v for k, v in fields.items()}
        while len(body) < int(fields.get(b"content-length", b"0")):
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: h2c\r\n\r\n")  # fmt: skip
        h2conn.initiate_upgrade_connection(fields[b"http2-settings"])
        _h2c_answer(h2conn, 1, len(body))
        events = []
    while True:
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                h2conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                _h2c_answer(h2conn, ev.stream_id, len(bodies.pop(ev.stream_id, b"")))
        conn.sendall(h2conn.data_to_send())
        data = conn.recv(65536)
        if not data:
            return
        events = h2conn.receive_data(data)


def _h2c_answer(h2conn: object, stream_id: int, received: int) -> None:
    reply = gzip.compress(json.dumps({"ok": True, "received": received}).encode(), mtime=0)
    h2conn.send_headers(stream_id, [  # type: ignore[attr-defined]
        (":status", "200"), ("content-type", "application/json"),
        ("content-encoding", "gzip"), ("content-length", str(len(reply))),
    ])  # fmt: skip
    h2conn.send_data(stream_id, reply, end_stream=True)  # type: ignore[attr-defined]


def _wait_port(port: int) -> None:
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# -- HTTP/3 with aioquic -----------------------------------------------------------------


def case_h3(
    out: Path,
    name: str,
    work: Path,
    payload: Payload,
    suite: str,
    version: int = 1,
    key_update: bool = False,
) -> None:
    asyncio.run(_h3(out, name, work, payload, suite, version, key_update))


async def _h3(
    out: Path, name: str, work: Path, payload: Payload, suite: str, version: int,
    key_update: bool,
) -> None:  # fmt: skip
    from aioquic.asyncio import connect, serve
    from aioquic.h3.connection import H3_ALPN

    H3Server, H3Client = _h3_peers()
    cert, key = make_cert(work)
    server_conf, client_conf = _quic_configs(cert, key, suite, version)
    server = await serve("127.0.0.1", 0, configuration=server_conf, create_protocol=H3Server)
    port = server._transport.get_extra_info("sockname")[1]
    keys = out / f"{name}.keys"
    dump = Tcpdump(out / f"{name}.pcap", port, udp=True)
    try:
        with open(keys, "w") as log:
            client_conf.secrets_log_file = log
            client_conf.alpn_protocols = H3_ALPN
            async with connect(
                "127.0.0.1", port, configuration=client_conf, create_protocol=H3Client
            ) as client:
                for i, path in enumerate(PATHS_H3):
                    if key_update and i == 1:
                        client.update_keys()
                    await client.post(
                        f"https://{HOST}:{port}{path}",
                        payload.body(),
                        [*payload.headers(), ("content-type", "application/json")],
                    )
                client.close()
                await client.wait_closed()
    finally:
        dump.stop()
        server.close()


def _h3_peers() -> tuple[type, type]:
    """An HTTP/3 server that answers each POST with a small JSON document, and a client
    that posts and waits for the answer; both on aioquic's own H3Connection."""
    from urllib.parse import urlsplit

    from aioquic.asyncio import QuicConnectionProtocol
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.events import QuicEvent

    class Server(QuicConnectionProtocol):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._http = H3Connection(self._quic)
            self._bodies: dict[int, bytes] = {}

        def quic_event_received(self, event: QuicEvent) -> None:
            for ev in self._http.handle_event(event):
                if isinstance(ev, HeadersReceived):
                    self._bodies[ev.stream_id] = b""
                elif isinstance(ev, DataReceived):
                    self._bodies[ev.stream_id] = self._bodies.get(ev.stream_id, b"") + ev.data
                if isinstance(ev, HeadersReceived | DataReceived) and ev.stream_ended:
                    self._answer(ev.stream_id)

        def _answer(self, stream_id: int) -> None:
            received = len(self._bodies.pop(stream_id, b""))
            reply = json.dumps({"ok": True, "received": received}).encode()
            self._http.send_headers(stream_id, [
                (b":status", b"200"), (b"content-type", b"application/json"),
                (b"content-length", str(len(reply)).encode()), (b"server", b"aioquic"),
            ])  # fmt: skip
            self._http.send_data(stream_id, reply, end_stream=True)
            self.transmit()

    class Client(QuicConnectionProtocol):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._http = H3Connection(self._quic)
            self._waiting: dict[int, asyncio.Future[None]] = {}

        async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> None:
            parts = urlsplit(url)
            stream_id = self._quic.get_next_available_stream_id()
            self._http.send_headers(stream_id, [
                (b":method", b"POST"), (b":scheme", b"https"),
                (b":authority", parts.netloc.encode()), (b":path", parts.path.encode()),
                *[(k.encode(), v.encode()) for k, v in headers],
                (b"content-length", str(len(body)).encode()),
            ])  # fmt: skip
            self._http.send_data(stream_id, body, end_stream=True)
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting[stream_id] = done
            self.transmit()
            await asyncio.wait_for(done, 10)

        def update_keys(self) -> None:
            self._quic.request_key_update()
            self.transmit()

        def quic_event_received(self, event: QuicEvent) -> None:
            for ev in self._http.handle_event(event):
                if isinstance(ev, HeadersReceived | DataReceived) and ev.stream_ended:
                    done = self._waiting.pop(ev.stream_id, None)
                    if done is not None and not done.done():
                        done.set_result(None)

    return Server, Client


def _quic_configs(cert: Path, key: Path, suite: str, version: int) -> tuple[object, object]:
    from aioquic.h3.connection import H3_ALPN
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.packet import QuicProtocolVersion
    from aioquic.tls import CipherSuite

    suites = [getattr(CipherSuite, suite)]
    versions = [QuicProtocolVersion.VERSION_2 if version == 2 else QuicProtocolVersion.VERSION_1]
    server = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN, cipher_suites=suites,
                               supported_versions=versions)  # fmt: skip
    server.load_cert_chain(cert, key)
    client = QuicConfiguration(is_client=True, server_name=HOST, verify_mode=ssl.CERT_NONE,
                               cipher_suites=suites, supported_versions=versions)  # fmt: skip
    return server, client


# -- the cases -------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    what: str
    run: Callable[[Path, str, Path, Payload], None]
    extra: dict[str, object] = field(default_factory=dict)


TLS13 = ["--tlsv1.3", "--http1.1"]
TLS12 = ["--tlsv1.2", "--tls-max", "1.2", "--http1.1"]


def _https(args: list[str], options: int = 0) -> Callable[[Path, str, Path, Payload], None]:
    return lambda out, name, work, p: case_https(out, name, work, p, args, options)


def _h2(args: list[str]) -> Callable[[Path, str, Path, Payload], None]:
    return lambda out, name, work, p: case_nghttpd(out, name, work, p, args)


def _h2c(args: list[str]) -> Callable[[Path, str, Path, Payload], None]:
    return lambda out, name, work, p: case_h2c(out, name, work, p, args)


def _h3c(suite: str, version: int = 1, key_update: bool = False) -> Callable[..., None]:
    return lambda out, name, work, p: case_h3(out, name, work, p, suite, version, key_update)


CASES = [
    Case("tls13-aes128gcm-http11", "TLS 1.3 TLS_AES_128_GCM_SHA256, HTTP/1.1, gzip response",
         _https([*TLS13, "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"])),
    Case("tls13-aes256gcm-http11", "TLS 1.3 TLS_AES_256_GCM_SHA384 (SHA-384 key schedule)",
         _https([*TLS13, "--tls13-ciphers", "TLS_AES_256_GCM_SHA384"])),
    Case("tls13-chacha20-http11", "TLS 1.3 TLS_CHACHA20_POLY1305_SHA256",
         _https([*TLS13, "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"])),
    Case("tls13-resumed-http11", "TLS 1.3, two connections (Connection: close), the second "
         "resumed with a session ticket (PSK)",
         _https([*TLS13, "--tls13-ciphers", "TLS_AES_128_GCM_SHA256", "-H",
                 "Connection: close"])),
    Case("tls13-hrr-http11", "TLS 1.3 with a HelloRetryRequest (openssl s_client offers an "
         "X25519 key share, s_server takes only P-256)",
         lambda out, name, work, p: case_openssl(out, name, work, p, "hrr")),
    Case("tls13-early-data-http11", "TLS 1.3 0-RTT: openssl s_client resumes a session and "
         "sends the second POST as early data (CLIENT_EARLY_TRAFFIC_SECRET)",
         lambda out, name, work, p: case_openssl(out, name, work, p, "early")),
    Case("tls13-keyupdate-http11", "TLS 1.3 KeyUpdate: openssl s_client sends a POST, a "
         "KeyUpdate (update_requested, so s_server updates too), and another POST",
         lambda out, name, work, p: case_openssl(out, name, work, p, "keyupdate")),
    Case("tls12-renegotiation-http11", "TLS 1.2: openssl s_client sends a POST, renegotiates "
         "(R: a new handshake inside the encrypted one, new randoms and keys), then a POST",
         lambda out, name, work, p: case_openssl(out, name, work, p, "reneg")),
    Case("tls12-ecdhe-aes128gcm-http11", "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"])),
    Case("tls12-ecdhe-aes256gcm-http11", "TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384 (SHA-384 PRF)",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"])),
    Case("tls12-ecdhe-chacha20-http11", "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"])),
    Case("tls12-cbc-sha-etm-http11", "TLS 1.2 ECDHE-ECDSA-AES128-SHA, encrypt-then-MAC",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-AES128-SHA"])),
    Case("tls12-cbc-sha384-mte-http11", "TLS 1.2 ECDHE-ECDSA-AES256-SHA384, MAC-then-encrypt "
         "(server refuses encrypt-then-MAC)",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-AES256-SHA384"], OP_NO_ENCRYPT_THEN_MAC)),
    Case("tls12-resumed-ticket-http11", "TLS 1.2 GCM, two connections from Python's ssl "
         "client, the second resumed with a session ticket",
         _https(["python", "ECDHE-ECDSA-AES128-GCM-SHA256"])),
    Case("tls12-resumed-id-http11", "TLS 1.2 GCM, two connections, the second resumed by "
         "session ID (server sends no tickets)",
         _https([*TLS12, "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", "-H",
                 "Connection: close"], ssl.OP_NO_TICKET)),
    Case("tls13-aes128gcm-h2", "TLS 1.3 + HTTP/2 (curl -> nghttpd): two POSTs on one "
         "connection, HPACK Huffman values and dynamic-table references",
         _h2(["--http2", "--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"])),
    Case("tls12-ecdhe-aes128gcm-h2", "TLS 1.2 + HTTP/2 (curl -> nghttpd)",
         _h2(["--http2", "--tlsv1.2", "--tls-max", "1.2", "--ciphers",
              "ECDHE-ECDSA-AES128-GCM-SHA256"])),
    Case("h2c-prior-knowledge", "cleartext HTTP/2 with prior knowledge (nghttp -> h2 library "
         "server, gzip responses)",
         _h2c([])),
    Case("h2c-upgrade", "cleartext HTTP/1.1 POST with Upgrade: h2c, the answer and a "
         "second POST over HTTP/2",
         _h2c(["--http2"])),
    Case("h3-aes128gcm", "QUIC v1 + HTTP/3 (aioquic), TLS_AES_128_GCM_SHA256",
         _h3c("AES_128_GCM_SHA256")),
    Case("h3-aes256gcm", "QUIC v1 + HTTP/3 (aioquic), TLS_AES_256_GCM_SHA384",
         _h3c("AES_256_GCM_SHA384")),
    Case("h3-chacha20", "QUIC v1 + HTTP/3 (aioquic), ChaCha20-Poly1305 (ChaCha20 header "
         "protection)", _h3c("CHACHA20_POLY1305_SHA256")),
    Case("h3-v2", "QUIC v2 (RFC 9369) + HTTP/3 (aioquic)", _h3c("AES_128_GCM_SHA256", 2)),
    Case("h3-keyupdate", "QUIC v1 + HTTP/3, the client updates its keys between the requests",
         _h3c("AES_128_GCM_SHA256", key_update=True)),
]  # fmt: skip


def wrong_keys(keys: Path, out: Path) -> None:
    """The same key log with every secret's last byte changed: nothing authenticates."""
    lines = []
    for line in keys.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            last = int(parts[2][-2:], 16) ^ 0x5A
            parts[2] = parts[2][:-2] + f"{last:02x}"
        lines.append(" ".join(parts))
    out.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "tls")
    parser.add_argument("--only", nargs="*", help="case names (or parts of them)")
    args = parser.parse_args()
    for tool in ("tcpdump", "curl", "openssl", "nghttpd", "editcap"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        payload = load_payload(work)
        ran: set[str] = set()
        for case in CASES:
            if args.only and not any(part in case.name for part in args.only):
                continue
            print(f"{case.name}: {case.what}", flush=True)
            ran.add(case.name)
            case.run(args.out, case.name, work, payload)
            pcap, keys = args.out / f"{case.name}.pcap", args.out / f"{case.name}.keys"
            if keys.exists() and keys.stat().st_size:
                inject(pcap, keys, args.out / f"{case.name}.dsb.pcapng")
            else:
                keys.unlink(missing_ok=True)
        if "tls13-aes128gcm-http11" in ran:
            base = args.out / "tls13-aes128gcm-http11.keys"
            wrong_keys(base, args.out / "tls13-aes128gcm-http11.wrong.keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
