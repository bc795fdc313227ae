"""Data flow on DEX bytecode: does an identifier's *value* reach a sink, and by which
statements?

The call graph (:mod:`phonehome.static.callgraph`) says which code *can run*; this module
says where a value *goes*. It is a forward taint analysis over Dalvik registers, flow-
sensitive inside a method (a fixpoint over the control-flow graph, exception handlers
included) and summary-based across methods (IFDS-lite):

- A **label** is a fact about a register: it carries an identifier's value (``T``, from
  a source call such as ``TelephonyManager.getImei``), it is a way out (``H``, a handle
  such as the stream of ``HttpURLConnection.getOutputStream()``), it is "whatever
  parameter *k* carried" (``S``, symbolic, inside a summary), or it names the object a
  register points to (``M``: an allocation site or a parameter, so that ``json.put(k,
  imei)`` also changes every other register holding the same ``JSONObject``, and a helper
  that fills a caller's object is seen to do so). Each label remembers the statement
  that made it and the label it came from: following those links is the statement path
  a chain reports.
- A method is analysed per **context**, the set of its parameters that carry something
  (``S`` labels for them). Its **summary** says what its return value, its parameters'
  objects, the fields it writes and the sinks it reaches carry, in terms of concrete
  labels and of its parameters; a call site instantiates the summary with the caller's
  labels.
- Fields are one global cell each (field-sensitive, object-insensitive): a value stored
  in ``Task.imei`` by a constructor is read by ``Task.run`` on another thread. That is
  how values cross ``Thread``/``Runnable``/``Executor``/``Handler.post`` hand-offs (the
  Runnable's fields), and ``Message.obj`` for ``Handler.sendMessage``. Values handed to
  ``AsyncTask.execute`` arrive in ``doInBackground``'s parameter; an intent passed to
  ``startService``/``sendBroadcast`` arrives in the component's ``Intent`` parameter.
- Framework and library calls follow :mod:`phonehome.static.flowrules`.

The analysis is demand-driven: it starts at the methods that read an identifier and goes
only where a value goes, so an app's size matters much less than how far its values
travel. It is bounded: each method analysis has a budget of instruction visits, and the
whole run a budget of analyses, visits, labels and wall time. When a budget runs out the
result says so (``complete: false`` and the reason); what was found until then stands.

Not covered (docs/static.md has the table): reflection, native code, dynamically loaded
code, values passed through the file system or a database and read back, implicit flows
(``if (imei.startsWith(...))``), and aliasing across methods beyond a parameter's own
object.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from phonehome.static import bytecode as bc
from phonehome.static import flowrules as rules
from phonehome.static import sources
from phonehome.static.callgraph import CallGraph, Chain, method_name
from phonehome.static.dex import DexFile
from phonehome.static.manifest import Manifest

MAX_ANALYSES = 20_000
MAX_METHOD_VISITS = 50_000
MAX_TOTAL_VISITS = 3_000_000
MAX_LABELS = 200_000
MAX_SECONDS = 30.0
MAX_FLOWS = 200
MAX_PATH = 40
MAX_TARGETS = 8
"""App methods a virtual call is followed into (class hierarchy overrides)."""
MAX_LABELS_PER_REG = 64

T, H, S, M = "T", "H", "S", "M"
RESULT = -1
"""The pseudo-register holding an invoke's result until ``move-result``."""


