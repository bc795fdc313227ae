"""phonehome: find out what a phone or IoT device tells the world."""

from phonehome import native as _native

__version__ = "0.1.0"

# Before any module of the compiled group is imported: compiled copies or sources.
_native.activate()
