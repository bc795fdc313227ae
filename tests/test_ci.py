"""CI cannot pass by running less: no tests collected fails, a missing tool fails, any skip
fails under ``CI=true``, and every tool the tests need is one ``.ci/run`` installs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.needs import DEBIAN, PIP

CI_RUN = REPO / ".ci" / "run"


def ci_packages() -> set[str]:
    """The Debian packages ``.ci/run`` installs when their tool is absent."""
    return {
        p for group in re.findall(r"need\+=\(([^)]*)\)", CI_RUN.read_text()) for p in group.split()
    }


def test_ci_installs_every_tool_a_test_needs() -> None:
    assert set(DEBIAN.values()) <= ci_packages()


def test_ci_installs_the_optional_python_packages() -> None:
    # phonehome[mitm] and phonehome[corpus] bring mitmproxy and Dask/pyarrow/DuckDB;
    # hyperscan (x86_64) and pyahocorasick are regular dependencies. The README's install
    # line, which .ci/run runs, names the extras.
    assert "pip install -e '.[test,mitm,corpus]'" in CI_RUN.read_text()
    assert set(PIP) == {
        "mitmproxy",
        "hyperscan",
        "ahocorasick",
        "dask",
        "distributed",
        "pyarrow",
        "duckdb",
    }


def test_ci_is_ci_and_prints_the_skip_list() -> None:
    text = CI_RUN.read_text()
    assert re.search(r"^export CI=true$", text, re.M)
    import tomllib

    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "-rs" in addopts["ini_options"]["addopts"].split()


def _run_pytest_function() -> str:
    """``.ci/run``'s own ``run_pytest``, to run it exactly as CI does."""
    m = re.search(r"^run_pytest\(\) \{\n.*?^\}\n", CI_RUN.read_text(), re.M | re.S)
    assert m, "run_pytest not found in .ci/run"
    return m.group()


def _pytest_in(
    folder: Path, *, ci: bool, via_ci_run: bool = False
) -> subprocess.CompletedProcess[str]:
    """pytest on ``folder`` with this suite's conftest as a plugin (its hooks and
    fixtures), as CI (``CI=true``) or as a developer."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if ci:
        env["CI"] = "true"
    args = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-rs", "-p", "no:cacheprovider"]
    if via_ci_run:
        script = (
            _run_pytest_function()
            + 'pytest() { "$@"; }\nrun_pytest '
            + " ".join(f"'{a}'" for a in [*args, str(folder)])
        )
        cmd = ["bash", "-euo", "pipefail", "-c", script]
    else:
        cmd = [*args, str(folder)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=folder, env=env, timeout=300)


def outcomes(stdout: str) -> dict[str, int]:
    """The counts in pytest's last line ("1 failed, 2 passed, 1 warning in 0.5s")."""
    last = stdout.strip().splitlines()[-1]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", last)}
    counts.pop("warning", None)
    counts.pop("warnings", None)
    return counts


def test_a_run_that_collects_nothing_fails(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = _pytest_in(tmp_path / "empty", ci=True, via_ci_run=True)
    assert res.returncode == 5, res.stdout + res.stderr
    assert ".ci/run: pytest collected no tests" in res.stderr


SKIPPING = textwrap.dedent(
    """
    import pytest
    from tests.needs import need_tool, needs

    def test_needs_a_tool_nobody_has():
        need_tool("phonehome-test-no-such-tool")

    @needs(tools=["phonehome-test-no-such-tool"])
    def test_marked_with_a_tool_nobody_has():
        pass

    def test_skips_for_its_own_reason():
        pytest.skip("a reason of its own")

    def test_passes():
        pass
    """
)


@pytest.fixture
def skipping(tmp_path: Path) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "test_skipping.py").write_text(SKIPPING)
    return folder


def test_a_developer_run_skips_and_says_why(skipping: Path) -> None:
    res = _pytest_in(skipping, ci=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert outcomes(res.stdout) == {"passed": 1, "skipped": 3}
    # The -rs list: the two missing-tool skips (call and marker) grouped, and the other.
    assert re.search(
        r"^SKIPPED \[2\] .*phonehome-test-no-such-tool is not installed \(apt-get install",
        res.stdout,
        re.M,
    )
    assert re.search(r"^SKIPPED \[1\] .*a reason of its own", res.stdout, re.M)


def test_a_ci_run_fails_on_a_missing_tool_and_on_any_skip(skipping: Path) -> None:
    res = _pytest_in(skipping, ci=True, via_ci_run=True)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "CI=true: CI must provide it" in res.stdout
    # The call fails the test; the marker, checked before the fixtures, errors its setup.
    assert outcomes(res.stdout) == {"failed": 1, "passed": 1, "skipped": 1, "error": 1}
    assert "CI=true: 1 test(s) skipped" in res.stdout
    assert "test_skipping.py::test_skips_for_its_own_reason: a reason of its own" in res.stdout


def test_no_test_decides_by_itself_whether_a_tool_is_there() -> None:
    """One mechanism (tests/needs.py): no ``skipif``, ``importorskip``, ``pytest.skip`` or
    ``shutil.which`` anywhere else in the suite, so nothing can skip quietly in CI."""
    ad_hoc = re.compile(r"\bskipif\(|importorskip\(|pytest\.skip\(|shutil\.which\(")
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted((REPO / "tests").glob("*.py"))
        if path.name not in ("needs.py", Path(__file__).name)
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if ad_hoc.search(line)
    ]
    assert offenders == []
