"""``python -m phonehome``."""

from phonehome.cli import main

main()
