"""Build: compile the packet hot path with mypyc where a C compiler is, else pure Python.

Everything else about the package is in pyproject.toml. Which modules are compiled and
why is in src/phonehome/native.py (read here with ast, never imported). The build never
fails for want of a compiler: without one, or with PHONEHOME_PURE_PYTHON set, it installs
the same modules uncompiled, and ``phonehome --version`` says which it is.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
NATIVE = SRC / "phonehome" / "native.py"


def _native_tuple(name: str) -> list[str]:
    for node in ast.parse(NATIVE.read_text("utf-8")).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == name:
            return [str(item) for item in ast.literal_eval(node.value)]
    raise SystemExit(f"setup.py: {name} not found in src/phonehome/native.py")


def compiled_modules() -> list[str]:
    """As phonehome.native.compiled_modules, which the build cannot import."""
    names = set(_native_tuple("COMPILED_SINGLE_MODULES"))
    for package in _native_tuple("COMPILED_PACKAGES"):
        folder = SRC.joinpath(*package.split("."))
        names.update(f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__")
    return sorted(names)


def source_of(module: str) -> Path:
    return SRC.joinpath(*module.split(".")).with_suffix(".py")


MODULES = compiled_modules()


class BuildExt(build_ext):
    """Also writes the manifest that lets the package tell its build from stale copies.

    The extensions are optional (a failing compiler leaves the pure modules in use), so
    setuptools only warns when one fails. The manifest is written only when every one of
    them was built in this run: with a failed shared library and a fresh manifest, the
    package would load an old library against new shims, and say it is compiled.
    """

    def run(self) -> None:
        self._built: set[str] = set()
        super().run()
        if not self.extensions:
            return
        base = SRC if self.inplace else Path(self.build_lib)
        target = base / "phonehome" / "_native.json"
        failed = sorted(e.name for e in self.extensions if e.name not in self._built)
        if failed:
            target.unlink(missing_ok=True)
            print(
                f"phonehome: {len(failed)} of {len(self.extensions)} compiled parts failed "
                f"to build ({', '.join(failed[:3])}…): the packet core runs interpreted",
                file=sys.stderr,
            )
            return
        # The digests phonehome.native.decide compares with (its source_digest).
        digests = {m: hashlib.sha256(source_of(m).read_bytes()).hexdigest() for m in MODULES}
        manifest = json.dumps({"compiler": "mypyc", "modules": digests}, indent=1)
        target.write_text(manifest + "\n", "utf-8")

    def build_extension(self, ext: Extension) -> None:
        super().build_extension(ext)  # raises on failure; setuptools swallows it (optional)
        self._built.add(ext.name)


_BUILDING = {"bdist_wheel", "editable_wheel", "build_ext", "build", "develop", "install"}
"""setup.py commands that compile (pip also runs it for metadata, which does not)."""


def _announce(line: str) -> None:
    """Say so before the long, silent part of the build. pip keeps a build backend's
    output to itself unless run with -v, so the line also goes to the terminal itself
    when there is one (nothing is written where there is none, e.g. in CI)."""
    print(line, file=sys.stderr, flush=True)
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(line + "\n")
    except OSError:
        pass


def extensions() -> list[object]:
    # As phonehome.native.wants_pure, which the build cannot import.
    if os.environ.get("PHONEHOME_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no"):
        print("phonehome: PHONEHOME_PURE_PYTHON set, not compiling", file=sys.stderr)
        return []
    if _BUILDING.intersection(sys.argv[1:]):
        _announce(
            f"phonehome: compiling the packet core ({len(MODULES)} modules) with mypyc; "
            "this takes about 2 minutes and prints nothing until it ends"
        )
    try:
        from mypyc.build import mypycify

        # The build environment has none of the runtime dependencies, so their imports
        # are untyped here; mypy's own strict run (CI) is what checks the types.
        built = list(
            mypycify(
                [
                    "--config-file",
                    str(ROOT / "tools" / "mypyc.ini"),
                    *[str(source_of(m).relative_to(ROOT)) for m in MODULES],
                ],
                opt_level="3",
                group_name="phonehome",
                # One C file per module instead of one for the whole group: gcc -O3 on
                # the single file took 4 min 40 s for 81 modules, on these 2 min 14 s; the
                # same library (one .so, direct calls between modules) and the same
                # instruction count for a scan (callgrind, benchmarks/README.md).
                multi_file=True,
            )
        )
    except (Exception, SystemExit) as exc:  # no mypyc, or it refused the sources
        print(f"phonehome: not compiling the hot path ({exc})", file=sys.stderr)
        return []
    for ext in built:
        ext.optional = True  # a failing C compiler leaves the pure-Python modules in use
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
