"""The compiled packet core: same output as the sources, and never a stale copy.

The comparison runs ``phonehome flows`` twice in subprocesses, once as installed and once
with ``PHONEHOME_PURE_PYTHON`` set, over simulated captures of every shape and the real
fixtures. It depends on how the package was installed, not on how this test process runs,
so it runs in CI's interpreted pass too; where the install is uncompiled (no C compiler)
it is skipped with the reason, and under ``CI=true`` that fails (CI must compile it).
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from phonehome import native, simulate
from tests.conftest import SHARED
from tests.needs import missing


def _installed() -> native.Status:
    """What a plain ``phonehome`` process gets from this install, whatever this one was
    told (the interpreted CI pass sets ``PHONEHOME_PURE_PYTHON`` for itself)."""
    return native.decide(environ={k: v for k, v in os.environ.items() if k != native.ENV})


def need_compiled_install() -> None:
    status = _installed()
    if not status.compiled:
        missing(f"the packet core is installed {status.describe()}")


def flows(path: Path, *, pure: bool, home: Path, fmt: str = "jsonl") -> tuple[bytes, bytes, int]:
    env = {k: v for k, v in os.environ.items() if k != native.ENV}
    env["PHONEHOME_HOME"] = str(home)
    if pure:
        env[native.ENV] = "1"
    res = subprocess.run(
        [sys.executable, "-m", "phonehome", "flows", "--format", fmt, str(path)],
        capture_output=True,
        env=env,
        timeout=300,
    )
    return res.stdout, res.stderr, res.returncode


def simulated(tmp_path: Path) -> list[Path]:
    out = []
    for name, scenario, kw in [
        ("nokia.pcap", "nokia7plus", {}),
        ("nokia.pcapng", "nokia7plus", {"pcapng": True}),
        ("encodings.pcap", "encodings", {}),
        ("bench.pcap", "bench", {"size_mb": 3}),
        ("stress.pcap", "bench", {"size_mb": 3, "mix": "stress"}),
        ("gre-gtpu.pcap", "tunnel-gre-gtpu", {}),
        ("capwap.pcapng", "tunnel-capwap", {"pcapng": True}),
        ("mpls.pcap", "tunnel-mpls", {}),
        ("teredo.pcap", "tunnel-teredo", {}),
        ("tls.pcapng", "bench", {"size_mb": 1, "mix": "tls", "pcapng": True}),  # keys in DSBs
    ]:
        simulate.run(scenario, tmp_path / name, seed=7, **kw)
        out.append(tmp_path / name)
    return out


ICMP_ONLY = {"gtpu.pcap", "teredo.pcap"}
"""Real tunnel fixtures whose inner packets are all ICMP/ICMPv6: no application messages
(tshark shows none either), still read without damage."""


def test_compiled_and_interpreted_print_the_same_flows(tmp_path: Path) -> None:
    need_compiled_install()
    inputs = simulated(tmp_path)
    real = sorted((SHARED / "fixtures" / "real").iterdir())
    mobile = sorted((SHARED / "fixtures" / "mobile").iterdir())
    assert real and mobile
    inputs += real + mobile
    # Real TLS/QUIC stacks, decrypted with their embedded key logs, and h2c.
    tls = Path(__file__).parent / "data" / "tls"
    inputs += sorted(tls.glob("*.dsb.pcapng")) + sorted(tls.glob("h2c-*.pcap"))
    for path in inputs:
        for fmt in ("jsonl", "text"):
            compiled = flows(path, pure=False, home=tmp_path / "home", fmt=fmt)
            interpreted = flows(path, pure=True, home=tmp_path / "home", fmt=fmt)
            assert compiled == interpreted, (path.name, fmt)
            assert compiled[2] == 0, (path.name, compiled[1])  # every one is readable
            # and has messages (but for two tunnel fixtures that carry only ICMP inside)
            assert compiled[0] or path.name in ICMP_ONLY, path.name
    # The simulated ones are non-trivial: messages of every protocol came out.
    out = flows(inputs[3], pure=False, home=tmp_path / "home")[0].decode()
    protocols = {json.loads(line)["protocol"] for line in out.splitlines()}
    assert {"dns", "tls", "quic", "http"} <= protocols


def test_the_group_imports_compiled_unless_told_otherwise() -> None:
    need_compiled_install()
    code = "import phonehome.net.flows as m, phonehome.native as n; print(m.__file__)"
    for pure, suffix in [(False, ".so"), (True, ".py")]:
        env = {k: v for k, v in os.environ.items() if k != native.ENV}
        if pure:
            env[native.ENV] = "1"
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert res.stdout.strip().endswith(suffix)


# --- the decision, on a package directory made here -------------------------------------


def fake_build(root: Path) -> Path:
    """A package directory as a successful build leaves it: sources, .so files, manifest."""
    pkg = root / "phonehome"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    digests = {}
    for module in native.COMPILED_MODULES:
        src = native.source_path(module, pkg)
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {module}\n")
        src.with_name(src.stem + suffix).write_bytes(b"\x7fELF")
        digests[module] = native.source_digest(src)
    (root / (native.GROUP + suffix)).write_bytes(b"\x7fELF")
    (pkg / native.MANIFEST).write_text(json.dumps({"modules": digests}))
    return pkg


def test_a_complete_build_is_used(tmp_path: Path) -> None:
    assert native.decide(fake_build(tmp_path), {}) == native.Status(True, "")


@pytest.mark.parametrize(
    ("value", "pure"),
    [("1", True), ("yes", True), ("0", False), ("", False), ("False", False), ("no", False)],
)
def test_the_environment_variable_wins(tmp_path: Path, value: str, pure: bool) -> None:
    got = native.decide(fake_build(tmp_path), {native.ENV: value})
    assert got.compiled is not pure
    assert (native.ENV in got.reason) is pure


def test_an_edited_source_means_interpreted(tmp_path: Path) -> None:
    pkg = fake_build(tmp_path)
    native.source_path("phonehome.net.flows", pkg).write_text("# edited\n")
    got = native.decide(pkg, {})
    assert not got.compiled
    assert got.reason == "phonehome.net.flows changed since the build; reinstall"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda pkg: (pkg / native.MANIFEST).unlink(), "installed without the compiled"),
        (lambda pkg: (pkg / native.MANIFEST).write_text("{"), "installed without the compiled"),
        (
            lambda pkg: (pkg / native.MANIFEST).write_text('{"modules": {"phonehome.x": "0"}}'),
            "from another version",
        ),
        (
            lambda pkg: next(pkg.parent.glob(native.GROUP + "*")).unlink(),
            "not compiled at install",
        ),
        (
            lambda pkg: next((pkg / "net").glob("tcp.*.so")).unlink(),
            "phonehome.net.tcp was not compiled",
        ),
        (lambda pkg: native.source_path("phonehome.pipeline", pkg).unlink(), "source missing"),
    ],
)
def test_an_incomplete_build_means_interpreted(tmp_path: Path, damage: object, reason: str) -> None:
    pkg = fake_build(tmp_path)
    damage(pkg)  # type: ignore[operator]
    got = native.decide(pkg, {})
    assert not got.compiled and reason in got.reason, got


def test_every_compiled_module_exists_and_nothing_outside_the_package() -> None:
    for module in native.COMPILED_MODULES:
        assert module.startswith("phonehome.")
        assert native.source_path(module).is_file(), module
    assert "phonehome.native" not in native.COMPILED_MODULES  # decides; must stay Python
