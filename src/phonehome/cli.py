"""Command-line entry point (filled in by the pipeline work)."""

import click

from phonehome import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phonehome")
def main() -> None:
    """Find out what a phone or IoT device tells the world."""