@dataclass(frozen=True, slots=True)
class Step:
    method: int
    offset: int
    text: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a taint or handle label was born."""

    what: str
    """Identifier (``imei``) for a taint; ``kind/channel`` for a handle."""
    api: str
    """``TelephonyManager.getImei``, ``HttpURLConnection.getOutputStream``."""
    method: int
    offset: int


class Label:
    """A fact about a register (see the module docstring). Interned: one object per
    (kind, origin or parameter, transforms, step). Hashed by creation order, so that sets
    of labels iterate the same way on every run and the same APK always gives the same
    statement paths."""

    __slots__ = ("kind", "origin", "param", "parent", "serial", "step", "transforms")

    def __init__(
        self,
        kind: str,
        origin: Origin | None,
        param: int,
        transforms: tuple[str, ...],
        step: Step | None,
        parent: Label | None,
        serial: int,
    ) -> None:
        self.kind = kind
        self.origin = origin
        self.param = param
        self.transforms = transforms
        self.step = step
        self.parent = parent
        self.serial = serial

    def __hash__(self) -> int:
        return self.serial

    def __eq__(self, other: object) -> bool:
        return self is other

    def steps(self) -> list[Step]:
        """The statements from where the label was born to here, in order."""
        out: list[Step] = []
        node: Label | None = self
        while node is not None and len(out) < 4 * MAX_PATH:
            if node.step is not None:
                out.append(node.step)
            node = node.parent
        out.reverse()
        return out

    def __repr__(self) -> str:  # debugging aid
        return f"Label({self.kind}, {self.origin or self.param}, {self.transforms})"


@dataclass(frozen=True, slots=True)
class Flow:
    """A value that reaches a sink."""

    data: Label
    """A ``T`` label (concrete)."""
    sink: rules.Sink
    sink_api: str
    handle: Label | None
    """The handle written to, for stream sinks."""
    step: Step


@dataclass(slots=True)
class Summary:
    ret: set[Label] = field(default_factory=set)
    args: dict[int, set[Label]] = field(default_factory=dict)
    """Parameter word -> what its object received."""
    fields: dict[str, set[Label]] = field(default_factory=dict)
    """Field -> symbolic labels stored in it (concrete ones go to the global cells)."""
    sinks: list[tuple[Label, rules.Sink, str, Label | None, Step]] = field(default_factory=list)
    """(data, sink, sink api, handle, step) where data or handle is symbolic."""
    sink_keys: set[tuple[int, rules.Sink, int, Step]] = field(default_factory=set)
    """Sinks by value: a method analysed again (or calling itself) adds none twice."""

    def size(self) -> int:
        return (
            len(self.ret)
            + sum(len(v) for v in self.args.values())
            + sum(len(v) for v in self.fields.values())
            + len(self.sinks)
        )


class Budget(Exception):
    """A budget ran out; the message says which."""


State = dict[int, frozenset[Label]]
Key = tuple[int, frozenset[int]]


class DataFlow:
    """One analysis of one app. ``run()`` then read ``flows``, ``complete``, ``reason``."""

    def __init__(
        self,
        graph: CallGraph,
        *,
        max_seconds: float | None = None,
        max_analyses: int | None = None,
        max_total_visits: int | None = None,
        max_method_visits: int | None = None,
    ) -> None:
        """Budgets default to the module's ``MAX_*`` values (read at construction)."""
        self.g = graph
        self.max_seconds = MAX_SECONDS if max_seconds is None else max_seconds
        self.max_analyses = MAX_ANALYSES if max_analyses is None else max_analyses
        self.max_total_visits = MAX_TOTAL_VISITS if max_total_visits is None else max_total_visits
        self.max_method_visits = (
            MAX_METHOD_VISITS if max_method_visits is None else max_method_visits
        )
        self._flows: dict[tuple[Any, ...], Flow] = {}
        self.complete = True
        self.reason: str | None = None
        self.truncated_methods = 0
        self.analyses = 0
        self.visits = 0
        self._labels: dict[tuple[Any, ...], Label] = {}
        self._summaries: dict[Key, Summary] = {}
        self._deps: dict[Key, set[Key]] = {}
        self._field_deps: dict[str, set[Key]] = {}
        self._fields: dict[str, set[Label]] = {}
        self._contexts: dict[int, set[frozenset[int]]] = {}
        self._queue: deque[Key] = deque()
        self._queued: set[Key] = set()
        self._code: dict[int, list[tuple[bc.CodeItem, DexFile]]] = {}
        self._resolved: dict[str, tuple[tuple[int, ...], str | None]] = {}
        self._callers: dict[int, list[int]] | None = None
        self._ret_announced: set[int] = set()
        self._field_announced: set[str] = set()
        self._deadline = 0.0

    # -- driving ------------------------------------------------------------------------

    def run(self) -> None:
        # CPU time, not wall-clock: on a loaded machine (a firmware-diff's worker pool,
        # a shared CI runner) the same APK must give the same flows.
        self._deadline = time.process_time() + self.max_seconds
        for gid in sorted(self.g.source_uses):
            self._schedule((gid, frozenset()))
        try:
            while self._queue:
                key = self._queue.popleft()
                self._queued.discard(key)
                if self.analyses >= self.max_analyses:
                    raise Budget(f"analysis budget of {self.max_analyses} method analyses spent")
                if time.process_time() >= self._deadline:
                    raise Budget(f"CPU time budget of {self.max_seconds:g} s spent")
                self._analyse(key)
        except Budget as exc:
            self.complete = False
            self.reason = str(exc)
        if self.complete and self.truncated_methods:
            self.complete = False
            self.reason = (
                f"{self.truncated_methods} method(s) over the per-method budget of "
                f"{self.max_method_visits} instruction visits (analysed in part)"
            )

    def _schedule(self, key: Key) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.append(key)
            self._contexts.setdefault(key[0], set()).add(key[1])

    def _notify(self, key: Key) -> None:
        for dep in self._deps.get(key, ()):
            self._schedule(dep)

    # -- labels ---------------------------------------------------------------------------

    def _label(
        self,
        kind: str,
        origin: Origin | None,
        param: int,
        transforms: tuple[str, ...],
        step: Step | None,
        parent: Label | None,
    ) -> Label:
        key = (kind, origin, param, transforms, step)
        hit = self._labels.get(key)
        if hit is None:
            if len(self._labels) >= MAX_LABELS:
                raise Budget(f"label budget of {MAX_LABELS} spent")
            hit = Label(kind, origin, param, transforms, step, parent, len(self._labels))
            self._labels[key] = hit
        return hit

    def _derive(self, lab: Label, step: Step | None, add: str | None = None) -> Label:
        if lab.kind == M:
            return lab
        transforms = lab.transforms
        if add is not None and add not in transforms:
            transforms = (*transforms, add)
        if step is None and transforms == lab.transforms:
            return lab
        return self._label(lab.kind, lab.origin, lab.param, transforms, step, lab)

    # -- one method -----------------------------------------------------------------------

    def _code_items(self, gid: int) -> list[tuple[bc.CodeItem, DexFile]]:
        """The decoded bodies of a method: one, or one per overload (methods are named
        without their signature; a call may reach any of them)."""
        items = self._code.get(gid)
        if items is not None:
            return items
        items = []
        for dex, off in self.g.code_locations(gid):
            code = bc.decode_code(dex.data, off)
            if code is not None:
                items.append((code, dex))
        if len(self._code) > 4096:
            self._code.clear()  # decoded code is cheap to redo, memory is not
        self._code[gid] = items
        return items

    def _analyse(self, key: Key) -> None:
        gid = key[0]
        found = self._code_items(gid)
        if not found:
            return
        self.analyses += 1
        summary = self._summaries.get(key)
        before = summary.size() if summary is not None else -1
        if summary is None:
            summary = self._summaries[key] = Summary()
        for code, dex in found:  # overloads share one summary
            _MethodRun(self, key, code, dex, summary).execute()
        if summary.size() != before:
            self._notify(key)
        concrete = any(
            lab.param < 0 and lab.kind in (T, H)
            for labs in (summary.ret, *summary.args.values())
            for lab in labs
        )
        if concrete and gid not in self._ret_announced:
            # It produces a value its callers may carry on: analyse those not yet
            # analysed, and its own context-free summary for those that were.
            self._ret_announced.add(gid)
            empty: frozenset[int] = frozenset()
            if (gid, empty) not in self._summaries:
                self._schedule((gid, empty))
            for caller in self._callers_of(gid):
                if caller not in self._contexts:
                    self._schedule((caller, empty))

    def _callers_of(self, gid: int) -> list[int]:
        if self._callers is None:
            callers: dict[int, list[int]] = {}
            for caller, targets in self.g.callees.items():
                for callee in targets:
                    callers.setdefault(callee, []).append(caller)
            self._callers = callers
        return self._callers.get(gid, [])

    def _store_field(self, name: str, labels: set[Label]) -> None:
        cell = self._fields.setdefault(name, set())
        new = labels - cell
        if not new:
            return
        cell |= new
        for dep in self._field_deps.get(name, ()):
            self._schedule(dep)
        if name not in self._field_announced:
            self._field_announced.add(name)
            fid = self.g.field_ids.get(name)
            for reader in self.g.field_readers.get(fid, ()) if fid is not None else ():
                if reader not in self._contexts:
                    self._schedule((reader, frozenset()))

    def _read_field(self, name: str, key: Key) -> set[Label]:
        self._field_deps.setdefault(name, set()).add(key)
        return self._fields.get(name, set())

    def _summary_for(self, callee: int, ctx: frozenset[int], caller: Key) -> Summary | None:
        """The callee's summary in ``ctx`` (None until it is analysed; the caller is
        re-analysed when it is). With nothing passed in (empty ``ctx``) a callee matters
        only if it produces values itself, and such callees announce themselves
        (:meth:`_analyse`): they are not analysed on every call."""
        key = (callee, ctx)
        self._deps.setdefault(key, set()).add(caller)
        hit = self._summaries.get(key)
        if hit is None and key not in self._queued and (ctx or callee in self._ret_announced):
            if not self._code_items(callee):
                return None
            self._schedule(key)
        return hit

    def _add_flow(self, data: Label, sink: rules.Sink, api: str, handle: Label | None,
                  step: Step) -> None:  # fmt: skip
        """One flow per (origin, sink, sink API, handle origin): the one with the
        shortest statement path (then the first in path order) is kept."""
        key = (data.origin, sink, api, handle.origin if handle else None)
        flow = Flow(data, sink, api, handle, step)
        old = self._flows.get(key)
        if old is None:
            if len(self._flows) < MAX_FLOWS:
                self._flows[key] = flow
        elif _path_key(flow) < _path_key(old):
            self._flows[key] = flow

    @property
    def flows(self) -> list[Flow]:
        return list(self._flows.values())

    def resolve(self, key: str) -> tuple[tuple[int, ...], str | None]:
        hit = self._resolved.get(key)
        if hit is None:
            hit = self.g.resolve_call(key)
            self._resolved[key] = hit
        return hit

    def tick(self, n: int) -> None:
        self.visits += n
        if self.visits > self.max_total_visits:
            raise Budget(f"budget of {self.max_total_visits} instruction visits spent")


