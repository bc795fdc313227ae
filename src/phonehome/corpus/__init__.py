"""Corpus runs: thousands of captures and APKs on a Dask cluster, results as Parquet.

A corpus run turns every input into one *task* (a capture, a capture set marked as one
device session, or an APK), runs the tasks on Dask distributed workers (a LocalCluster, or
an existing scheduler), and each task writes its rows as Parquet part files under
``--out``. DuckDB answers SQL over the parts and builds the regulator's report.

Modules, in the order data moves:

- :mod:`.inputs`: INPUT arguments (files, directories, globs) -> tasks; session markers.
- :mod:`.options`: the run's options, their keyed digest and the dataset's manifest.
- :mod:`.tasks`: what a worker does with one task (scan or APK analysis) -> rows.
- :mod:`.rows`: scan documents and APK reports -> table rows (never a raw value).
- :mod:`.parts`: the Arrow schemas and the atomic part files.
- :mod:`.engine`: the Dask driver (local cluster, scheduler, or in-process), faults, resume.
- :mod:`.progress`: the terminal progress bar.
- :mod:`.query`, :mod:`.report`, :mod:`.report_formats`: DuckDB over the dataset.

The command group is :mod:`phonehome.cli.corpus`. Dask, pyarrow and DuckDB are the optional extra
``phonehome[corpus]``: :func:`require` says how to install them when they are missing.
"""

from __future__ import annotations

import importlib.util

from phonehome.errors import UsageError

EXTRA_MODULES = ("dask", "distributed", "pyarrow", "duckdb")
INSTALL_HINT = "pip install 'phonehome[corpus]'"


def missing_modules() -> list[str]:
    """The optional packages a corpus run needs that are not installed."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module blocked in sys.modules, a broken parent
            found = False
        if not found:
            missing.append(name)
    return missing


def require() -> None:
    """Stop with one line (exit 2) naming the missing packages and the install command."""
    missing = missing_modules()
    if missing:
        raise UsageError(
            f"phonehome corpus needs {', '.join(missing)} (not installed): {INSTALL_HINT}"
        )
