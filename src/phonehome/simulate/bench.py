"""The ``bench`` scenario: a large mixed corpus for speed and memory measurements.

The mix is fixed by bytes so that runs of different sizes stress the same code paths in
the same proportions. Two mixes (docs/simulator.md):

- ``phone`` (default): what a phone's traffic looks like by bytes today — mostly
  encrypted: 50 % TLS with application data, 25 % QUIC (client Initials followed by
  1-RTT data), 12 % HTTP with large bodies (50-500 KiB), 10 % HTTP with small bodies,
  3 % DNS.
- ``stress``: the cleartext parsers' worst case — 35 % HTTP with small bodies, 25 % HTTP
  with large bodies, 10 % DNS (about half of all messages), 20 % TLS, 10 % QUIC made of
  Initial packets only (each one decrypted).
- ``leaky``: the identifier search's worst case — 75 % HTTP/1.1 keep-alive connections
  (1-3 exchanges each) where nearly every request carries the IMEI (query string,
  Base64 JSON body, gzip JSON body, form with its MD5/SHA-1, and plain GETs), responses of
  log-normal size (300 B to 300 KB, text/JSON/binary, some gzip); 5 % DNS answered through
  CNAMEs; 20 % TLS. 0.5 % of TCP data segments are sent twice, and flows are built in
  rounds of 64 that overlap in time, so about 64 are open at once.

Each flow is built whole and streamed straight to the file (flows follow each other in
time), payloads are slices of templates made once, so generation costs little more than
writing frames. A handful of leaks (the IMEI in a query string) are spread evenly
through the corpus.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import random
from array import array
from pathlib import Path

from phonehome.privacy import open_private
from phonehome.simulate import appproto, quic_build, tls13_h2, tls_build
from phonehome.simulate.nokia7plus import (
    DEVICE_IP4,
    DEVICE_IP6,
    HOUR,
    MINUTE,
    SECOND,
    START_US,
    Phone,
    Scene,
    ip_str,
    make_phone,
)
from phonehome.simulate.packets import FrameSink
from phonehome.simulate.pcap_writer import PcapWriter
from phonehome.simulate.truth import Generated, Leak

MIXES: dict[str, tuple[tuple[str, float], ...]] = {
    "phone": (
        ("tls", 0.50),
        ("quic_data", 0.25),
        ("http_large", 0.12),
        ("http_small", 0.10),
        ("dns", 0.03),
    ),
    "stress": (
        ("http_small", 0.35),
        ("http_large", 0.25),
        ("dns", 0.10),
        ("tls", 0.20),
        ("quic", 0.10),
    ),
    "leaky": (
        ("http_leaky", 0.75),
        ("dns_cname", 0.05),
        ("tls", 0.20),
    ),
    "tls": (("tls_h2", 1.0),),
    "tls-many": (("tls_h2_small", 1.0),),
}
"""Share of captured bytes per kind of flow (documented in docs/simulator.md)."""
DEFAULT_MIX = "phone"

LEAKS = 5
DEFAULT_SIZE_MB = 50.0
ROUND = 64
"""Flows built to overlap in time in the ``leaky`` mix (about this many open at once)."""
ROUND_SPREAD_US = 2_000_000
"""The flows of a round start within this much of each other."""
RETRANSMIT = 0.005
"""Share of TCP data segments sent twice in the ``leaky`` mix."""

HOSTS = [f"cdn{i}.example.com" for i in range(16)] + [f"api{i}.example.net" for i in range(16)]
"""Fictitious servers; addresses in 198.18.0.0/15 (benchmarking range, RFC 2544)."""


def _host_ip(i: int) -> bytes:
    return bytes([198, 18, i // 8, 10 + i % 8])


class _TimedWriter:
    """Streams frames to the capture and keeps each frame's timestamp (8 bytes a frame)
    so the ground truth can give the time of any frame it cites."""

    def __init__(self, writer: PcapWriter) -> None:
        self.writer = writer
        self.times = array("q")

    def emit(self, ts_us: int, frame: bytes) -> int:
        self.times.append(ts_us)
        return self.writer.write(ts_us, frame)


class _Rounds:
    """Frames of a round of overlapping flows, written in time order when the round ends.

    ``emit`` hands out references; once written, ``number`` gives a reference's frame
    number (the ground truth resolves its references through it)."""

    def __init__(self, writer: _TimedWriter) -> None:
        self.writer = writer
        self._frames: list[tuple[int, int, bytes]] = []
        self._numbers = array("q")
        self.end_us = 0
        self.size = 0
        """Bytes emitted so far (written or waiting for the round's end)."""

    def emit(self, ts_us: int, frame: bytes) -> int:
        ref = len(self._numbers) + len(self._frames)
        self._frames.append((ts_us, ref, frame))
        self.end_us = max(self.end_us, ts_us)
        self.size += 16 + len(frame)  # as a pcap record
        return ref

    def flush(self) -> None:
        self._numbers.extend([0] * len(self._frames))
        for ts_us, ref, frame in sorted(self._frames, key=lambda f: (f[0], f[1])):
            self._numbers[ref] = self.writer.emit(ts_us, frame)
        self._frames = []

    def number(self, ref: int) -> int:
        return self._numbers[ref]


class _Corpus:
    def __init__(
        self, scene: Scene, sink: FrameSink, rng: random.Random, keys: _Keys | None = None
    ) -> None:
        self.scene = scene
        self.keys = keys
        self._certs: dict[str, bytes] = {}
        self.lan = scene.lan
        self.sink = sink
        self.rng = rng
        self.filler = rng.randbytes(600 * 1024)
        text = b"<html><head><title>Example</title></head><body>" + b"lorem ipsum " * 2000
        self.text = text
        self._gzip_cache: dict[int, bytes] = {}
        self.long_text = text * 13  # ~310 KB: the largest leaky-mix text response
        self._txid = 0x1D1D  # not from rng: the phone and stress corpora stay byte-identical
        self.hellos = {h: tls_build.tls_records(tls_build.client_hello(h)) for h in HOSTS[:8]}
        self.quic_hellos = {h: tls_build.client_hello(h, ("h3",)) for h in HOSTS[8:12]}

    def _host(self) -> tuple[str, bytes]:
        i = self.rng.randrange(len(HOSTS))
        return HOSTS[i], _host_ip(i)

    def http(self, t: int, large: bool, leak: bool) -> int:
        host, ip = self._host()
        rng = self.rng
        target = f"/assets/{rng.randrange(10**6)}.{'bin' if large else 'html'}"
        if leak:
            target = f"/v1/ping?imei={self.scene.phone.imei}&n={rng.randrange(1000)}"
        req = appproto.http_request(
            "GET", target, host, [("User-Agent", "okhttp/4.9.3"), ("Accept-Encoding", "gzip")]
        )
        if large:
            n = rng.randrange(50 * 1024, 500 * 1024)
            start = rng.randrange(len(self.filler) - n)
            body, ctype = self.filler[start : start + n], "application/octet-stream"
        else:
            n = rng.randrange(300, 12_000)
            body, ctype = self.text[:n], "text/html"
        resp = appproto.http_response(200, "OK", [("Content-Type", ctype)], body)
        ex = self.scene.http(t, ip, 80, req, resp, rtt_ms=20)
        if leak:
            self.scene.truth.leak(
                Leak(
                    "imei", self.scene.phone.imei, host, ip_str(ip), 80, "http", "http.query:imei"
                ),
                ex.request[-1],
            )
        return ex.t_us

    def dns(self, t: int) -> int:
        for _ in range(4):
            i = self.rng.randrange(len(HOSTS))
            t = self.scene.dns(t, HOSTS[i], [_host_ip(i)]) + self.rng.randrange(100, 5000)
        return t

    def tls(self, t: int) -> int:
        i = self.rng.randrange(8)
        host, ip = HOSTS[i], _host_ip(i)
        conn = self.lan.tcp(t, ip, 443, rtt_us=20_000, isn=self.scene.isn())
        conn.open()
        conn.send(self.hellos[host])
        conn.wait(20_000)
        rand = self.filler[:32]
        conn.send(
            appproto.tls_server_flight(rand, b"", self.filler[32:64], (2800,)), from_client=False
        )
        conn.send(appproto.application_data(400, rand))
        conn.wait(20_000)
        left = self.rng.randrange(20_000, 200_000)
        records = []
        while left > 0:
            n = min(left, 16_384)
            start = self.rng.randrange(len(self.filler) - n)
            records.append(b"\x17\x03\x03" + n.to_bytes(2, "big") + self.filler[start:][:n])
            left -= n
        conn.send(b"".join(records), from_client=False)
        conn.close()
        self.scene.expected.tls_snis.append(host)
        return conn.t_us

    def quic(self, t: int) -> int:
        """A burst of QUIC connection attempts (client Initials, hellos in one or two
        packets) that the network leaves unanswered. Server 1-RTT packets are left out:
        without a real handshake tshark flags them as undecryptable."""
        for _ in range(4):
            i = self.rng.randrange(4)
            host, ip = HOSTS[8 + i], _host_ip(8 + i)
            port = self.lan.ephemeral_port()
            dcid, scid = self.rng.randbytes(8), self.rng.randbytes(8)
            packets = 1 + (self.rng.random() < 0.3)
            for dgram in quic_build.client_initial_datagrams(
                self.quic_hellos[host], dcid, scid, packets=packets
            ):
                self.lan.udp(t, True, ip, 443, port, dgram)
                t += 150
            self.scene.expected.quic_snis.append(host)
            t += self.rng.randrange(2_000, 40_000)
        return t

    def quic_data(self, t: int) -> int:
        """One QUIC connection as a phone makes it: the client Initial(s), then 1-RTT
        (short header) packets, mostly from the server, carrying 20-300 KB. The 1-RTT
        payload is opaque filler: no real handshake happened, so tshark reports it as
        undecryptable, as it would any QUIC session without keys."""
        rng = self.rng
        i = rng.randrange(4)
        host, ip = HOSTS[8 + i], _host_ip(8 + i)
        port = self.lan.ephemeral_port()
        dcid, scid = rng.randbytes(8), rng.randbytes(8)
        for dgram in quic_build.client_initial_datagrams(
            self.quic_hellos[host], dcid, scid, packets=1 + (rng.random() < 0.3)
        ):
            self.lan.udp(t, True, ip, 443, port, dgram)
            t += 150
        self.scene.expected.quic_snis.append(host)
        t += 20_000
        left = rng.randrange(20_000, 300_000)
        n = 0
        while left > 0:
            size = min(left, 1200)
            start = rng.randrange(len(self.filler) - size)
            # short header: 0b01xxxxxx, the 8-byte connection id, then protected bytes
            pkt = bytes([0x40 | rng.randrange(64)]) + scid + self.filler[start : start + size]
            self.lan.udp(t, False, ip, 443, port, pkt)
            left -= size
            n += 1
            t += 80
            if n % 10 == 0:  # the client acknowledges now and then
                ack = bytes([0x40 | rng.randrange(64)]) + dcid + self.filler[start : start + 40]
                self.lan.udp(t, True, ip, 443, port, ack)
        return t + rng.randrange(2_000, 40_000)

    # -- the tls mix -----------------------------------------------------------------------

    def tls_h2(self, t: int, leak: bool, small: bool = False) -> int:
        """One TLS 1.3 connection with HTTP/2 inside, as an app's OkHttp client makes it:
        1-3 POSTs of a small JSON event, responses of log-normal size (300 B to 300 KB);
        ``small``: one POST and a 300-byte answer (many connections per MB). Its key log
        goes to the keys file (and, in pcapng, a DSB before its packets)."""
        rng = self.rng
        host, ip = self._host()
        cert = self._certs.get(host)
        if cert is None:
            cert = self._certs[host] = tls13_h2.certificate_der(host)
        tls = tls13_h2.Connection(rng, host, cert)
        assert self.keys is not None
        self.keys.add(tls.keylog())
        conn = self.lan.tcp(t, ip, 443, rtt_us=20_000, isn=self.scene.isn())
        conn.open()
        conn.send(tls.client_flight)
        conn.wait(20_000)
        conn.send(tls.server_flight, from_client=False)
        conn.send(tls.client_finished)
        phone = self.scene.phone
        for i in range(1 if small else rng.randint(1, 3)):
            n = rng.randrange(10**6)
            headers = [
                (":method", "POST"), (":scheme", "https"), (":authority", host),
                (":path", f"/v1/events?seq={n}"), ("content-type", "application/json"),
                ("user-agent", "okhttp/4.12.0"),
            ]  # fmt: skip
            doc: dict[str, object] = {"event": "sync", "seq": n, "model": "TA-1046"}
            spots: list[tuple[str, str, str, tuple[str, ...]]] = []
            if leak and i == 0:
                headers.append(("x-ad-id", phone.ad_id))
                doc["imei"] = phone.imei
                spots = [("ad_id", phone.ad_id, "http2.header:x-ad-id", ()),
                         ("imei", phone.imei, "http2.body:$.imei", ("json",))]  # fmt: skip
            records, stream = tls.request(headers, json.dumps(doc).encode())
            refs = conn.send(records)
            for identifier, value, where, encoding in spots:
                self.scene.truth.leak(
                    Leak(identifier, value, host, ip_str(ip), 443, "http2", where, encoding),
                    refs[-1],
                )
            conn.wait(rng.randrange(5_000, 40_000))
            body = self.filler[:300] if small else self._tls_body()
            reply = [(":status", "200"), ("content-type", "application/octet-stream"),
                     ("content-length", str(len(body)))]  # fmt: skip
            conn.send(tls.response(stream, reply, body), from_client=False)
            conn.wait(rng.randrange(1_000, 30_000))
            self.scene.expected.http_requests += 1
        conn.close()
        self.scene.expected.tls_snis.append(host)
        return conn.t_us

    def _tls_body(self) -> bytes:
        size = min(300_000, max(300, int(math.exp(self.rng.gauss(8.0, 1.5)))))
        start = self.rng.randrange(len(self.filler) - size)
        return self.filler[start : start + size]

    # -- the leaky mix ---------------------------------------------------------------------

    def http_leaky(self, t: int) -> int:
        """One keep-alive HTTP/1.1 connection with 1-3 exchanges; most requests carry the
        IMEI in one of the ways SDKs send it."""
        rng = self.rng
        host, ip = self._host()
        conn = self.lan.tcp(t, ip, 80, rtt_us=20_000, isn=self.scene.isn())
        conn.open()
        for _ in range(rng.randint(1, 3)):
            request, spots = self._leaky_request(host)
            refs = conn.send(request, resend=self._resend)
            conn.wait(rng.randrange(5_000, 40_000))
            conn.send(self._leaky_response(), from_client=False, resend=self._resend)
            conn.wait(rng.randrange(1_000, 30_000))
            self.scene.expected.http_requests += 1
            for where, encoding in spots:
                leak = Leak(
                    "imei", self.scene.phone.imei, host, ip_str(ip), 80, "http", where, encoding
                )
                self.scene.truth.leak(leak, refs[-1])
        conn.close()
        return conn.t_us

    def _resend(self) -> bool:
        return self.rng.random() < RETRANSMIT

    def _leaky_request(self, host: str) -> tuple[bytes, list[tuple[str, tuple[str, ...]]]]:
        rng = self.rng
        imei = self.scene.phone.imei
        n = rng.randrange(10**6)
        headers: list[tuple[str, str]] = [("User-Agent", "okhttp/4.9.3")]
        kind = rng.randrange(5)
        if kind == 0:
            target = f"/v1/ping?imei={imei}&n={n}"
            return appproto.http_request("GET", target, host, headers), [("http.query:imei", ())]
        if kind == 1:
            doc = json.dumps({"imei": imei, "seq": n, "model": "TA-1046"}).encode()
            body = base64.b64encode(doc)
            headers.append(("Content-Type", "application/encrypted-json"))
            req = appproto.http_request("POST", "/reg", host, headers, body)
            return req, [("http.body:$.imei", ("base64", "json"))]
        if kind == 2:
            doc = json.dumps({"events": [{"imei": imei, "t": n}], "v": 2}).encode()
            headers += [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
            body = gzip.compress(doc, 6, mtime=0)
            req = appproto.http_request("POST", "/batch", host, headers, body)
            return req, [("http.body:$.events[0].imei", ("gzip", "json"))]
        if kind == 3:
            md5 = hashlib.md5(imei.encode()).hexdigest()
            sha1 = hashlib.sha1(imei.encode()).hexdigest()
            body = f"did={md5}&h={sha1}&v=3".encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            req = appproto.http_request("POST", "/match", host, headers, body)
            return req, [("http.body:did", ("md5",)), ("http.body:h", ("sha1",))]
        return appproto.http_request("GET", f"/assets/{n}.js", host, headers), []

    def _leaky_response(self) -> bytes:
        """Content-Length bodies of log-normal size (median ~3 KB, 300 B to 300 KB): text,
        JSON or binary; a fifth of the text and JSON ones gzip-encoded."""
        rng = self.rng
        size = min(300_000, max(300, int(math.exp(rng.gauss(8.0, 1.5)))))
        kind = rng.randrange(3)
        if kind == 2:
            start = rng.randrange(len(self.filler) - size)
            return appproto.http_response(
                200,
                "OK",
                [("Content-Type", "application/octet-stream")],
                self.filler[start : start + size],
            )
        ctype = "text/html" if kind == 0 else "application/json"
        if rng.random() < 0.2:
            body = self._gzipped(size)
            headers = [("Content-Type", ctype), ("Content-Encoding", "gzip")]
            return appproto.http_response(200, "OK", headers, body)
        body = self.long_text[:size] if kind == 0 else self._json_text(size)
        return appproto.http_response(200, "OK", [("Content-Type", ctype)], body)

    def _json_text(self, size: int) -> bytes:
        return b'{"items":"' + self.long_text[: max(0, size - 12)] + b'"}'

    def _gzipped(self, size: int) -> bytes:
        """gzip of ``size`` bytes of text, made once per power of two (generation speed)."""
        bucket = 1 << max(8, size.bit_length())
        got = self._gzip_cache.get(bucket)
        if got is None:
            text = (self.text * (1 + bucket // len(self.text)))[:bucket]
            got = self._gzip_cache[bucket] = gzip.compress(text, 6, mtime=0)
        return got

    def dns_cname(self, t: int) -> int:
        """A lookups answered through a CDN alias (CNAME, then the address)."""
        for _ in range(4):
            i = self.rng.randrange(len(HOSTS))
            name = HOSTS[i]
            cname = f"{name.split('.', 1)[0]}.edge.example-cdn.net"
            self._txid = (self._txid + 7919) & 0xFFFF
            port = self.lan.ephemeral_port()
            resolver = self.lan.router4.ip
            self.lan.udp(t, True, resolver, 53, port, appproto.dns_query(self._txid, name, 1))
            answer = appproto.dns_response_cname(self._txid, name, cname, [_host_ip(i)])
            self.lan.udp(t + 9_000, False, resolver, 53, port, answer)
            self.scene.expected.dns_names.append(name)
            t += 9_500 + self.rng.randrange(100, 5000)
        return t


def generate(
    out: Path, seed: int, size_mb: float | None, pcapng: bool, mix: str = DEFAULT_MIX
) -> Generated:
    target = int((size_mb if size_mb is not None else DEFAULT_SIZE_MB) * 1_000_000)
    phone: Phone = make_phone(seed)
    if mix == "leaky":
        return _generate_rounds(out, seed, target, pcapng, phone)
    tls = mix.startswith("tls")
    with PcapWriter(out, pcapng=pcapng) as writer, _Keys(out, writer, tls) as keys:
        sink = _TimedWriter(writer)
        scene = Scene(phone, sink, seed)
        rng = random.Random(f"bench/{seed}")
        corpus = _Corpus(scene, sink, rng, keys)
        t = START_US + 9 * HOUR
        scene.event(t - MINUTE, "boot")
        scene.event(t - 30 * SECOND, "unlock")
        shares = MIXES[mix]
        done = dict.fromkeys((k for k, _ in shares), 0)
        leaks_done = 0
        while writer.bytes < target:
            total = writer.bytes + 1
            kind = max(shares, key=lambda m: m[1] * total - done[m[0]])[0]
            # the k-th leak goes into the first small HTTP flow past k/LEAKS of the corpus
            leak = (
                kind in ("http_small", "tls_h2", "tls_h2_small")
                and leaks_done < LEAKS
                and writer.bytes >= leaks_done * target / LEAKS
            )
            leaks_done += leak
            before = writer.bytes
            if kind == "http_small":
                t = corpus.http(t, False, leak)
            elif kind == "http_large":
                t = corpus.http(t, True, False)
            elif kind == "dns":
                t = corpus.dns(t)
            elif kind == "tls":
                t = corpus.tls(t)
            elif kind == "quic_data":
                t = corpus.quic_data(t)
            elif kind == "tls_h2":
                t = corpus.tls_h2(t, leak)
            elif kind == "tls_h2_small":
                t = corpus.tls_h2(t, leak, small=True)
            else:
                t = corpus.quic(t)
            done[kind] += writer.bytes - before
            t += rng.randrange(1_000, 50_000)
    times = sink.times
    doc = scene.truth.to_json(
        scenario="bench",
        seed=seed,
        capture=out.name,
        device_ip=[ip_str(DEVICE_IP4), ip_str(DEVICE_IP6)],
        device_mac=phone.mac_text,
        resolve=lambda ref: (ref, times[ref - 1]),
    )
    return Generated(
        doc, phone.profile(), scene.events, writer.frames, writer.bytes, scene.expected
    )


class _Keys:
    """The ``tls`` mix's key log: ``FILE.keys`` beside the capture (NSS format, mode 0600),
    and in pcapng each connection's lines as a DSB before its packets."""

    def __init__(self, out: Path, writer: PcapWriter, wanted: bool) -> None:
        self.writer = writer
        self.file = open_private(out.with_suffix(".keys")) if wanted else None

    def add(self, lines: bytes) -> None:
        if self.file is not None:
            self.file.write(lines)
        self.writer.secrets(lines)

    def __enter__(self) -> _Keys:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def _generate_rounds(out: Path, seed: int, target: int, pcapng: bool, phone: Phone) -> Generated:
    """The ``leaky`` mix: rounds of :data:`ROUND` flows that overlap in time."""
    with PcapWriter(out, pcapng=pcapng) as writer:
        timed = _TimedWriter(writer)
        rounds = _Rounds(timed)
        scene = Scene(phone, rounds, seed)
        rng = random.Random(f"bench/leaky/{seed}")
        corpus = _Corpus(scene, rounds, rng)
        t = START_US + 9 * HOUR
        scene.event(t - MINUTE, "boot")
        scene.event(t - 30 * SECOND, "unlock")
        shares = MIXES["leaky"]
        done = dict.fromkeys((k for k, _ in shares), 0)
        while rounds.size < target:
            for _ in range(ROUND):
                total = rounds.size + 1
                kind = max(shares, key=lambda m: m[1] * total - done[m[0]])[0]
                start = t + rng.randrange(ROUND_SPREAD_US)
                before = rounds.size
                if kind == "http_leaky":
                    corpus.http_leaky(start)
                elif kind == "dns_cname":
                    corpus.dns_cname(start)
                else:
                    corpus.tls(start)
                done[kind] += rounds.size - before
            rounds.flush()
            t = rounds.end_us + rng.randrange(1_000, 50_000)
    times = timed.times

    def resolve(ref: int) -> tuple[int, int]:
        number = rounds.number(ref)
        return number, times[number - 1]

    doc = scene.truth.to_json(
        scenario="bench",
        seed=seed,
        capture=out.name,
        device_ip=[ip_str(DEVICE_IP4), ip_str(DEVICE_IP6)],
        device_mac=phone.mac_text,
        resolve=resolve,
    )
    return Generated(
        doc, phone.profile(), scene.events, writer.frames, writer.bytes, scene.expected
    )
