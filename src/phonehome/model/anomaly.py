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

STOPPED_EARLY: dict[str, str] = {
    "pcap.truncated_record": "the capture ends in the middle of a packet record (cut short "
    "while being written or copied)",
    "pcapng.bad_block_length": "a pcapng block is cut short or damaged, and reading stopped there",
    "har.truncated": "the HAR file is damaged or cut short, and reading stopped there",
    "mitm.truncated": "the mitmproxy flow file is cut short, and reading stopped there",
    "gzip.damaged": "the gzip data is damaged or cut short, and reading stopped there",
    "gzip.limit": "the gzip data inflates beyond the size limit, and reading stopped there",
}
"""The kinds after which the rest of an input was not read, each in the words a report
uses: a count alone ("pcap.truncated_record 1") does not tell a reader that the results
may be missing whatever came after."""


def stopped_early(anomalies: dict[str, object]) -> list[str]:
    """What :data:`STOPPED_EARLY` says about an input's anomaly counts, in kind order."""
    return [STOPPED_EARLY[k] for k in sorted(anomalies) if k in STOPPED_EARLY]


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
