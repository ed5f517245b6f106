"""The import graph of dancegen, read from the source (AST, function-local imports included): no cycles, and every
import points down the layer order documented in ``docs/architecture.md``.

A module may import modules of its own layer or of lower layers, never of a higher one; mtlkit imports nothing of
dancegen (checked in ``tests/mtlkit``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "dancegen"

#: Lowest first. A module belongs to the first layer with a prefix that matches its dotted name.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("infrastructure", ("dancegen.errors", "dancegen.atomic", "dancegen.locking", "dancegen.path_checks",
                        "dancegen.safe_pickle", "dancegen.tensor_files", "dancegen.plugins")),
    ("motion", ("dancegen.motion",)),
    ("components", ("dancegen.features", "dancegen.genre", "dancegen.model", "dancegen.diffusion",
                    "dancegen.metrics", "dancegen.losses", "dancegen.longform", "dancegen.constraints",
                    "dancegen.sampling", "dancegen.precision", "dancegen.export")),
    ("built-ins", ("dancegen._builtins",)),
    ("data", ("dancegen.data",)),
    ("checkpoint", ("dancegen.checkpoint", "dancegen.components")),
    ("train and generate", ("dancegen.train", "dancegen.pipeline", "dancegen.window_sampler",
                            "dancegen.clip_batch", "dancegen.output_folder", "dancegen.hub")),
    ("evaluation", ("dancegen.evaluation", "dancegen.ablation", "dancegen.demo", "dancegen.hub_export")),
    ("cli", ("dancegen.cli", "dancegen.__main__")),
)


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """dancegen modules imported anywhere in module ``name`` (relative imports resolved; ``from pkg import mod``
    counts as importing ``pkg.mod``)."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):  # a package's own __init__
                found.add(target)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def layer_of(name: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer of tests/dancegen/test_architecture.py: add it to LAYERS and to "
                         "docs/architecture.md")


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        if name != "dancegen":
            layer_of(name)


def test_imports_point_down_the_layers() -> None:
    upward = sorted(f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
                    for a, targets in GRAPH.items() if a != "dancegen"
                    for b in targets if b != "dancegen" and layer_of(b) > layer_of(a))
    assert upward == []


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert cycles == []


@pytest.mark.parametrize("constant", ["FPS = ", "NUM_CHANNELS = ", "BODY_CHANNELS = ", "WINDOW = 120"])
def test_one_home_per_constant(constant: str) -> None:
    homes = sorted(str(p.relative_to(ROOT.parent)) for p in MODULES.values()
                   if any(line.startswith(constant) for line in p.read_text(encoding="utf-8").splitlines()))
    assert len(homes) == 1, homes