def _path_key(flow: Flow) -> tuple[int, list[tuple[int, int, str]]]:
    steps = flow.data.steps()
    return len(steps), [(s.method, s.offset, s.text) for s in steps]


def _only(labels: frozenset[Label] | set[Label], *kinds: str) -> set[Label]:
    return {lab for lab in labels if lab.kind in kinds}


class _MethodRun:
    """The fixpoint over one method's control-flow graph in one context."""

    def __init__(
        self, flow: DataFlow, key: Key, code: bc.CodeItem, dex: DexFile, summary: Summary
    ) -> None:
        self.df = flow
        self.key = key
        self.gid = key[0]
        self.code = code
        self.dex = dex
        self.summary = summary
        self.at = {insn.offset: i for i, insn in enumerate(code.insns)}
        self.base = code.registers - code.ins
        self.written = ""
        """The call being interpreted, as written in the bytecode."""

    def execute(self) -> None:
        code = self.code
        if not code.insns:
            return
        entry: dict[int, frozenset[Label]] = {}
        for k in range(code.ins):
            labs = {self.df._label(M, None, k, (), None, None)}
            if k in self.key[1]:
                labs.add(self.df._label(S, None, k, (), None, None))
            entry[self.base + k] = frozenset(labs)
        states: dict[int, State] = {0: entry}
        work = deque([0])
        pending = {0}
        visits = 0
        handlers = code.handlers
        while work:
            i = work.popleft()
            pending.discard(i)
            visits += 1
            if visits > self.df.max_method_visits:
                self.df.truncated_methods += 1
                break
            insn = code.insns[i]
            state = states[i]
            out = self._transfer(insn, state)
            succ: list[int] = []
            if insn.kind == bc.K_GOTO:
                succ.extend(insn.targets)
            elif insn.kind not in (bc.K_RETURN, bc.K_THROW):
                succ.append(insn.offset + insn.width)
                succ.extend(insn.targets)
            for target in succ:
                j = self.at.get(target)
                if j is not None and self._join(states, j, out) and j not in pending:
                    pending.add(j)
                    work.append(j)
            if handlers:
                caught = {k: v for k, v in state.items() if k != RESULT}
                for start, end, addrs in handlers:
                    if start <= insn.offset < end:
                        for target in addrs:
                            j = self.at.get(target)
                            if j is not None and self._join(states, j, caught) and j not in pending:
                                pending.add(j)
                                work.append(j)
        self.df.tick(visits)

    @staticmethod
    def _join(states: dict[int, State], j: int, src: State) -> bool:
        cur = states.get(j)
        if cur is None:
            states[j] = dict(src)
            return True
        changed = False
        for reg, labs in src.items():
            old = cur.get(reg)
            if old is None:
                cur[reg] = labs
                changed = True
            elif not labs <= old:
                merged = old | labs
                if len(merged) > MAX_LABELS_PER_REG:
                    merged = frozenset(list(merged)[:MAX_LABELS_PER_REG])
                    if merged == old:
                        continue
                cur[reg] = merged
                changed = True
        return changed

    # -- the transfer function ------------------------------------------------------------

    def _step(self, insn: bc.Insn, ref: str) -> Step:
        regs = ", ".join(f"v{r}" for r in insn.regs)
        return Step(self.gid, insn.offset, f"{bc.mnemonic(insn.op)} {{{regs}}}, {ref}")

    def _transfer(self, insn: bc.Insn, state: State) -> State:
        kind = insn.kind
        out = dict(state)
        result = out.pop(RESULT, None)
        regs = insn.regs
        if kind == bc.K_MOVE:
            out[regs[0]] = state.get(regs[1], frozenset())
        elif kind == bc.K_MOVE_RESULT:
            out[regs[0]] = result or frozenset()
        elif kind in (bc.K_MOVE_EXCEPTION, bc.K_CONST, bc.K_CLEAR):
            if regs:
                out.pop(regs[0], None)
        elif kind == bc.K_CONST_STRING:
            out[regs[0]] = frozenset((self._const(insn.index),))
        elif kind == bc.K_NEW or kind == bc.K_NEW_ARRAY:
            out[regs[0]] = frozenset((self._alloc(insn),))
        elif kind == bc.K_RETURN:
            self.summary.ret |= _only(state.get(regs[0], frozenset()), T, H, S)
        elif kind == bc.K_FILLED_ARRAY:
            labs: set[Label] = set()
            for r in regs:
                labs |= _only(state.get(r, frozenset()), T, H, S)
            out[RESULT] = frozenset(labs | {self._alloc(insn)})
        elif kind == bc.K_AGET:
            out[regs[0]] = frozenset(_only(state.get(regs[1], frozenset()), T, H, S))
        elif kind == bc.K_APUT:
            labs = _only(state.get(regs[0], frozenset()), T, H, S)
            if labs:
                self._mutate(out, regs[1], labs)
        elif kind == bc.K_IGET or kind == bc.K_SGET:
            self._get_field(insn, out)
        elif kind == bc.K_IPUT or kind == bc.K_SPUT:
            self._put_field(insn, state)
        elif kind == bc.K_UNOP:
            out[regs[0]] = frozenset(_only(state.get(regs[1], frozenset()), T, S))
        elif kind == bc.K_BINOP:
            labs = _only(state.get(regs[1], frozenset()), T, S)
            labs |= _only(state.get(regs[2], frozenset()), T, S)
            out[regs[0]] = frozenset(labs)
        elif kind == bc.K_INVOKE:
            self._invoke(insn, state, out)
        return out

    def _const(self, index: int) -> Label:
        return self.df._label(M, Origin("const", "", -1, index), -2, (), None, None)

    def _alloc(self, insn: bc.Insn) -> Label:
        return self.df._label(M, Origin("alloc", "", self.gid, insn.offset), -3, (), None, None)

    def _mutate(self, out: State, reg: int, labs: set[Label]) -> None:
        """Add ``labs`` to the object in ``reg``: every register pointing to the same
        object, and the caller's argument when it is a parameter's object."""
        markers = {lab for lab in out.get(reg, frozenset()) if lab.kind == M and lab.param != -2}
        targets = {reg}
        if markers:
            targets |= {r for r, v in out.items() if r != RESULT and not markers.isdisjoint(v)}
        for r in targets:
            cur = out.get(r, frozenset())
            if not labs <= cur:
                out[r] = cur | labs
        for m in markers:
            if m.param >= 0:
                self.summary.args.setdefault(m.param, set()).update(labs)

    def _field_name(self, index: int) -> str:
        owner, name = self.dex.field_ref(index)
        return f"{owner}->{name}"

    def _get_field(self, insn: bc.Insn, out: State) -> None:
        name = self._field_name(insn.index)
        reg = insn.regs[0]
        handle = rules.HANDLE_FIELDS.get(name)
        if handle is not None:
            origin = Origin(f"{handle.kind}/{handle.channel}", sources.api_label(name), self.gid,
                            insn.offset)  # fmt: skip
            out[reg] = frozenset((self.df._label(H, origin, -1, (), None, None),))
            return
        identifier = sources.SOURCE_FIELDS.get(name)
        labs: set[Label] = set()
        if identifier is not None:
            origin = Origin(identifier, sources.api_label(name), self.gid, insn.offset)
            step = self._step(insn, sources.api_label(name))
            labs.add(self.df._label(T, origin, -1, (), step, None))
        stored = self.df._read_field(name, self.key)
        if stored:
            step = self._step(insn, sources.api_label(name))
            labs |= {self.df._derive(lab, step) for lab in stored}
        if labs:
            out[reg] = frozenset(labs)
        else:
            out.pop(reg, None)

    def _put_field(self, insn: bc.Insn, state: State) -> None:
        labs = _only(state.get(insn.regs[0], frozenset()), T, H, S)
        if not labs:
            return
        name = self._field_name(insn.index)
        step = self._step(insn, sources.api_label(name))
        derived = {self.df._derive(lab, step) for lab in labs}
        concrete = {lab for lab in derived if lab.kind != S}
        symbolic = derived - concrete
        if concrete:
            self.df._store_field(name, concrete)
        if symbolic:
            self.summary.fields.setdefault(name, set()).update(symbolic)

    # -- calls ----------------------------------------------------------------------------

    def _invoke(self, insn: bc.Insn, state: State, out: State) -> None:
        owner, name = self.dex.method_ref(insn.index)
        api = f"{owner}->{name}"
        # Statements are shown as written (``Fetcher.execute``, as dexdump prints them);
        # the rules apply to what the call resolves to (``AsyncTask.execute``).
        self.written = sources.api_label(api)
        args = [state.get(r, frozenset()) for r in insn.regs]
        is_static = insn.op in bc.STATIC_INVOKES
        targets, framework = self.df.resolve(api)
        if insn.op in (0x70, 0x76, 0x6F, 0x75) and targets:
            targets = targets[:1]  # direct and super calls do not dispatch
        result: set[Label] = set()
        called = False
        for callee in targets[:MAX_TARGETS]:
            if self._call_app(insn, callee, args, out, result):
                called = True
        if framework is not None or not called:
            self._call_framework(insn, framework or api, name, args, is_static, state, out,
                                 result)  # fmt: skip
        if result:
            out[RESULT] = frozenset(result)

    def _call_app(
        self,
        insn: bc.Insn,
        callee: int,
        args: list[frozenset[Label]],
        out: State,
        result: set[Label],
    ) -> bool:
        """Apply the callee's summary; False when it has no code (abstract, native)."""
        ctx = frozenset(k for k, labs in enumerate(args) if _only(labs, T, H, S))
        summary = self.df._summary_for(callee, ctx, self.key)
        if summary is None:
            return bool(self.df._code_items(callee))
        step = self._step(insn, self.written)
        inst = _Instantiator(self.df, args, step)
        # Copies: in a recursive call the callee's summary is the one this run is writing
        # (found by fuzzing: "dictionary changed size during iteration").
        arg_labels = [(k, set(labs)) for k, labs in summary.args.items()]
        field_labels = [(name, set(labs)) for name, labs in summary.fields.items()]
        sinks = list(summary.sinks)
        result |= inst.labels(set(summary.ret), returned=True)
        for k, labs in arg_labels:
            if k < len(insn.regs):
                got = inst.labels(labs, returned=True)
                if got:
                    self._mutate(out, insn.regs[k], got)
        for name, labs in field_labels:
            got = inst.labels(labs)
            concrete = {lab for lab in got if lab.kind != S}
            if concrete:
                self.df._store_field(name, concrete)
            if got - concrete:
                self.summary.fields.setdefault(name, set()).update(got - concrete)
        for data, sink, api, handle, where in sinks:
            datas = inst.labels({data})
            handles: set[Label | None] = {None} if handle is None else set(inst.labels({handle}))
            for d in datas:
                if d.kind not in (T, S):
                    continue
                for h in handles:
                    if h is not None and h.kind not in (H, S):
                        continue
                    self._sink(d, sink, api, h, where)
        return True

    def _sink(self, data: Label, sink: rules.Sink, api: str, handle: Label | None,
              step: Step) -> None:  # fmt: skip
        if handle is not None and handle.kind == H:
            sink = _sink_of(handle)
        if data.kind == T and (handle is None or handle.kind == H):
            self.df._add_flow(data, sink, api, handle, step)
            return
        key = (id(data), sink, id(handle), step)
        if key not in self.summary.sink_keys:
            self.summary.sink_keys.add(key)
            self.summary.sinks.append((data, sink, api, handle, step))

    def _call_framework(
        self,
        insn: bc.Insn,
        api: str,
        name: str,
        args: list[frozenset[Label]],
        is_static: bool,
        state: State,
        out: State,
        result: set[Label],
    ) -> None:
        label = sources.api_label(api)
        step = self._step(insn, self.written)
        data = [_only(a, T, S) for a in args]
        handles = [_only(a, H, S) for a in args]
        # Sources.
        identifier = sources.SOURCES.get(api)
        if identifier is None and api in sources.SETTINGS_GETTERS and self._names_android_id(args):
            identifier = "android_id"
        if identifier is not None and not any(
            lab.kind == T and lab.origin is not None and lab.origin.what == identifier
            for d in data
            for lab in d
        ):
            # A new value, unless it is read off one already followed (``getCid()`` of
            # the ``getCellLocation()`` result): that is the same value, one chain.
            origin = Origin(identifier, label, self.gid, insn.offset)
            result.add(self.df._label(T, origin, -1, (), step, None))
        # Direct sinks.
        sink = rules.SINKS.get(api) or rules.NAMED_SINKS.get(name)
        if sink is not None:
            positions = sink.positions if sink.positions is not None else range(len(args))
            for p in positions:
                if p < len(data):
                    for lab in data[p]:
                        self._sink(self.df._derive(lab, step), sink, label, None, step)
        # Writes to a handle.
        if not is_static and args and name in rules.WRITE_NAMES and handles[0]:
            for h in handles[0]:
                for p in range(1, len(args)):
                    for lab in data[p]:
                        if lab.kind == S and h.kind == S and lab is h:
                            continue
                        self._sink(self.df._derive(lab, step), _sink_of(h), label, h, step)
        # Handles made.
        made = rules.HANDLE_RESULTS.get(api) or rules.NAMED_HANDLE_RESULTS.get(name)
        if made is not None:
            origin = Origin(f"{made.kind}/{made.channel}", label, self.gid, insn.offset)
            result.add(self.df._label(H, origin, -1, (), None, None))
        if name == "<init>" and args:
            wrapped: set[Label] = set()
            for hs in handles[1:]:
                # A parameter may be a stream to wrap or a value to store: as a value
                # its path goes through this constructor.
                wrapped |= {self.df._derive(h, step) if h.kind == S else h for h in hs}
            made = rules.HANDLE_CONSTRUCTORS.get(api.partition("->")[0])
            if not wrapped and made is not None:
                origin = Origin(f"{made.kind}/{made.channel}", label, self.gid, insn.offset)
                wrapped = {self.df._label(H, origin, -1, (), None, None)}
            if wrapped:
                self._mutate(out, insn.regs[0], wrapped)
        # Values handed to a callback.
        payload = rules.PAYLOADS.get(api) or rules.NAMED_PAYLOADS.get(name)
        if payload is not None and payload.arg < len(args) and _only(args[payload.arg], T, S, H):
            self._dispatch(insn, api, payload, args[payload.arg])
        # The default rule: results carry inputs; stores go into the receiver.
        transform = rules.TRANSFORMS.get(api)
        carried: set[Label] = set()
        for d in data:
            carried |= d
        if not rules.result_is_clean(name) and carried:
            result |= {self.df._derive(lab, step, transform) for lab in carried}
        if (not is_static and args and name != "<init>") or (name == "<init>" and len(args) > 1):
            stored: set[Label] = set()
            for d in data[1:]:
                stored |= d
            into = bool(stored) and (rules.stores_into_receiver(name) or transform is not None)
            if into and sink is None:  # a sink consumes its arguments
                self._mutate(out, insn.regs[0], {self.df._derive(x, step, transform)
                                                  for x in stored})  # fmt: skip
            if not is_static and name != "<init>":
                ret = self.dex.method_return(insn.index)
                if ret == api.partition("->")[0]:
                    # Builder style (returns its receiver): the result is the same object.
                    result |= {lab for lab in args[0] if lab.kind == M}
                    if into and sink is None:
                        result |= {self.df._derive(x, step, transform) for x in stored}

    def _names_android_id(self, args: list[frozenset[Label]]) -> bool:
        for labs in args:
            for lab in labs:
                if (
                    lab.kind == M
                    and lab.param == -2
                    and lab.origin is not None
                    and self.dex.string(lab.origin.offset) == sources.ANDROID_ID_KEY
                ):
                    return True
        return False

    def _dispatch(self, insn: bc.Insn, api: str, payload: rules.Payload,
                  labs: frozenset[Label]) -> None:  # fmt: skip
        """Hand a value to the callbacks of the classes this method names (``new
        Intent(ctx, Svc.class)``, ``new MyTask()``) or of the receiver's class."""
        g = self.df.g
        candidates = sorted({api.partition("->")[0], *self._named_types()})
        step = self._step(insn, self.written)
        for cls in candidates:
            if cls not in g.supers:
                continue
            for callback, word in payload.callbacks.items():
                target = g.find_method(cls, callback)
                if target is None:
                    continue
                if not self.df._code_items(target):
                    continue
                ctx = frozenset((word,))
                summary = self.df._summary_for(target, ctx, self.key)
                if summary is None:
                    continue
                passed: list[frozenset[Label]] = [frozenset()] * word + [labs]
                inst = _Instantiator(self.df, passed, step)
                for data, sink, sapi, handle, where in summary.sinks:
                    for d in inst.labels({data}):
                        hs: set[Label | None] = (
                            {None} if handle is None else set(inst.labels({handle}))
                        )
                        for h in hs:
                            if d.kind in (T, S):
                                self._sink(d, sink, sapi, h, where)
                for name, flabs in summary.fields.items():
                    concrete = {x for x in inst.labels(flabs) if x.kind != S}
                    if concrete:
                        self.df._store_field(name, concrete)

    def _named_types(self) -> list[str]:
        names: list[str] = []
        for insn in self.code.insns:
            if insn.op in (0x22, 0x1C):
                names.append(self.dex.type_name(insn.index))
        return names


