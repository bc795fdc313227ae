"""NSS key logs: the session secrets a TLS client or server wrote out, keyed by client random.

Every tool that makes TLS traffic readable writes this format: browsers and curl with
``SSLKEYLOGFILE``, Frida hooks (friTap), eBPF tools (eCapture), PCAPdroid (as a file beside
a pcap, or as pcapng Decryption Secrets Blocks), ``editcap --inject-secrets``. A line is
``LABEL <client random, 64 hex digits> <secret, hex>``; ``#`` starts a comment.

A key log is hostile input like the capture it comes with, and a secret: a bad line is
counted with where it was (source and line number) and never echoed, not even its label
when that is not one of the known words; no repr, str or exception shows a secret's value.
Several logs add up and none replaces another: when two sources disagree about the same
secret, both values are kept as candidates and the decryptor keeps the one that
authenticates, so one stale or wrong log does not hide a good one.
"""

from __future__ import annotations

import io
from typing import Final

from phonehome.errors import InputError
from phonehome.model.anomaly import Anomalies

SOURCE_FILE: Final = "file"
SOURCE_DSB: Final = "dsb"

CLIENT_RANDOM: Final = "CLIENT_RANDOM"
"""TLS 1.2 and older: the 48-byte master secret."""
CLIENT_HANDSHAKE_TRAFFIC_SECRET: Final = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET: Final = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0: Final = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0: Final = "SERVER_TRAFFIC_SECRET_0"
CLIENT_EARLY_TRAFFIC_SECRET: Final = "CLIENT_EARLY_TRAFFIC_SECRET"

USED_LABELS: Final = (
    CLIENT_RANDOM,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_TRAFFIC_SECRET_0,
    CLIENT_EARLY_TRAFFIC_SECRET,
)
"""Labels whose secrets decrypt something."""
ACCEPTED_LABELS: Final = frozenset(
    ("EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "CLIENT_TRAFFIC_SECRET_N",
     "SERVER_TRAFFIC_SECRET_N")
)  # fmt: skip
"""Valid labels that are not needed: exporters derive keys for other protocols, and the
secrets OpenSSL logs after a KeyUpdate (``..._TRAFFIC_SECRET_N``) are the ones the
decryptor derives itself ("traffic upd")."""
UNSUPPORTED_LABELS: Final = frozenset(("RSA", "PMS_CLIENT_RANDOM", "ECH_SECRET", "ECH_CONFIG"))
"""Labels of the NSS format this module does not use; counted by name (they are fixed
words, not data): RSA pre-master secrets by encrypted prefix, ECH configs and secrets."""

MAX_ENTRIES: Final = 1 << 18
"""Client randoms kept. A key log line is ~176 bytes, so 256 Ki entries is ~45 MB of key
log; the pcapng reader keeps at most 64 MiB of DSBs. Lines for new randoms beyond the cap
are dropped and counted (``keylog.too_many_entries``)."""
MAX_CANDIDATES: Final = 4
"""Different values kept for one (client random, label)."""
MAX_LINE: Final = 1024
"""Longest line read; a real one is under 250 bytes. Longer ones are bad lines."""
_SECRET_SIZES: Final = (32, 48)
"""TLS 1.3 traffic secrets are a hash long: SHA-256 or SHA-384."""
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


class Secret:
    """One logged secret. Its repr and str say what it is, never its value."""

    __slots__ = ("label", "source", "value")

    def __init__(self, label: str, value: bytes, source: str) -> None:
        self.label = label
        self.value = value
        self.source = source
        """``file`` or ``dsb``: where the value was first read."""

    def __repr__(self) -> str:
        return f"<Secret {self.label} from {self.source}, {len(self.value)} bytes>"

    def __str__(self) -> str:
        # Not ``__str__ = __repr__``: mypyc leaves a KeyError pending for that alias and
        # every later call fails (SystemError) in the compiled build.
        return self.__repr__()


