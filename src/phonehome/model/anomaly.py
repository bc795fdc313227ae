"""Counted anomalies: damage found in a readable input.

Stages never raise on bad data. They call :meth:`Anomalies.add` with a stable kind
(``pcap.truncated_record``, ``tcp.gap``, ``http.bad_chunk`` ...), and the run goes on.
Counts are kept for every occurrence; only the first few samples per kind are kept
with their location so memory stays bounded on a badly damaged capture.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

SAMPLES_PER_KIND = 20


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    input: int
    frame: int | None
    detail: str


@dataclass
class Anomalies:
    counts: Counter[str] = field(default_factory=Counter)
    samples: list[Anomaly] = field(default_factory=list)
    per_input: dict[int, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, input: int = 0, frame: int | None = None, detail: str = "") -> None:
        n = self.counts[kind] + 1
        self.counts[kind] = n
        c = self.per_input.get(input)
        if c is None:
            c = self.per_input[input] = Counter()
        c[kind] += 1
        if n <= SAMPLES_PER_KIND:
            self.samples.append(Anomaly(kind, input, frame, detail))

    def total(self) -> int:
        return sum(self.counts.values())

    def by_input(self, input: int) -> Counter[str]:
        return self.per_input.get(input, Counter())