def _sink_of(handle: Label) -> rules.Sink:
    if handle.kind == H and handle.origin is not None:
        kind, _, channel = handle.origin.what.partition("/")
        return rules.Sink(kind, channel)
    return _PARAM_SINK


_PARAM_SINK = rules.Sink("param", "param")
"""Placeholder while the handle is still a parameter (replaced when instantiated)."""


class _Instantiator:
    """Turns a callee summary's labels into the caller's: symbolic parameter labels
    become whatever the caller passed, extended by the call step and the callee's own
    steps and transforms."""

    def __init__(self, df: DataFlow, args: list[frozenset[Label]], step: Step) -> None:
        self.df = df
        self.args = args
        self.step = step

    def labels(self, labs: set[Label], returned: bool = False) -> set[Label]:
        """``returned``: the labels come back to the caller (return value, an argument's
        object), so concrete ones get the call as a step of their path."""
        out: set[Label] = set()
        for lab in labs:
            if lab.kind != S:
                out.add(self.df._derive(lab, self.step) if returned and lab.kind == T else lab)
                continue
            if lab.param >= len(self.args):
                continue
            chain = _symbolic_chain(lab)
            for actual in self.args[lab.param]:
                if actual.kind == M:
                    continue
                cur = self.df._derive(actual, self.step)
                for node in chain:
                    cur = self.df._label(
                        cur.kind, cur.origin, cur.param,
                        _merge(cur.transforms, node.transforms), node.step, cur,
                    )  # fmt: skip
                out.add(cur)
        return out


