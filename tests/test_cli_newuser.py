"""What a new user ran into (issue 16): the CLI's errors, silent outputs and wording,
through the real command line on a simulated capture."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome.cli import main


def device(capture: Path) -> Path:
    return capture.with_name(capture.stem + ".device.toml")


def test_reveal_in_text_shows_the_raw_values(nokia_capture: Path) -> None:
    profile = tomllib.loads(device(nokia_capture).read_text())
    args = ["scan", "--no-store", str(nokia_capture), "--device", str(device(nokia_capture))]
    shown = CliRunner().invoke(main, [*args, "--reveal"])
    assert shown.exit_code == 1, shown.output
    assert "RAW VALUES SHOWN" in shown.stdout
    assert profile["imei"][0] in shown.stdout and profile["iccid"] in shown.stdout
    hidden = CliRunner().invoke(main, args)
    assert profile["imei"][0] not in hidden.stdout and "RAW VALUES" not in hidden.stdout
