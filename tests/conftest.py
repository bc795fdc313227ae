"""Test-wide guards: a private home directory and a socket guard.

The socket guard makes any attempt to reach a non-local address fail loudly, which is how
the suite proves that phonehome sends nothing anywhere.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "tests" / "shared"
"""The real fixtures (``fixtures/real``, ``fixtures/mobile``, ``fixtures/har``), vendored from
the team's ``../shared`` so that no run depends on that folder (tests/shared/README.md)."""
SHARED_DATA = REPO.parent / "shared" / "data"
"""The Osmocom TAC and Exodus copies the data rebuild reads (not vendored: 3.7 MB)."""


class NetworkAccessError(AssertionError):
    pass


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX path
    host = str(address[0])
    return host in ("localhost", "::1") or host.startswith("127.")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def guard(address: Any) -> None:
        if not _is_local(address):
            raise NetworkAccessError(f"phonehome tried to reach {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        guard(args[-1])
        return real_sendto(self, data, *args)  # type: ignore[call-overload,no-any-return]

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        guard((host, 0))
        return real_getaddrinfo(host, *args, **kw)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module- and session-scoped fixtures run before the per-test home below is set:
    they too must never touch the developer's real key or store."""
    old = os.environ.get("PHONEHOME_HOME")
    os.environ["PHONEHOME_HOME"] = str(tmp_path_factory.mktemp("session-home"))
    yield
    if old is None:
        os.environ.pop("PHONEHOME_HOME", None)
    else:
        os.environ["PHONEHOME_HOME"] = old


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and stores go to a temporary home per test, never the developer's real one."""
    monkeypatch.setenv("PHONEHOME_HOME", str(tmp_path / "phonehome-home"))


@pytest.fixture(scope="session")
def nokia_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated Nokia 7 Plus day (seed 3) with its profile and events beside it."""
    from phonehome import simulate

    out = tmp_path_factory.mktemp("nokia") / "nokia.pcap"
    simulate.run("nokia7plus", out, seed=3)
    return out


def scan_doc(capture: Path, *extra: str) -> dict[str, Any]:
    """``phonehome scan CAPTURE --device <its profile> --format json``, as a document."""
    import json

    from click.testing import CliRunner

    from phonehome.cli import main

    device = capture.with_name(capture.stem + ".device.toml")
    res = CliRunner().invoke(
        main, ["scan", str(capture), "--device", str(device), "--format", "json", *extra]
    )
    assert res.exit_code == 1, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real fixtures are optional)")
    return SHARED