def _symbolic_chain(lab: Label) -> list[Label]:
    chain: list[Label] = []
    node: Label | None = lab
    while node is not None and node.step is not None:
        chain.append(node)
        node = node.parent
    chain.reverse()
    return chain


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(x for x in b if x not in a)


# -- from flows to chains -------------------------------------------------------------------

MAX_CHAINS = 50
_KIND_ORDER = {"network": 0, "ipc": 1, "local": 2}


def flow_chains(df: DataFlow, reach: list[tuple[str, dict[int, int]]]) -> list[Chain]:
    """One chain per (identifier, source API, sink kind and channel, sink API), entry
    point first found, shortest statement path kept."""
    g = df.g
    best: dict[tuple[str, str, str, str, str], Chain] = {}
    for flow in df.flows:
        origin = flow.data.origin
        assert origin is not None
        steps = flow.data.steps()
        if not steps or steps[-1] != flow.step:
            steps.append(flow.step)
        label = "no manifest entry point"
        to_source: tuple[str, ...] = (method_name(g.keys[origin.method]),)
        for entry, parents in reach:
            if origin.method in parents:
                label, to_source = entry, g.path_to(parents, origin.method)
                break
        sink = flow.sink_api
        if flow.handle is not None and flow.handle.origin is not None:
            sink = f"{flow.sink_api} ({flow.handle.origin.api})"
        methods = tuple(dict.fromkeys(method_name(g.keys[s.method]) for s in steps))
        path = tuple((method_name(g.keys[s.method]), s.offset, s.text) for s in steps)
        if len(path) > MAX_PATH:
            path = (*path[: MAX_PATH // 2], *path[-MAX_PATH // 2 :])
        chain = Chain(
            entry=label,
            identifier=origin.what,
            source=origin.api,
            sink=sink,
            to_source=to_source,
            to_sink=methods,
            evidence="data-flow",
            sink_kind=flow.sink.kind,
            channel=flow.sink.channel,
            transforms=flow.data.transforms,
            path=path,
        )
        key = (origin.what, origin.api, flow.sink.kind, flow.sink.channel, sink)
        old = best.get(key)
        if old is None or len(chain.path) < len(old.path):
            best[key] = chain
    chains = sorted(
        best.values(),
        key=lambda c: (_KIND_ORDER.get(c.sink_kind, 9), c.entry, c.identifier, c.source, c.sink),
    )
    return chains[:MAX_CHAINS]


def all_chains(graph: CallGraph, manifest: Manifest, df: DataFlow) -> list[Chain]:
    """Data-flow chains first, then reachability chains as context where no flow of
    that identifier to the network was found from the same entry point."""
    reach = graph.reach(manifest)
    flows = flow_chains(df, reach)
    covered = {(c.entry, c.identifier) for c in flows if c.sink_kind == "network"}
    context = [c for c in graph.chains(manifest, reach) if (c.entry, c.identifier) not in covered]
    return [*flows, *context][: MAX_CHAINS + 50]
