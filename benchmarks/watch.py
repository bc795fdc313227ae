"""``phonehome watch --udp``: the packet rate it takes without dropping anything, and how
long after a packet arrives its alert is printed.

    python benchmarks/watch.py                       # both, figures for benchmarks/README.md
    python benchmarks/watch.py --phone-rates 5000,10000 --stress-rates '' --skip-latency
    python benchmarks/watch.py --soak 12 --size 20   # memory of one watch over 12 replays

**Ingest.** For each mix (``phone``, ``stress``: ``phonehome simulate bench --mix``) and
each rate, a fresh watcher (``--no-store --format jsonl``) receives ``rate x seconds``
datagrams replayed as PCAPdroid's UDP exporter sends them (header datagram, then one
record per datagram, paced by the sender). Once the sender is done, the watcher is given
time to catch up (its status objects are read until the packet count stops moving), and
the datagrams it processed are compared with those sent; the kernel's own drop count
(``SO_RXQ_OVFL``) is reported beside. The highest rate with nothing lost is the figure.
The sender is Python too (on the same 2 cores): its own ceiling is printed first.

**Latency.** The simulated Nokia day and the ``encodings`` scenario, in PCAPdroid's
trailer format, are replayed at 2,000 datagrams/s; every record's send time is noted and
every alert line is timestamped the moment it is read from the watcher's stdout. An
alert's latency is its read time minus the send time of its evidence frame's record.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.replay import datagrams, replay

WORK = Path(__file__).resolve().parent / "_work"


def start_watch(
    args: list[str], home: Path, store: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "PHONEHOME_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "phonehome", "watch", "--udp", "127.0.0.1:0",
         *([] if store else ["--no-store"]), "--format", "jsonl", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    port = int(line.split("127.0.0.1:")[1].split()[0].rstrip(";"))
    return proc, port


class Reader:
    """Reads the watcher's stdout in a thread, noting when each JSON line arrived (the
    sender runs meanwhile in the main thread)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.objects: list[tuple[float, dict[str, Any]]] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._run, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _run(self, pipe: Any) -> None:
        for line in pipe:
            if line.startswith(b"{"):
                self.objects.append((time.monotonic(), json.loads(line)))

    def join(self) -> None:
        self._thread.join(timeout=120)


def read_objects(proc: subprocess.Popen[bytes], until: float) -> list[tuple[float, dict[str, Any]]]:
    """JSON lines from the watcher with the time each was read, until ``until``."""
    assert proc.stdout is not None
    out = []
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out += [(now, json.loads(line)) for line in lines if line.startswith(b"{")]
    return out


def stop(proc: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=120)
    return [json.loads(line) for line in out.splitlines() if line.startswith(b"{")]


def corpus(mix: str, size_mb: float) -> Path:
    path = WORK / f"watch-{mix}-{size_mb:g}.pcap"
    if not path.exists():
        WORK.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "phonehome", "simulate", "bench", "--mix", mix, "--size",
             str(size_mb), "-o", str(path)], check=True, capture_output=True,
        )  # fmt: skip
    return path


def sender_ceiling(records: list[bytes]) -> float:
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    n = min(len(records), 100_000)
    took = replay(b"", records[:n], sink.getsockname(), send_header=False)
    sink.close()
    return n / took


def ingest(mix: str, rates: list[int], seconds: float, home: Path) -> list[str]:
    header, records = datagrams(corpus(mix, ARGS.size))
    rows = [f"sender ceiling ({mix}): {sender_ceiling(records):,.0f} datagrams/s"]
    for rate in rates:
        n = min(len(records), int(rate * seconds))
        proc, port = start_watch([], home)
        replay(header, records[:n], ("127.0.0.1", port), rate=rate)
        processed = 0
        drops = 0
        deadline = time.monotonic() + 180
        # Let it catch up: a watch that is behind but reads everything loses nothing; what
        # it never sees is what the kernel dropped. Done when both add up to what was sent
        # (or, stuck, at the deadline).
        while time.monotonic() < deadline and processed + drops < n:
            objs = read_objects(proc, time.monotonic() + 6)
            status = [o for _, o in objs if o.get("type") == "status"]
            if status:
                processed, drops = status[-1]["packets"], status[-1]["drops"]
        stop(proc)
        lost = n - processed
        rows.append(
            f"{mix:<6} {rate:>7,}/s  sent {n:>7,}  processed {processed:>7,}  lost {lost:>6,}"
            f"  (kernel drops {drops:,})"
        )
        print(rows[-1], flush=True)
        if lost:
            break
    return rows


