"""The packages' import graph has no cycle, counting the imports inside functions too (a local
import must not hide one: the zoo builds on quanos_hw.layers, bitconfig and quantization, never
the other way round), and energy_models imports neither torch nor quanos_hw."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("energy_models", "quanos_hw")


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imported_names(name: str, path: Path, is_package: bool) -> set[str]:
    """Absolute names of every module ``name`` imports, anywhere in the file."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[:len(here) - node.level + 1] + [node.module or ""]) if node.level else node.module
            base = base.rstrip(".")
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, (path, is_package) in modules.items():
        edges = set()
        for imported in _imported_names(name, path, is_package):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c imports a and a.b first
                target = ".".join(parts[:i])
                # a package's own ancestors are already initialised when it runs: not an edge
                if target in modules and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    graph = _graph()
    assert {"quanos_hw.layers", "quanos_hw.models", "quanos_hw.bitconfig"} <= set(graph)
    assert "quanos_hw.layers" in graph["quanos_hw.bitconfig"] and "quanos_hw.bitconfig" in graph["quanos_hw.models"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_energy_models_imports_neither_torch_nor_quanos_hw():
    modules = _modules()
    for name, (path, is_package) in modules.items():
        if name.startswith("energy_models"):
            roots = {imported.split(".")[0] for imported in _imported_names(name, path, is_package)}
            assert not roots & {"torch", "quanos_hw", "brevitas"}, name
