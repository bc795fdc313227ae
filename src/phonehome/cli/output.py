"""The one place a command's report or file leaves phonehome.

A report goes to ``--output`` (created mode 0600: it names destinations and redacted
values of the user's device) or, without one, to standard output. Every command that
writes a report or a document uses :func:`write_report`, so none of them can forget the mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from phonehome.errors import UsageError
from phonehome.privacy import write_private


def write_report(text: str, output: Path | None = None) -> None:
    """``text`` to the file ``output`` (mode 0600, replaced whole) or to standard output."""
    if output is not None:
        try:
            write_private(output, text.encode())
        except OSError as e:  # a full disk, a read-only folder: one error line, exit 2
            raise UsageError(f"{output}: cannot write: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)


def use_color(output: Path | None) -> bool:
    """Whether a report may use colour: only on a terminal, never in a file."""
    return output is None and sys.stdout.isatty()


def announce(output: Path | None, fmt: str, scan_id: int | None = None) -> None:
    """One line on stderr saying what a run left behind: the file it wrote and the scan it
    stored, and how to get another format of that scan without scanning again (a rescan
    would add a history entry each time). Silent when it wrote to stdout and stored nothing:
    then the report itself is the whole result."""
    parts = []
    if output is not None:
        parts.append(f"wrote {output} ({fmt})")
    if scan_id is not None:
        parts.append(
            f"stored as scan {scan_id} (another format without scanning again: "
            f"phonehome show {scan_id} --format FORMAT)"
        )
    if parts:
        click.echo("phonehome: " + "; ".join(parts), err=True)
