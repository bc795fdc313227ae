"""A method-level call graph of an app, and the chains from what wakes it up to what it
reads and where it sends it.

Nodes are methods keyed ``Lpkg/Class;->name`` (overloads merged: reachability only gets
coarser). Edges are the app's invoke instructions, resolved through the app's class
hierarchy (a call on a subclass that does not override reaches the superclass method;
a call on an app class or interface also reaches overrides in app subtypes), plus the
*implicit* edges plain cross-references miss: a method that hands work to a thread,
executor, handler, AsyncTask, WorkManager, JobScheduler or another component
(:data:`sources.DISPATCHERS`) gets an edge to the callback methods of the classes it
instantiates or names with ``const-class`` (and of the receiver object's own class when
that is an app class, e.g. ``new MyThread().start()``).

Entry points are the manifest's components (their lifecycle callbacks). A *chain* is
reported when a method reachable from an entry point (bounded depth) reaches both an
identifier source and a network sink through its callees: the chain is the shortest path
entry -> that method, then on to the source, and on to the sink. This is reachability, not
data flow: it says the code that reads the identifier and the code that sends are run by
the same task, which is what a reviewer needs to look at next.

Memory: per method only an ``array('I')`` of callee ids and the few source/sink/dispatch
facts; strings stay in the DEX and are decoded when a key is first seen.
"""

from __future__ import annotations

import sys
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from phonehome.static import endpoints, sources
from phonehome.static.dex import DexFile, Op
from phonehome.static.manifest import Manifest

MAX_DEPTH = 16
MAX_VISITED = 200_000
MAX_CHA_TARGETS = 32
MAX_CHAINS = 50
MAX_USES = 500


@dataclass(frozen=True, slots=True)
class ApiUse:
    api: str
    """``TelephonyManager.getDeviceId``."""
    kind: str
    """The identifier for a source (``imei``), the channel for a sink (``http``)."""
    method: str
    """The app method making the call, ``com.example.Task.run``."""

    def to_dict(self) -> dict[str, str]:
        return {"api": self.api, "kind": self.kind, "method": self.method}


@dataclass(frozen=True, slots=True)
class Chain:
    entry: str
    """What starts it: ``USER_PRESENT receiver``, ``service com.x.Svc``."""
    identifier: str
    source: str
    sink: str
    to_source: tuple[str, ...]
    """Methods from the entry method to the one calling the source."""
    to_sink: tuple[str, ...]
    """Reachability: methods from where the two paths part (the last of ``to_source``
    that is also on the way to the sink) to the one calling the sink. Data flow: the
    methods the value passes through, from the source call to the sink call."""
    evidence: str = "reachability"
    """``data-flow``: the value itself reaches the sink (``path`` says how);
    ``reachability``: the same task runs code that reads it and code that sends, no flow
    of the value was found. Only data-flow chains count as "sends"."""
    sink_kind: str = "network"
    """``network``, ``local`` (logs, files, preferences, databases) or ``ipc``."""
    channel: str = ""
    """``http-body``, ``http-url``, ``http-header``, ``socket``, ``log``, ``file``, ..."""
    transforms: tuple[str, ...] = ()
    """What was done to the value on the way, in order: ``json``, ``base64``, ``hashed``."""
    path: tuple[tuple[str, int, str], ...] = ()
    """Data flow: (method, bytecode offset in code units, instruction) of each statement
    the value passes, from the source call to the sink call."""

    def text(self) -> str:
        head = " -> ".join((self.entry, *(_short(m) for m in self.to_source), self.source))
        if self.evidence == "data-flow":
            hops: list[str] = []
            for _method, _offset, insn in self.path[1:-1]:
                ref = insn.rpartition(", ")[2]
                if not hops or hops[-1] != ref:
                    hops.append(ref)
            if len(hops) > 8:
                hops = [*hops[:4], "...", *hops[-3:]]
            via = f" [{'+'.join(self.transforms)}]" if self.transforms else ""
            return f"{head} => {' => '.join((*hops, self.sink))}{via}"
        tail = " -> ".join((*(_short(m) for m in self.to_sink[1:]), self.sink))
        return f"{head} ... -> {tail}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entry": self.entry,
            "identifier": self.identifier,
            "source": self.source,
            "sink": self.sink,
            "to_source": list(self.to_source),
            "to_sink": list(self.to_sink),
            "text": self.text(),
            "evidence": self.evidence,
            "sink_kind": self.sink_kind,
            "channel": self.channel,
            "transforms": list(self.transforms),
        }
        if self.evidence == "data-flow":
            out["path"] = [{"method": m, "offset": o, "instruction": i} for m, o, i in self.path]
        return out


