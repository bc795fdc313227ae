"""What a test needs from the machine: a tool, a Python package, a file outside the repo.

One mechanism for all of them, so that a missing tool can never quietly shrink a CI run.
On a developer's machine a missing need is a skip that names it and the Debian or pip
package that provides it (``pytest`` runs with ``-rs``, so the list is printed). Under
``CI=true`` the same reason is a failure: ``.ci/run`` installs everything listed here, so
a missing tool in CI is a broken CI, not a smaller test suite.

Use the functions inside a test (``path = need_tool("tshark")``) or the marker on a test,
a parameter or a module (``@needs(tools=["tshark"])``; ``tests/conftest.py`` checks it
before any fixture of the test is set up). Files that are committed to the repository
(``tests/shared``, ``tests/apks``, ``src/phonehome/data``) need no guard at all: if one is
missing the test must fail, wherever it runs.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Final, NoReturn

import pytest

IN_CI: Final = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
"""``CI=true`` is what GitHub Actions, GitLab CI and ``.ci/run`` set."""

DEBIAN: Final[dict[str, str]] = {
    "tshark": "tshark",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "apktool": "apktool",
    "dexdump": "dexdump",
    "apksigner": "apksigner",
    "aapt": "aapt",
    "mke2fs": "e2fsprogs",
    "debugfs": "e2fsprogs",
    "mkfs.erofs": "erofs-utils",
    "fsck.erofs": "erofs-utils",
    "dumpcap": "wireshark-common",
    "curl": "curl",
    "setpriv": "util-linux",
}
"""Every external program a test runs -> the Debian package ``.ci/run`` installs it from
(``tests/test_ci.py`` checks that it does)."""

PIP: Final[dict[str, str]] = {
    "mitmproxy": "phonehome[mitm]",
    "hyperscan": "phonehome[fast]",
    "ahocorasick": "pyahocorasick (a phonehome dependency)",
    "dask": "phonehome[corpus]",
    "distributed": "phonehome[corpus]",
    "pyarrow": "phonehome[corpus]",
    "duckdb": "phonehome[corpus]",
}
"""Optional Python packages a test imports -> what installs them."""


def missing(reason: str) -> NoReturn:
    """Skip with ``reason`` locally; fail with it under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: CI must provide it, see .ci/run)", pytrace=False)
    pytest.skip(reason)


def need_tool(name: str) -> str:
    """The path of an external program; its absence skips (locally) or fails (CI)."""
    path = shutil.which(name)
    if path is None:
        package = DEBIAN.get(name, name)
        missing(f"{name} is not installed (apt-get install {package})")
    return path


def need_module(name: str) -> ModuleType:
    """An optional package, imported. Only its absence counts as missing: a package that
    is installed but fails to import raises, as any broken import must."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        top = name.split(".")[0]
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the package is there and one of its own imports is broken
        missing(f"{top} is not installed (pip install {PIP.get(top, top)})")


def need_file(path: Path, provider: str) -> Path:
    """A file from outside the repository (``provider`` says what puts it there)."""
    if not path.is_file():
        missing(f"{path} is absent ({provider})")
    return path


def needs(*, tools: Iterable[str] = (), modules: Iterable[str] = ()) -> pytest.MarkDecorator:
    """A marker for a test, a ``pytest.param`` or a module's ``pytestmark``: the tools and
    modules are checked (as by :func:`need_tool`, :func:`need_module`) before the test's
    fixtures are set up."""
    return pytest.mark.needs(tools=tuple(tools), modules=tuple(modules))


def check_marker(mark: pytest.Mark) -> None:
    """What ``tests/conftest.py`` runs for each ``needs`` marker of a test."""
    for tool in mark.kwargs.get("tools", ()):
        need_tool(tool)
    for module in mark.kwargs.get("modules", ()):
        need_module(module)
