"""Application protocol parsers: pure functions and per-flow sessions over bytes."""
