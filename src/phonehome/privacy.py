"""Everything about handling the user's personal data as evidence.

- ``value_id``: an HMAC-SHA256 of a value under a secret key kept per installation, so
  findings can be compared across scans without the value being recoverable (a plain
  hash of an IMEI is brute-forced in seconds: the space is ~10^9 per TAC).
- ``redact``: the one function that turns a value into what outputs show.
- ``private_files``: the umask every file the tool writes is created under.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

KEY_BYTES = 32
ENV_HOME = "PHONEHOME_HOME"


def home_dir() -> Path:
    """Per-user data directory (``$PHONEHOME_HOME`` overrides, e.g. for tests)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("phonehome", appauthor=False))


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Create files 0600 and directories 0700 inside the block (umask 077)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def open_private(path: Path, buffering: int = -1) -> BinaryIO:
    """Create or truncate ``path`` for writing with mode 0600, whatever the umask.

    ``os.open`` applies the mode only when it creates the file, so an existing file is
    chmod-ed as well: rewriting a world-readable file must not leave it world-readable.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb", buffering=buffering)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only the user can read, whatever the process umask."""
    with open_private(path) as fh:
        fh.write(data)


def installation_key(home: Path | None = None) -> bytes:
    """The per-installation HMAC key, created on first use (file mode 0600).

    Two first runs at once (parallel CI jobs sharing a home) must end with one key, or
    their value ids would never match: the key is written under a unique name and linked
    into place only if no key is there yet; the loser reads the winner's key.
    """
    home = home or home_dir()
    path = home / "key"
    key = _read_key(path)
    if key is not None:
        return key
    with private_files():
        home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = home / f"key.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    write_private(tmp, key)
    try:
        os.link(tmp, path)
    except FileExistsError:
        existing = _read_key(path)
        if existing is not None:
            return existing
        os.replace(tmp, path)  # a damaged key (wrong length): replaced, as before
    except OSError:
        os.replace(tmp, path)  # no hard links on this filesystem
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> bytes | None:
    """The key in ``path``, or None if there is none of the right length.

    A key readable by others (copied in, restored from a backup with a loose umask) is
    tightened to 0600 rather than refused: refusing would leave the user with no key, and
    a new key would break every comparison with earlier scans.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fd).st_mode & 0o077:
            with contextlib.suppress(OSError):  # not ours to change: use it as it is
                os.fchmod(fd, 0o600)
        key = fh.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


class ValueIds:
    """Keyed hashes of identifier values. ``identifier`` is mixed in so the same digits
    as an IMEI and as an IMSI do not share an id."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, identifier: str, value: str) -> str:
        mac = hmac.new(self._key, f"{identifier}\x00{value}".encode(), hashlib.sha256)
        return "h1:" + mac.hexdigest()[:32]


BULLET = "•"


def redact(value: str, identifier: str = "") -> str:
    """Keep just enough to recognise a value one already knows, never enough to learn it.

    Long values keep their first and last two characters (``35•••••••••••60``), emails
    keep the first character and the domain, short values keep nothing.
    """
    if identifier == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return (local[:1] + BULLET * max(len(local) - 1, 3)) + "@" + domain
    if identifier == "location":
        return BULLET * 3 + "," + BULLET * 3
    n = len(value)
    if n >= 10:
        return value[:2] + BULLET * (n - 4) + value[-2:]
    if n >= 6:
        return value[:1] + BULLET * (n - 2) + value[-1:]
    return BULLET * max(n, 3)