def _short(method: str) -> str:
    cls, _, name = method.rpartition(".")
    return f"{cls.rsplit('.', 1)[-1]}.{name}"


def method_name(key: str) -> str:
    """``Lcom/x/Foo;->run`` -> ``com.x.Foo.run``."""
    cls, _, name = key.partition(";->")
    return f"{cls[1:].replace('/', '.')}.{name}"


@dataclass(slots=True)
class _Method:
    raw_calls: array[int]
    """Global ids of the invoke targets as written (resolved later)."""
    types: tuple[str, ...]
    """Classes instantiated or named with const-class: candidates for dispatch."""
    strings: tuple[str, ...]
    """Only the strings the analysis needs (trigger actions, ``android_id``)."""
    fields: tuple[str, ...]
    """Source fields read (``Settings$Secure;->ANDROID_ID``)."""


def _merged(a: _Method, b: _Method) -> _Method:
    """One method of two overloads (a call by name may reach either)."""
    calls = array("I", a.raw_calls)
    calls.extend(b.raw_calls)
    return _Method(
        calls,
        tuple(dict.fromkeys((*a.types, *b.types))),
        a.strings + b.strings,
        a.fields + b.fields,
    )


@dataclass(slots=True)
class CallGraph:
    keys: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    supers: dict[str, str | None] = field(default_factory=dict)
    interfaces: dict[str, tuple[str, ...]] = field(default_factory=dict)
    class_methods: dict[str, set[str]] = field(default_factory=dict)
    methods: dict[int, _Method] = field(default_factory=dict)
    callees: dict[int, array[int]] = field(default_factory=dict)
    source_uses: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    """method id -> {(api key, identifier)}."""
    sink_uses: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    code_actions: set[str] = field(default_factory=set)
    """Trigger actions named in code (``registerReceiver`` filters)."""
    problems: list[str] = field(default_factory=list)
    dexes: list[DexFile] = field(default_factory=list)
    """The DEX files, kept for the data-flow analysis (it decodes methods on demand)."""
    code_at: array[int] = field(default_factory=lambda: array("Q"))
    """Per method id: ``(dex number + 1) << 32 | code offset`` of an app method with
    code, 0 otherwise (abstract, native, framework)."""
    more_code: dict[int, list[int]] = field(default_factory=dict)
    """Method id -> the code of its other overloads (same encoding as ``code_at``).
    Methods are named without their signature, so ``doInBackground(String[])`` and the
    ``doInBackground(Object[])`` bridge javac adds are one method: both bodies count."""
    field_ids: dict[str, int] = field(default_factory=dict)
    field_readers: dict[int, array[int]] = field(default_factory=dict)
    """Field id (``field_ids``) -> the methods that read it (iget/sget)."""
    children: dict[str, list[str]] = field(default_factory=dict)
    """Class -> its direct subclasses and implementers in the app."""
    host_uses: set[str] = field(default_factory=set)
    """Bare host strings the code hands to a host/URL API (static/endpoints.py)."""
    _host_apis: frozenset[int] = frozenset()
    _append_apis: frozenset[int] = frozenset()
    _hosts: dict[int, str] = field(default_factory=dict)
    _prefixes: set[int] = field(default_factory=set)

    def intern(self, key: str) -> int:
        gid = self.ids.get(key)
        if gid is None:
            gid = len(self.keys)
            self.ids[key] = gid
            self.keys.append(key)
        return gid

    @property
    def classes(self) -> Iterable[str]:
        return self.supers.keys()

    # -- building ---------------------------------------------------------------------

    def add_dex(
        self,
        dex: DexFile,
        hosts: dict[int, str] | None = None,
        prefixes: set[int] | None = None,
    ) -> None:
        """Index one DEX file's classes and code (call :meth:`resolve` after the last).

        ``hosts`` maps string indices that can be host names to the host, ``prefixes``
        are the indices of ``scheme://`` strings: a host string the code uses as a host
        goes to :attr:`host_uses`.
        """
        if not self._host_apis:
            self._host_apis = frozenset(self.intern(k) for k in endpoints.HOST_APIS)
            self._append_apis = frozenset(self.intern(k) for k in endpoints.APPEND_APIS)
        self._hosts = hosts or {}
        self._prefixes = prefixes or set()
        local: dict[int, int] = {}
        wanted_strings: dict[int, str | None] = {}
        wanted_fields: dict[int, str | None] = {}
        self.dexes.append(dex)
        dex_tag = len(self.dexes) << 32
        field_local: dict[int, int] = {}
        for cls in dex.classes():
            if cls.name in self.supers:
                self.problems.append(f"{dex.name}: class {cls.name} defined twice, first kept")
                continue
            self.supers[cls.name] = cls.superclass
            self.interfaces[cls.name] = cls.interfaces
            names = self.class_methods.setdefault(cls.name, set())
            for midx, _access, code_off in cls.methods:
                owner, name = dex.method_ref(midx)
                if owner != cls.name:
                    continue
                names.add(sys.intern(name))  # "run", "<init>": one object, not 100k
                gid = self.intern(f"{owner}->{name}")
                scanned = self._scan(
                    dex, gid, code_off, local, wanted_strings, wanted_fields, field_local
                )
                known = self.methods.get(gid)
                self.methods[gid] = scanned if known is None else _merged(known, scanned)
                if code_off:
                    if len(self.code_at) <= gid:
                        self.code_at.extend([0] * (gid + 1 - len(self.code_at) + 1024))
                    if self.code_at[gid]:  # an overload: its code counts too
                        self.more_code.setdefault(gid, []).append(dex_tag | code_off)
                    else:
                        self.code_at[gid] = dex_tag | code_off

    def _scan(
        self,
        dex: DexFile,
        gid: int,
        code_off: int,
        local: dict[int, int],
        wanted_strings: dict[int, str | None],
        wanted_fields: dict[int, str | None],
        field_local: dict[int, int],
    ) -> _Method:
        calls = array("I")
        types: list[str] = []
        strings: list[str] = []
        fields: list[str] = []
        hosts, prefixes = self._hosts, self._prefixes
        pending: list[str] = []
        url_context = False
        for op, index in dex.code(code_off):
            if op is Op.INVOKE:
                callee = local.get(index)
                if callee is None:
                    owner, name = dex.method_ref(index)
                    callee = self.intern(f"{owner}->{name}")
                    local[index] = callee
                calls.append(callee)
                if pending:
                    if callee in self._host_apis or (url_context and callee in self._append_apis):
                        self.host_uses.update(pending)
                    pending.clear()
            elif op is Op.NEW_INSTANCE or op is Op.CONST_CLASS:
                types.append(dex.type_name(index))
            elif op is Op.STRING:
                if hosts:
                    host = hosts.get(index)
                    if host is not None:
                        pending.append(host)
                    elif index in prefixes:
                        url_context = True
                if index not in wanted_strings:
                    text = dex.string(index)
                    keep = text == sources.ANDROID_ID_KEY or text in sources.TRIGGERS
                    wanted_strings[index] = text if keep else None
                hit = wanted_strings[index]
                if hit is not None:
                    strings.append(hit)
            elif op is Op.IGET:
                self._read_field(dex, gid, index, field_local)
            elif op is Op.SGET:
                self._read_field(dex, gid, index, field_local)
                if index not in wanted_fields:
                    owner, name = dex.field_ref(index)
                    key = f"{owner}->{name}"
                    wanted_fields[index] = key if key in sources.SOURCE_FIELDS else None
                fhit = wanted_fields[index]
                if fhit is not None:
                    fields.append(fhit)
        return _Method(calls, tuple(dict.fromkeys(types)), tuple(strings), tuple(fields))

    def _read_field(self, dex: DexFile, gid: int, index: int, field_local: dict[int, int]) -> None:
        fid = field_local.get(index)
        if fid is None:
            owner, name = dex.field_ref(index)
            key = f"{owner}->{name}"
            fid = self.field_ids.get(key)
            if fid is None:
                fid = self.field_ids[key] = len(self.field_ids)
            field_local[index] = fid
        readers = self.field_readers.get(fid)
        if readers is None:
            self.field_readers[fid] = array("I", (gid,))
        elif readers[-1] != gid:
            readers.append(gid)

    def code_locations(self, gid: int) -> list[tuple[DexFile, int]]:
        """The DEX and code offset of each body of an app method (one per overload with
        code; none for abstract, native and framework methods)."""
        loc = self.code_at[gid] if gid < len(self.code_at) else 0
        if not loc:
            return []
        return [
            (self.dexes[(at >> 32) - 1], at & 0xFFFFFFFF)
            for at in (loc, *self.more_code.get(gid, ()))
        ]

    def resolve_call(self, key: str) -> tuple[tuple[int, ...], str | None]:
        """App methods a call to ``key`` may reach, and the framework method it names."""
        return self._resolve_call(key, self.children)

    def resolve(self) -> None:
        """Turn raw invoke targets into edges, implicit edges and source/sink facts."""
        children = self.children
        for cls, sup in self.supers.items():
            for parent in (sup, *self.interfaces.get(cls, ())):
                if parent is not None:
                    children.setdefault(parent, []).append(cls)
        cache: dict[int, tuple[tuple[int, ...], str | None]] = {}
        for gid in list(self.methods):
            method = self.methods.pop(gid)  # freed as it goes: peak memory is one graph
            edges: list[int] = []
            strings = set(method.strings)
            self.code_actions.update(s for s in strings if s in sources.TRIGGERS)
            for field_key in method.fields:
                self._use(self.source_uses, gid, field_key, sources.SOURCE_FIELDS[field_key])
            for raw in dict.fromkeys(method.raw_calls):
                hit = cache.get(raw)
                if hit is None:
                    hit = self._resolve_call(self.keys[raw], children)
                    cache[raw] = hit
                targets, framework = hit
                edges.extend(targets)
                if framework is not None:
                    self._framework_call(gid, framework, raw, method, strings, edges)
            self.callees[gid] = array("I", dict.fromkeys(edges))

    def _resolve_call(
        self, key: str, children: dict[str, list[str]]
    ) -> tuple[tuple[int, ...], str | None]:
        """App methods a call may reach, and the framework method it names (if any)."""
        cls, _, name = key.partition("->")
        targets: list[int] = []
        framework: str | None = None
        owner: str | None = cls
        seen: set[str] = set()
        while owner is not None and owner not in seen:
            seen.add(owner)
            if owner not in self.supers:
                framework = f"{owner}->{name}"
                break
            if name in self.class_methods.get(owner, ()):
                targets.append(self.ids[f"{owner}->{name}"])
                break
            owner = self.supers.get(owner)
        if cls in self.supers and name != "<init>":
            targets.extend(self._overrides(cls, name, children))
        return tuple(dict.fromkeys(targets)), framework

    def _overrides(self, cls: str, name: str, children: dict[str, list[str]]) -> list[int]:
        out: list[int] = []
        queue = deque(children.get(cls, ()))
        seen: set[str] = set()
        while queue and len(out) < MAX_CHA_TARGETS and len(seen) < 10 * MAX_CHA_TARGETS:
            sub = queue.popleft()
            if sub in seen:
                continue
            seen.add(sub)
            if name in self.class_methods.get(sub, ()):
                out.append(self.ids[f"{sub}->{name}"])
            queue.extend(children.get(sub, ()))
        return out

    def _framework_call(
        self,
        gid: int,
        api: str,
        raw: int,
        method: _Method,
        strings: set[str],
        edges: list[int],
    ) -> None:
        identifier = sources.SOURCES.get(api)
        if identifier is None and api in sources.SETTINGS_GETTERS:
            identifier = "android_id" if sources.ANDROID_ID_KEY in strings else None
        if identifier is not None:
            self._use(self.source_uses, gid, api, identifier)
        channel = sources.SINKS.get(api)
        if channel is not None:
            self._use(self.sink_uses, gid, api, channel)
        _, _, name = api.partition("->")
        dispatch = sources.DISPATCHERS.get(api) or sources.CONTEXT_DISPATCHERS.get(name)
        if dispatch is None:
            return
        named_cls = self.keys[raw].partition("->")[0]
        candidates = [t for t in (named_cls, *method.types) if t in self.supers]
        for cls in candidates:
            for callback in dispatch.callbacks:
                target = self.find_method(cls, callback)
                if target is not None:
                    edges.append(target)

    def _use(self, uses: dict[int, set[tuple[str, str]]], gid: int, api: str, kind: str) -> None:
        bucket = uses.setdefault(gid, set())
        if len(bucket) < MAX_USES:
            bucket.add((api, kind))

    def find_method(self, cls: str, name: str) -> int | None:
        """The app method ``name`` that an object of ``cls`` runs (inherited included)."""
        owner: str | None = cls
        seen: set[str] = set()
        while owner is not None and owner in self.supers and owner not in seen:
            seen.add(owner)
            if name in self.class_methods.get(owner, ()):
                return self.ids[f"{owner}->{name}"]
            owner = self.supers.get(owner)
        return None

    # -- queries ----------------------------------------------------------------------

    def sources_found(self) -> list[ApiUse]:
        return _uses(self.source_uses, self.keys)

    def sinks_found(self) -> list[ApiUse]:
        return _uses(self.sink_uses, self.keys)

    def entry_points(self, manifest: Manifest) -> list[tuple[str, int]]:
        """(label, method id) of each lifecycle callback of each declared component."""
        out: list[tuple[str, int]] = []
        comps: list[tuple[str, str, list[str]]] = [
            (c.kind, c.name, c.actions) for c in manifest.components
        ]
        if manifest.application_class:
            comps.append(("application", manifest.application_class, []))
        for kind, name, actions in comps:
            cls = "L" + name.replace(".", "/") + ";"
            triggers = [t for a in actions if (t := sources.trigger_name(a))]
            label = f"{'/'.join(triggers)} {kind}" if triggers else f"{kind} {name}"
            for callback in sources.ENTRY_CALLBACKS.get(kind, ()):
                target = self.find_method(cls, callback)
                if target is not None:
                    out.append((label, target))
        return out

    def reach(self, manifest: Manifest) -> list[tuple[str, dict[int, int]]]:
        """Per entry point: its label and the methods it reaches (method -> parent)."""
        return [(label, self._forward_bfs(entry)) for label, entry in self.entry_points(manifest)]

    def chains(
        self, manifest: Manifest, reach: list[tuple[str, dict[int, int]]] | None = None
    ) -> list[Chain]:
        """Entry -> source ... sink chains (reachability), shortest first per entry and
        source API."""
        if not self.source_uses or not self.sink_uses:
            return []
        if reach is None:
            reach = self.reach(manifest)
        callers = self._callers()
        to_sink = _reverse_bfs(set(self.sink_uses), callers)
        by_api: dict[tuple[str, str], set[int]] = {}
        for gid, uses in self.source_uses.items():
            for api, identifier in uses:
                by_api.setdefault((api, identifier), set()).add(gid)
        to_source = {key: _reverse_bfs(gids, callers) for key, gids in by_api.items()}
        chains: dict[tuple[str, str], Chain] = {}
        for label, parents in reach:
            for (api, identifier), dist in to_source.items():
                key = (label, api)
                if key in chains or len(chains) >= MAX_CHAINS:
                    continue
                joint = _first_joint(parents, dist, to_sink)
                if joint is None:
                    continue
                chains[key] = self._chain(label, joint, parents, dist, to_sink, api, identifier)
        return sorted(chains.values(), key=lambda c: (c.entry, c.source))

    def _chain(
        self,
        label: str,
        joint: int,
        parents: dict[int, int],
        dist_source: dict[int, int],
        dist_sink: dict[int, int],
        api: str,
        identifier: str,
    ) -> Chain:
        head: list[int] = []
        node = joint
        while node != -1:
            head.append(node)
            node = parents[node]
        head.reverse()
        src_path = _descend(joint, dist_source, self.callees)
        sink_path = _descend(joint, dist_sink, self.callees)
        sink_api = sorted(a for a, _ in self.sink_uses[sink_path[-1]])[0]
        return Chain(
            entry=label,
            identifier=identifier,
            source=sources.api_label(api),
            sink=sources.api_label(sink_api),
            to_source=tuple(method_name(self.keys[g]) for g in head + src_path[1:]),
            to_sink=tuple(method_name(self.keys[g]) for g in sink_path),
        )

    def _callers(self) -> dict[int, list[int]]:
        callers: dict[int, list[int]] = {}
        for caller, targets in self.callees.items():
            for callee in targets:
                callers.setdefault(callee, []).append(caller)
        return callers

    def path_to(self, parents: dict[int, int], gid: int) -> tuple[str, ...]:
        """Method names from an entry point down to ``gid`` (in a :meth:`reach` map)."""
        path: list[int] = []
        node = gid
        while node != -1 and len(path) <= MAX_DEPTH + 1:
            path.append(node)
            node = parents[node]
        return tuple(method_name(self.keys[g]) for g in reversed(path))

    def _forward_bfs(self, entry: int) -> dict[int, int]:
        """method -> parent (-1 for the entry), in BFS order, bounded by depth and size."""
        parents = {entry: -1}
        frontier = [entry]
        for _ in range(MAX_DEPTH):
            nxt: list[int] = []
            for node in frontier:
                for callee in self.callees.get(node, ()):
                    if callee not in parents and len(parents) < MAX_VISITED:
                        parents[callee] = node
                        nxt.append(callee)
            if not nxt:
                break
            frontier = nxt
        return parents


