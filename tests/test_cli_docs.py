"""The CLI's documented surface agrees with the code behind it."""

from __future__ import annotations

from click.testing import CliRunner

from phonehome import __version__, native
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
    assert res.exit_code == 0
    first, core = res.output.splitlines()
    assert first == f"phonehome, version {__version__}"
    assert core == f"packet core: {native.status().describe()}"


def test_data_lists_every_bundled_dataset_with_date_and_licence() -> None:
    res = CliRunner().invoke(main, ["data"])
    assert res.exit_code == 0
    for name in ("mccmnc", "tacdb", "oui", "exodus-trackers", "public-suffix-list", "ip-asn"):
        assert name in res.stdout
    assert "CC-BY-SA 3.0" in res.stdout and "public domain" in res.stdout


def test_data_update_rebuilds_the_bundle_byte_for_byte(tmp_path: object, shared: object) -> None:
    from pathlib import Path

    from phonehome import databuild

    if not databuild.SERVICEPROVIDERS.is_file():
        import pytest

        pytest.skip("Debian mobile-broadband-provider-info / ieee-data are not installed")
    dest = Path(str(tmp_path)) / "data"
    res = CliRunner().invoke(main, ["data", "update", "--dest", str(dest)])
    assert res.exit_code == 0, res.output
    bundled = Path(databuild.__file__).parent / "data"
    for name in ("mccmnc.csv", "mcc.csv"):
        assert (dest / name).read_bytes() == (bundled / name).read_bytes(), name


def test_data_update_without_sources_is_one_line(tmp_path: object) -> None:
    from pathlib import Path

    empty = Path(str(tmp_path)) / "empty"
    empty.mkdir()
    res = CliRunner().invoke(
        main, ["data", "update", "--dest", str(empty / "out"), "--shared-data", str(empty)]
    )
    assert res.exit_code == 2
    assert res.stderr.startswith("phonehome: error: ") and len(res.stderr.splitlines()) == 1
