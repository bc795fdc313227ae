"""Test-wide guards: a private home directory, a socket guard, and no skipping in CI.

The socket guard makes any attempt to reach a non-local address fail loudly, which is how
the suite proves that phonehome sends nothing anywhere. What a test needs from the machine
(tools, optional packages) is declared through ``tests/needs.py``; under ``CI=true`` a
missing need fails, and a run that skipped anything at all fails at the end, so that a
CI run can never pass by running less than the whole suite.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import needs

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "tests" / "shared"
"""The real fixtures (``fixtures/real``, ``fixtures/mobile``, ``fixtures/har``), vendored from
the team's ``../shared`` so that no run depends on that folder (tests/shared/README.md)."""


# --- what a test needs, and no skipping in CI ------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(tools, modules): external programs and optional packages the test needs"
        " (tests/needs.py)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@needs(...)`` markers, checked before the test's fixtures start anything."""
    for mark in item.iter_markers("needs"):
        needs.check_marker(mark)


_skipped: list[str] = []


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if needs.IN_CI and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if needs.IN_CI and _skipped:
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} test(s) skipped; a CI run must run every test, so "
            "this run fails (fix the test or the CI set-up in .ci/run):",
            red=True,
            bold=True,
        )
        for line in _skipped:
            terminalreporter.write_line(f"  {line}", red=True)


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


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``phonehome data update --shared-data`` reads: the Osmocom TAC and Exodus
    copies, vendored xz-compressed in ``tests/shared/data`` (tests/shared/README.md) and
    unpacked here, so that the rebuild is tested without the team's ``../shared``."""
    import lzma

    out = tmp_path_factory.mktemp("shared-data")
    for packed in sorted((SHARED / "data").glob("*.xz")):
        (out / packed.stem).write_bytes(lzma.decompress(packed.read_bytes()))
    return out