def _uses(table: dict[int, set[tuple[str, str]]], keys: list[str]) -> list[ApiUse]:
    out = [
        ApiUse(sources.api_label(api), kind, method_name(keys[gid]))
        for gid, uses in table.items()
        for api, kind in uses
    ]
    return sorted(out, key=lambda u: (u.api, u.method))


def _reverse_bfs(targets: set[int], callers: dict[int, list[int]]) -> dict[int, int]:
    """Distance (in calls) from each method to the nearest method in ``targets``."""
    dist = dict.fromkeys(targets, 0)
    frontier = list(targets)
    for depth in range(1, MAX_DEPTH + 1):
        nxt: list[int] = []
        for node in frontier:
            for caller in callers.get(node, ()):
                if caller not in dist and len(dist) < MAX_VISITED:
                    dist[caller] = depth
                    nxt.append(caller)
        if not nxt:
            break
        frontier = nxt
    return dist


def _first_joint(
    parents: dict[int, int], dist_source: dict[int, int], dist_sink: dict[int, int]
) -> int | None:
    """The reachable method closest to both the source and the sink call (then the
    shallowest): the task that does the work, not the entry that started it."""
    best: tuple[int, int, int] | None = None
    depth: dict[int, int] = {}
    for node, parent in parents.items():  # insertion order is BFS order
        depth[node] = 0 if parent == -1 else depth[parent] + 1
        if node in dist_source and node in dist_sink:
            score = (dist_source[node] + dist_sink[node], depth[node], node)
            if best is None or score < best:
                best = score
    return None if best is None else best[2]


def _descend(start: int, dist: dict[int, int], callees: dict[int, array[int]]) -> list[int]:
    """Shortest path from ``start`` down to a method at distance 0."""
    path = [start]
    node = start
    while dist[node] > 0:
        node = next(c for c in callees.get(node, ()) if dist.get(c) == dist[node] - 1)
        path.append(node)
    return path
