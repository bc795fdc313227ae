"""One compiled multi-pattern search for many literal strings.

The known-value detector looks for hundreds of spellings of a profile's values (every
encoding and hash of every variant) in every field. A Python loop over patterns would
scan the text hundreds of times; a multi-pattern automaton scans it once. Three engines
give the same answers, fastest first: hyperscan (SIMD, x86_64 wheels only),
pyahocorasick (a C automaton, everywhere), and a regular expression as the last resort.

Results are every occurrence of every pattern, overlapping ones included, as
``(start, end, tag)`` in ``str`` offsets, sorted by start, end and pattern order. A
pattern given with several tags is reported once per tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

Backend = Literal["hyperscan", "ahocorasick", "regex"]
BACKENDS: tuple[Backend, ...] = ("hyperscan", "ahocorasick", "regex")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only, so string offsets never move (``"İ".lower()`` has two chars)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def available_backends() -> list[Backend]:
    found: list[Backend] = []
    try:
        import hyperscan  # noqa: F401

        found.append("hyperscan")
    except ImportError:
        pass
    try:
        import ahocorasick  # noqa: F401

        found.append("ahocorasick")
    except ImportError:
        pass
    found.append("regex")
    return found


# A search function returns (start, end, pattern index) for every occurrence, unsorted.
_Search = Callable[[str], list[tuple[int, int, int]]]


class Matcher(Generic[T]):
    """``Matcher([(pattern, tag), ...]).scan(text) -> [(start, end, tag), ...]``.

    ``caseless`` folds ASCII letters only (hex digits, hashes); Base64 must stay
    case-sensitive: such patterns go into ``exact``, searched in the same call, their
    hits reported after those of ``patterns``. ``backend`` forces one engine (tests
    and benchmarks); by default the fastest installed one is used.
    """

    def __init__(
        self,
        patterns: Sequence[tuple[str, T]],
        caseless: bool = False,
        backend: Backend | None = None,
        exact: Sequence[tuple[str, T]] = (),
    ) -> None:
        self.caseless = caseless
        index: dict[tuple[str, bool], int] = {}
        self._tags: list[list[T]] = []
        folded: list[bool] = []
        # ``exact`` (case-sensitive, after ``patterns``): one call searches for both
        for group, fold in ((patterns, caseless), (exact, False)):
            for pattern, tag in group:
                if not pattern:
                    continue
                key = (ascii_lower(pattern) if fold else pattern, fold)
                i = index.setdefault(key, len(index))
                if i == len(self._tags):
                    self._tags.append([])
                    folded.append(fold)
                self._tags[i].append(tag)
        self._patterns = [p for p, _ in index]
        self._first_exact = folded.count(True)
        self._mixed = 0 < self._first_exact < len(folded)
        """Both kinds (caseless ones first): their hits are reported in that order too,
        as two matchers' would be, one after the other."""
        self.shortest = min((len(p) for p in self._patterns), default=0)
        """A text shorter than every pattern is not searched (most DNS labels)."""
        self.backend: Backend = backend or available_backends()[0]
        self._search: _Search | None = None
        if self._patterns:
            builders = {"hyperscan": _hyperscan, "ahocorasick": _ahocorasick, "regex": _regex}
            build = builders[self.backend]
            if not self._mixed:
                self._search = build(self._patterns, folded)
            else:
                self._search = _per_kind(build, self._patterns, folded)

    def __len__(self) -> int:
        return len(self._patterns)

    def scan(self, text: str) -> list[tuple[int, int, T]]:
        if self._search is None or len(text) < self.shortest or not text:
            return []
        hits = self._search(text)
        if not hits:
            return []
        hits.sort()
        if self._mixed and len(hits) > 1:
            first = self._first_exact
            folded = [h for h in hits if h[2] < first]
            if 0 < len(folded) < len(hits):
                hits = folded + [h for h in hits if h[2] >= first]
        return [(s, e, tag) for s, e, i in hits for tag in self._tags[i]]


