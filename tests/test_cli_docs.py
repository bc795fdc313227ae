"""The CLI's documented surface agrees with the code behind it."""

from __future__ import annotations

from click.testing import CliRunner

from phonehome.cli import REPORT_FORMATS, main
from phonehome.report import FORMATS


def test_report_format_choices_are_the_registry() -> None:
    assert sorted(REPORT_FORMATS) == sorted(FORMATS)


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name in main.commands:
        res = runner.invoke(main, [name, "--help"])
        assert res.exit_code == 0, name
        assert "Usage:" in res.output


def test_version() -> None:
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and "phonehome, version" in res.output
