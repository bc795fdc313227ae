"""Errors that stop a run.

Only unusable arguments or unreadable inputs stop a run; damage inside a readable
capture becomes a counted anomaly instead (see :mod:`phonehome.model.anomaly`).
The CLI turns these into one line on stderr and exit code 2.
"""


class PhonehomeError(Exception):
    """Base class: a problem the user must fix; the message is shown as is."""


class InputError(PhonehomeError):
    """An input file cannot be read or its format is not recognised."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UsageError(PhonehomeError):
    """Arguments that cannot work together or values that are out of range."""