class ClientSecrets:
    """Every secret logged for one client random: candidates per label, first logged first.

    One slot per label rather than a dict: up to 256 Ki of these are alive at once."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: list[tuple[Secret, ...]] = [(), (), (), (), (), ()]

    def get(self, label: str) -> tuple[Secret, ...]:
        """The candidates for ``label`` (one of :data:`USED_LABELS`), possibly none."""
        return self._values[USED_LABELS.index(label)]

    def add(self, secret: Secret) -> bool:
        """False when the value was known already or the candidates are full."""
        i = USED_LABELS.index(secret.label)
        have = self._values[i]
        if len(have) >= MAX_CANDIDATES or any(s.value == secret.value for s in have):
            return False
        self._values[i] = (*have, secret)
        return True

    def __repr__(self) -> str:
        labels = [lbl for lbl, v in zip(USED_LABELS, self._values, strict=True) if v]
        return f"<ClientSecrets {', '.join(labels)}>"


class KeyLog:
    """The key logs of one run, looked up by the 32-byte client random of a ClientHello.

    Problems go to ``anomalies`` (when given) as ``keylog.bad_line``,
    ``keylog.unsupported_line`` and ``keylog.too_many_entries``, and are counted in
    ``bad_lines``/``unsupported_lines``/``dropped`` either way.
    """

    __slots__ = (
        "_anomalies",
        "_entries",
        "_max_entries",
        "accepted",
        "bad_lines",
        "dropped",
        "sources",
        "unsupported_lines",
    )

    def __init__(self, anomalies: Anomalies | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self._anomalies = anomalies
        self._entries: dict[bytes, ClientSecrets] = {}
        self._max_entries = max_entries
        self.accepted = 0
        """Lines whose secret was stored (repeats of a known value are not counted)."""
        self.bad_lines = 0
        self.unsupported_lines = 0
        self.dropped = 0
        self.sources: set[str] = set()
        """Kinds of source (``file``, ``dsb``) that gave at least one secret."""

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<KeyLog {len(self._entries)} client randoms>"

    def lookup(self, client_random: bytes) -> ClientSecrets | None:
        return self._entries.get(bytes(client_random))

    # -- loading -----------------------------------------------------------------------

    def add_file(self, path: str, input: int = 0) -> int:
        """Read a key log file (``--keylog``); returns the secrets it added.

        Raises :class:`InputError` when the file cannot be read at all; its lines are
        streamed, so a huge or binary file costs no more memory than one line."""
        try:
            with open(path, "rb") as f:
                return self._add_lines(f, SOURCE_FILE, path, input, None)
        except OSError as e:
            raise InputError(path, f"cannot read key log: {e.strerror or e}") from None

    def add_text(
        self, data: bytes, source: str, name: str, input: int = 0, frame: int | None = None
    ) -> int:
        """Add the lines of one key log held in memory (a DSB's payload, ``source='dsb'``).
        ``name`` says where it came from in anomaly details (e.g. ``DSB 2``)."""
        return self._add_lines(io.BytesIO(data), source, name, input, frame)

    def _add_lines(
        self, f: io.BufferedIOBase | io.BytesIO, source: str, name: str, input: int,
        frame: int | None,
    ) -> int:  # fmt: skip
        added = 0
        number = 0
        while True:
            line = f.readline(MAX_LINE + 1)
            if not line:
                break
            number += 1
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                # Skip the rest of an over-long line without holding it.
                while True:
                    more = f.readline(MAX_LINE + 1)
                    if not more or more.endswith(b"\n"):
                        break
                self._problem("keylog.bad_line", f"{name} line {number}: too long", input, frame)
                self.bad_lines += 1
                continue
            if self._add_line(line, source, name, number, input, frame):
                added += 1
        if added:
            self.sources.add(source)
        return added

    def _add_line(
        self, raw: bytes, source: str, name: str, number: int, input: int, frame: int | None
    ) -> bool:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            return False
        parts = line.split()
        label = parts[0].decode("ascii", "replace")
        where = f"{name} line {number}"
        if label in ACCEPTED_LABELS:
            return False
        if label in UNSUPPORTED_LABELS:
            self.unsupported_lines += 1
            self._problem("keylog.unsupported_line", f"{where}: {label} lines are not used", input,
                          frame)  # fmt: skip
            return False
        if label not in USED_LABELS:
            return self._bad(f"{where}: unknown label", input, frame)
        if len(parts) != 3:
            return self._bad(f"{where}: {len(parts)} fields instead of 3", input, frame)
        random_hex, secret_hex = parts[1], parts[2]
        if len(random_hex) != 64 or not _HEX.issuperset(random_hex):
            return self._bad(f"{where}: client random is not 64 hex digits", input, frame)
        if len(secret_hex) % 2 or not _HEX.issuperset(secret_hex):
            return self._bad(f"{where}: secret is not hex", input, frame)
        value = bytes.fromhex(secret_hex.decode("ascii"))
        if label == CLIENT_RANDOM:
            if len(value) != 48:
                return self._bad(f"{where}: master secret of {len(value)} bytes", input, frame)
        elif len(value) not in _SECRET_SIZES:
            return self._bad(f"{where}: secret of {len(value)} bytes", input, frame)
        client_random = bytes.fromhex(random_hex.decode("ascii"))
        entry = self._entries.get(client_random)
        if entry is None:
            if len(self._entries) >= self._max_entries:
                self.dropped += 1
                self._problem("keylog.too_many_entries", f"{where}: over {self._max_entries}"
                              " client randoms", input, frame)  # fmt: skip
                return False
            entry = ClientSecrets()
            self._entries[client_random] = entry
        if not entry.add(Secret(label, value, source)):
            return False
        self.accepted += 1
        return True

    def _bad(self, detail: str, input: int, frame: int | None) -> bool:
        self.bad_lines += 1
        self._problem("keylog.bad_line", detail, input, frame)
        return False

    def _problem(self, kind: str, detail: str, input: int, frame: int | None) -> None:
        if self._anomalies is not None:
            self._anomalies.add(kind, input, frame, detail)


KEYLOG_INPUT: Final = -1
"""The input index of anomalies about ``--keylog`` files (``keylog.bad_line``): they count
in the run's anomalies, not in any capture's."""


def load_files(paths: list[str], anomalies: Anomalies) -> KeyLog:
    """``--keylog`` files into one key log; bad lines counted (with file and line number,
    never their text), an unreadable file or a directory is an :class:`InputError`."""
    import os

    keylog = KeyLog(anomalies)
    for path in paths:
        if os.path.isdir(path):
            raise InputError(path, "is a directory, not a key log file")
        keylog.add_file(path, KEYLOG_INPUT)
    return keylog
