"""``phonehome flows``: list messages like a small tshark, one line or JSON object each.

This is a dissector view: like tshark it prints what the capture contains, including
URLs and names as sent. Use ``phonehome scan`` for redacted findings.

``--format jsonl`` is on the hot path of a capture with many small messages (DNS), so
lines are compact (no spaces after separators) and serialised with orjson when it is
installed (the ``fast`` extra); the stdlib fallback writes the very same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from phonehome.model.message import DnsMessage, Message, decryption_of
from phonehome.protocols import registry
from phonehome.protocols.dns import dns_columns
from phonehome.terminal import safe


def content_fields(msg: Message) -> dict[str, Any]:
    """The protocol's own keys of a JSON line (its registry entry's ``columns``)."""
    c = msg.content
    if type(c) is DnsMessage:  # most messages of a capture: first, and directly
        return dns_columns(c)
    return registry.protocol_of(c).columns(c)


def _stdlib_dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def _load_dumps() -> Callable[[dict[str, Any]], str]:
    try:
        import orjson
    except ImportError:
        return _stdlib_dumps
    fast = orjson.dumps

    def dumps(d: dict[str, Any]) -> str:
        try:
            return fast(d).decode()
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an int over 64 bits
            return _stdlib_dumps(d)

    return dumps


_dumps = _load_dumps()


class _Clock:
    """Capture times as ``datetime.fromtimestamp(ts, UTC)`` would print them, faster.

    ``iso``: ``.isoformat(timespec="microseconds")`` (JSON lines); otherwise
    ``.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]`` (text lines). Messages come in time order,
    so the date and time of day are formatted once per second and kept here; the
    microseconds are rounded exactly as ``fromtimestamp`` does (half to even on the
    fractional part, carried into the seconds). A slotted object rather than module
    globals: compiled, its attributes are plain loads and stores.
    """

    __slots__ = ("iso", "second", "text")

    def __init__(self, iso: bool) -> None:
        self.iso = iso
        self.second = math.nan  # equal to no second
        self.text = ""

    def format(self, ts: float) -> str:
        frac, whole = math.modf(ts)
        us = round(frac * 1e6)
        if us >= 1_000_000:
            us -= 1_000_000
            whole += 1.0
        elif us < 0:
            us += 1_000_000
            whole -= 1.0
        if whole != self.second:
            try:
                when = datetime.fromtimestamp(whole, UTC)
            except (OverflowError, ValueError, OSError):  # a damaged capture's year 75095
                return f"epoch:{ts:.6f}" if self.iso else f"epoch:{ts:.3f}"
            self.text = (
                when.isoformat()[:-6] + "." if self.iso else when.strftime("%Y-%m-%d %H:%M:%S.")
            )
            self.second = whole
        # Not f"{us:06d}": compiled, a format spec costs ~600 ns, this ~100.
        if self.iso:
            return self.text + str(us + 1_000_000)[1:] + "+00:00"
        return self.text + str(us // 1000 + 1000)[1:]


_CLOCK: Final = _Clock(iso=True)
_TEXT_CLOCK: Final = _Clock(iso=False)


def iso_time(ts: float) -> str:
    """ISO 8601 UTC with microseconds, as the JSON lines print it (see :class:`_Clock`)."""
    return _CLOCK.format(ts)


def to_json(msg: Message) -> str:
    src = msg.src
    dst = msg.dst
    app = msg.app
    d: dict[str, Any] = {
        "time": iso_time(msg.time),
        "input": msg.input,
        "frame": msg.frame,
        "flow": msg.flow_id,
        "transport": msg.flow.transport,
        "src": src.ip,
        "sport": src.port,
        "dst": dst.ip,
        "dport": dst.port,
        "direction": msg.direction,
        "protocol": msg.protocol,
        "readability": msg.readability,
        "host": msg.host,
        "app": list(app.packages) if app else None,
    }
    if msg.tunnel:  # only when tunnelled: untunnelled lines stay as they were
        d["tunnel"] = [layer.to_json() for layer in msg.tunnel]
    d.update(content_fields(msg))
    if msg.readability == "decrypted" and msg.extra:
        how = decryption_of(msg.extra)
        if how is not None:
            d["decrypted"] = how  # {via, suite, keys, alpn}: never key material
    return _dumps(d)


def summary(msg: Message) -> str:
    """The protocol's part of a text line (its registry entry's ``summary``)."""
    c = msg.content
    return registry.protocol_of(c).summary(c)


def to_text(msg: Message) -> str:
    """One line; control characters from the capture are shown escaped (terminal.safe)."""
    t = _TEXT_CLOCK.format(msg.time)
    out = msg.direction == "out"
    dev, peer = (msg.src, msg.dst) if out else (msg.dst, msg.src)
    app = f" [{','.join(msg.app.packages) or msg.app.uid}]" if msg.app else ""
    host = f" {msg.host}" if msg.host and msg.protocol != "dns" else ""
    what = summary(msg)
    if msg.readability == "decrypted" and msg.extra:
        how = decryption_of(msg.extra)
        if how is not None:
            app += f" [decrypted {how.get('via', '')}]"
            if how.get("via", "").startswith("TLS"):
                what = what.replace(" http://", " https://", 1)  # HTTP/1.x inside TLS
    via = f" (via {' > '.join([t.brief() for t in msg.tunnel])})" if msg.tunnel else ""
    arrow = "->" if out else "<-"
    if msg.flow.transport != "eapol":
        ends = f"{dev.ip}:{dev.port} {arrow} {peer.ip}:{peer.port}"
    else:  # the link layer: MAC addresses, no ports
        ends = f"{dev.ip or '?'} {arrow} {peer.ip or '?'}"
    # rjust/ljust rather than format specs: compiled, a spec costs ~0.5 us each.
    return safe(
        f"{t} {str(msg.frame).rjust(7)} {ends}{host} {msg.protocol.upper().ljust(4)} "
        f"{what}{app}{via}"
    )


def write_lines(lines: Iterable[str], write: Callable[[str], object], batch: int = 128) -> None:
    """Write each line plus a newline, ``batch`` lines per ``write`` call.

    Under ``PYTHONUNBUFFERED``/``python -u`` every ``sys.stdout.write`` is a system call
    through the text layer; on a DNS-heavy capture that is most of a line's cost (~7 % of
    ``flows --format jsonl``). The bytes written are the same as one write per line, but
    a reader of a live pipe sees them ``batch`` lines at a time.
    """
    pending: list[str] = []
    for line in lines:
        pending.append(line)
        if len(pending) >= batch:
            pending.append("")
            write("\n".join(pending))
            pending.clear()
    if pending:
        pending.append("")
        write("\n".join(pending))