def latency(home: Path) -> list[float]:
    from phonehome import simulate

    samples: list[float] = []
    for scenario in ("nokia7plus", "encodings"):
        path = WORK / f"latency-{scenario}.pcap"
        if not path.exists():
            WORK.mkdir(exist_ok=True)
            simulate.run(scenario, path, pcapdroid=True)
        header, records = datagrams(path)
        for _ in range(ARGS.runs):
            proc, port = start_watch(["--device", str(path.with_suffix(".device.toml"))], home)
            reader = Reader(proc)
            sent: dict[int, float] = {}

            def note(i: int, t: float, sent: dict[int, float] = sent) -> None:
                sent[i + 1] = t

            replay(header, records, ("127.0.0.1", port), rate=2000, on_send=note)
            time.sleep(3)  # the last alerts of the replay
            proc.send_signal(2)
            proc.wait(timeout=120)
            reader.join()
            for t, o in reader.objects:
                if o.get("type") == "alert":
                    frame = o["finding"]["evidence"][0]["frame"]
                    samples.append(t - sent[frame])
    return samples


def _rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


def soak(rounds: int, rate: int, home: Path) -> list[str]:
    """Memory over a long watch: the phone mix (PCAPdroid trailer format) replayed
    ``rounds`` times to one watcher that stores its scan, each round's record times moved
    on by the capture's span plus an hour, so that the watch sees hours of capture clock
    (every flow of a round has expired by the next) and the same apps and hosts again.
    The watcher's RSS after each round is the figure: flat means bounded."""
    import struct

    path = WORK / "soak-phone.pcap"
    if not path.exists():
        WORK.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "phonehome", "simulate", "bench", "--mix", "phone",
             "--size", str(ARGS.size), "--pcapdroid", "-o", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    header, records = datagrams(path)
    endian = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    times = [struct.unpack_from(endian + "I", r)[0] for r in records]
    step = max(times) - min(times) + 3600

    def moved(record: bytes, by: int) -> bytes:
        sec = struct.unpack_from(endian + "I", record)[0] + by
        return struct.pack(endian + "I", sec) + record[4:]

    db = home / "soak.db"
    store = ["--db", str(db)] if not ARGS.soak_no_store else []
    proc, port = start_watch(
        ["--device", str(path.with_suffix(".device.toml")), *store], home, store=bool(store)
    )
    reader = Reader(proc)
    rows = [
        f"soak: {len(records):,} records per round ({path.stat().st_size / 1e6:.0f} MB, "
        f"{step / 3600:.2f} h of capture clock per round), {rate:,} datagrams/s"
    ]
    print(rows[0], flush=True)
    started = time.monotonic()
    for i in range(rounds):
        batch = [moved(r, i * step) for r in records] if i else records
        replay(header, batch, ("127.0.0.1", port), send_header=i == 0, rate=rate)
        want = (i + 1) * len(records)
        deadline = time.monotonic() + 180
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            done = [o for _, o in reader.objects if o.get("type") == "status"]
            if done and done[-1]["packets"] + done[-1]["drops"] >= want:
                status = done[-1]
                break
            time.sleep(0.2)
        rss, hwm = _rss_mb(proc.pid)
        stored_mb = db.stat().st_size / 1e6 if db.exists() else 0.0
        rows.append(
            f"round {i + 1:>3}: {status.get('packets', 0):>9,} datagrams, "
            f"{status.get('drops', '?')} drops, {status.get('findings', '?')} findings, "
            f"RSS {rss:6.1f} MB (peak {hwm:6.1f}), store {stored_mb:5.1f} MB, "
            f"{time.monotonic() - started:5.0f} s"
        )
        print(rows[-1], flush=True)
    stop(proc)
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if ARGS.soak:
            for row in soak(ARGS.soak, ARGS.soak_rate, home):
                print(row)
            return
        if not ARGS.skip_ingest:
            for mix, text in (("phone", ARGS.phone_rates), ("stress", ARGS.stress_rates)):
                rates = [int(r) for r in text.split(",") if r]
                for row in ingest(mix, rates, ARGS.seconds, home):
                    print(row)
        if not ARGS.skip_latency:
            s = sorted(latency(home))
            p95 = s[max(0, round(0.95 * len(s)) - 1)]
            print(
                f"alert latency over {len(s)} alerts: p50 {statistics.median(s) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {s[-1] * 1000:.0f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phone-rates", default="10000,15000,20000,25000,30000,40000")
    parser.add_argument("--stress-rates", default="5000,7500,10000,15000,20000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=float, default=30.0, help="MB of each bench mix")
    parser.add_argument("--runs", type=int, default=3, help="latency replays per scenario")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--soak", type=int, default=0, metavar="ROUNDS",
        help="instead: memory of one stored watch over ROUNDS replays of the phone mix",
    )  # fmt: skip
    parser.add_argument("--soak-rate", type=int, default=5000, help="datagrams/s in --soak")
    parser.add_argument("--soak-no-store", action="store_true", help="--soak with --no-store")
    ARGS = parser.parse_args()
    main()
