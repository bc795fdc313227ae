"""The embedded findings store, scan diffs and baselines (docs/store.md).

``Store`` keeps every scan's redacted view document plus normalised rows in one SQLite
file; ``diff_docs`` compares two scan documents by finding identity; baselines let a CI
gate accept known findings. Its commands live in
:mod:`phonehome.cli.store`.
"""

from __future__ import annotations

from phonehome.store.baseline import Baseline, filter_new, load_baseline, write_baseline
from phonehome.store.db import (
    SCHEMA_VERSION,
    ScanRow,
    StaticRow,
    Store,
    StoreError,
    default_path,
)
from phonehome.store.diff import Change, Diff, diff_docs, identity, render_diff

__all__ = [
    "SCHEMA_VERSION",
    "Baseline",
    "Change",
    "Diff",
    "ScanRow",
    "StaticRow",
    "Store",
    "StoreError",
    "default_path",
    "diff_docs",
    "filter_new",
    "identity",
    "load_baseline",
    "render_diff",
    "write_baseline",
]