def _hyperscan(patterns: list[str], folded: list[bool]) -> _Search:
    import hyperscan

    encoded = [p.encode("utf-8", "surrogatepass") for p in patterns]
    lengths = [len(p) for p in encoded]
    # The binding hands literals to hs_compile_lit_multi as C strings: a NUL byte ends
    # the pattern there (and a leading one makes it empty, which hyperscan refuses).
    # TBCD spellings hold NULs ("00" is the byte 0x00), so then every pattern is
    # compiled as an expression of escaped bytes, which matches the same bytes.
    literal = not any(b"\0" in p for p in encoded)
    expressions = encoded if literal else [b"".join(b"\\x%02x" % c for c in p) for p in encoded]
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=expressions,
        ids=list(range(len(encoded))),
        elements=len(encoded),
        flags=[hyperscan.HS_FLAG_CASELESS if f else 0 for f in folded],
        literal=literal,
    )
    scratch = hyperscan.Scratch(db)

    def search(text: str) -> list[tuple[int, int, int]]:
        data = text.encode("utf-8", "surrogatepass")
        hits: list[tuple[int, int, int]] = []

        def on_match(i: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            hits.append((to - lengths[i], to, i))

        # positional: the binding's keyword parsing costs more than a short scan
        db.scan(data, on_match, 0, None, scratch)
        if hits and len(data) != len(text):
            hits = _to_char_offsets(data, hits)
        return hits

    return search


def _to_char_offsets(data: bytes, hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Byte offsets in UTF-8 -> string offsets (only for text that is not pure ASCII)."""
    char_at: dict[int, int] = {}
    for s, e, _ in hits:
        char_at[s] = char_at[e] = 0
    pos = chars = 0
    for b in sorted(char_at):
        chars += len(data[pos:b].decode("utf-8", "surrogatepass"))
        char_at[b] = chars
        pos = b
    return [(char_at[s], char_at[e], i) for s, e, i in hits]


def _per_kind(
    build: Callable[[list[str], list[bool]], _Search], patterns: list[str], folded: list[bool]
) -> _Search:
    """One search of caseless and exact patterns: one automaton or expression per kind
    (the automatons fold case by lower-casing the text; hyperscan could mix both in one
    database, but compiling that took twice as long and 20 MB more for a profile's
    ~1,000 spellings than two databases, whose second call costs ~0.3 us)."""
    first = folded.count(True)  # (caseless patterns come first)
    caseless = build(patterns[:first], folded[:first])
    exact = build(patterns[first:], folded[first:])

    def search(text: str) -> list[tuple[int, int, int]]:
        return caseless(text) + [(s, e, first + i) for s, e, i in exact(text)]

    return search


def _ahocorasick(patterns: list[str], folded: list[bool]) -> _Search:
    import ahocorasick

    caseless = any(folded)
    automaton = ahocorasick.Automaton()
    for i, p in enumerate(patterns):
        automaton.add_word(p, (i, len(p)))
    automaton.make_automaton()

    def search(text: str) -> list[tuple[int, int, int]]:
        if caseless:
            text = ascii_lower(text)
        return [(end + 1 - n, end + 1, i) for end, (i, n) in automaton.iter(text)]

    return search


def _regex(patterns: list[str], folded: list[bool]) -> _Search:
    """A lookahead alternation, longest pattern first, finds the longest pattern at each
    position; every shorter pattern that also matches there is a prefix of it."""
    caseless = any(folded)
    order = sorted(range(len(patterns)), key=lambda i: -len(patterns[i]))
    position = {patterns[i]: i for i in order}
    rx = re.compile("(?=(" + "|".join(re.escape(patterns[i]) for i in order) + "))", re.DOTALL)
    prefixes: dict[str, list[int]] = {
        p: [position[p[:n]] for n in range(1, len(p) + 1) if p[:n] in position] for p in patterns
    }

    def search(text: str) -> list[tuple[int, int, int]]:
        hits: list[tuple[int, int, int]] = []
        for m in rx.finditer(ascii_lower(text) if caseless else text):
            start = m.start()
            for i in prefixes[m.group(1)]:
                hits.append((start, start + len(patterns[i]), i))
        return hits

    return search


def needed(patterns: list[str]) -> Callable[[str], list[int]] | None:
    """A hyperscan test of which of the regular expressions ``patterns`` (the pattern
    detectors' ``needs``) an ASCII text may match, or None where hyperscan cannot compile
    them: the indexes of the candidates, in no particular order.

    Most fields match none, and this says so in one call, ~2.5x faster than Python's
    ``re`` with the same alternation; where some match, only those are asked ``re``
    again. The answer is a superset: hyperscan is compiled to accept at least what
    ``re`` accepts on ASCII text (``.`` also matches a newline; its ``\\s`` is ASCII
    whitespace where ``re``'s also takes ``\\x1c``-``\\x1f``, so ``[^\\s]`` accepts
    more). Texts that are not ASCII go to ``re`` directly (Unicode case folding:
    ``(?i:s)`` matches "ſ").
    """
    try:
        import hyperscan
    except ImportError:
        return None
    flags = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_DOTALL
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        db.compile(
            expressions=[p.encode("ascii") for p in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[flags] * len(patterns),
        )
    except (hyperscan.error, UnicodeEncodeError):
        return None  # a construct hyperscan lacks (lookaround, backreference)
    scratch = hyperscan.Scratch(db)
    found: list[int] = []

    def on_match(i: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
        found.append(i)

    def candidates(text: str) -> list[int]:
        found.clear()
        db.scan(text.encode("ascii"), on_match, 0, None, scratch)  # (positional: faster)
        return list(found)

    return candidates
