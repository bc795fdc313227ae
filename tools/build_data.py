"""Rebuild src/phonehome/data from the installed Debian packages and ../shared/data."""

from pathlib import Path

from phonehome.databuild import rebuild

for written in rebuild(Path(__file__).resolve().parents[1] / "src" / "phonehome" / "data"):
    print(written)
