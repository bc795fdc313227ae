"""The import graph of phonehome has no cycle, and library code never imports the CLI.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING``, and the
modules the CLI loads by name (``importlib.import_module``, the lazy command registry). A
cycle that only works because one of its imports sits inside a function is still a
cycle: it makes the order of imports matter and the packages impossible to read alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "phonehome"

NOT_IMPORTS = {"phonehome.native": "COMPILED_MODULES names the modules mypyc compiles"}
"""Modules whose module-name strings are not imports."""


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        out[".".join(parts)] = (path, package)
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` loads: itself, or the package whose attribute it is."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def imports_of(module: str) -> Iterator[str]:
    path, package = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    here = module if package else module.rpartition(".")[0]
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found = _resolve(alias.name)
                if found:
                    yield found
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if not base.startswith("phonehome"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found = full if full in MODULES else _resolve(base)
                if found:
                    yield found
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in MODULES
            and id(node) not in docs
            and module not in NOT_IMPORTS
        ):
            yield node.value  # importlib.import_module("phonehome.cli.scan"), registries


def graph() -> dict[str, set[str]]:
    return {m: set(imports_of(m)) - {m} for m in MODULES}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def package_of(module: str) -> str:
    """``phonehome.store.db`` -> ``phonehome.store``; top-level modules are their own."""
    return ".".join(module.split(".")[:2])


def package_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, targets in edges.items():
        for b in targets:
            pa, pb = package_of(a), package_of(b)
            if pa != pb and pb != "phonehome":
                out.setdefault(pa, set()).add(pb)
    return out


def test_the_graph_sees_function_level_and_lazy_imports() -> None:
    edges = graph()
    assert "phonehome.cli.scan" in edges["phonehome.cli"]  # the lazy command registry
    assert "phonehome.enrich.events" in edges["phonehome.cli.scan"]  # inside a function


def test_no_module_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_package_import_cycle() -> None:
    """Packages too: the flow table's contracts live in net/ (net.contracts), below both
    the protocols that implement them and the readers that run its filter."""
    assert cycles(package_graph(graph())) == []


ENTRY_POINTS = {"phonehome.__main__"}
"""``python -m phonehome``: the CLI's own entry point, not library code."""


@pytest.mark.parametrize(
    "module",
    sorted(m for m in MODULES if package_of(m) != "phonehome.cli" and m not in ENTRY_POINTS),
)
def test_library_code_never_imports_the_cli(module: str) -> None:
    assert not [m for m in imports_of(module) if package_of(m) == "phonehome.cli"]


@pytest.mark.parametrize("package", ["phonehome.store", "phonehome.static"])
def test_store_and_static_do_not_import_click(package: str) -> None:
    for module, (path, _) in MODULES.items():
        if module.startswith(package + "."):
            tree = ast.parse(path.read_text())
            names = [
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            ] + [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
            assert "click" not in names, module


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
