"""Run one fuzz target under atheris (libFuzzer), coverage-guided.

    python fuzz/run.py TARGET [libFuzzer flags...]     e.g. -max_total_time=60 -runs=100000

The seed corpus is ``fuzz/corpus/TARGET`` (committed, built by ``fuzz/build_corpus.py``);
new inputs the fuzzer finds go to ``fuzz/_work/TARGET`` (ignored by git), crashes to
``fuzz/_work/crashes/``. The packet core runs interpreted here (``PHONEHOME_PURE_PYTHON``):
atheris measures coverage of Python bytecode, and the compiled modules have none.
``fuzz/run_all.py`` runs every target for a bounded time and tabulates the results.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

os.environ["PHONEHOME_PURE_PYTHON"] = "1"
os.environ.setdefault("PHONEHOME_HOME", "/tmp/phonehome-fuzz-home")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import atheris  # noqa: E402

from fuzz import targets  # noqa: E402

# Import everything a target reaches, then instrument the loaded bytecode in place
# (``instrument_imports`` would miss the packet core: phonehome's own finder loads those
# modules from their sources when the compiled ones are not used).
for _name in targets.targets():
    with contextlib.suppress(Exception):
        targets.check(_name, b"")


def _instrument_phonehome() -> int:
    """Instrument phonehome's own functions and methods only (``instrument_all`` would
    also rewrite mitmproxy, cryptography and the rest: minutes of start-up)."""
    import inspect
    import types

    done = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("phonehome") or module is None:
            continue
        for value in list(vars(module).values()):
            if getattr(value, "__module__", None) != name:
                continue
            members = vars(value).values() if inspect.isclass(value) else [value]
            for member in members:
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if isinstance(member, types.FunctionType):
                    atheris.instrument_func(member)
                    done += 1
    return done


_instrument_phonehome()


def main() -> None:
    name = sys.argv[1]
    target = targets.targets()[name]
    work = HERE / "_work" / name
    crashes = HERE / "_work" / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = HERE / "corpus" / name
    run, allowed = target.run, target.allowed

    def one(data: bytes) -> None:
        with contextlib.suppress(allowed):
            run(data)

    argv = [
        sys.argv[0],
        *sys.argv[2:],
        f"-artifact_prefix={crashes}/{name}-",
        "-rss_limit_mb=2048",
        "-timeout=20",
        str(work),
        *([str(seeds)] if seeds.is_dir() else []),
    ]
    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
