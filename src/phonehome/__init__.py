"""phonehome: find out what a phone or IoT device tells the world."""

__version__ = "0.1.0"
