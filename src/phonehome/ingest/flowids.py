"""Flow ids for readers of already-decoded HTTP (HAR, mitmproxy flows).

Entries or flows that share a connection share a flow id, numbered 1.. within the file.
A long session has a connection per handful of requests, so the map from connection to
id is bounded: the oldest connection is forgotten first (one that comes back after
:data:`MAX_CONNECTIONS` others gets a new id), and memory stays flat in the number of
entries.
"""

from __future__ import annotations

MAX_CONNECTIONS = 1 << 16


class FlowIds:
    """``get(key)``: the id of a connection; ``new()``: an id for a connectionless entry."""

    def __init__(self, limit: int | None = None) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._next = 1
        self._limit = limit

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._ids

    def new(self) -> int:
        self._next += 1
        return self._next - 1

    def get(self, key: tuple[str, str]) -> int:
        found = self._ids.get(key)
        if found is None:
            if len(self._ids) >= (self._limit or MAX_CONNECTIONS):
                del self._ids[next(iter(self._ids))]
            found = self._ids[key] = self.new()
        return found
