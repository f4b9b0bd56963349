"""The documented layering is the layering of the code (issue 15).

``docs/architecture.md`` lists the packages in layers, highest first. This test computes the
import graph of ``src/scalinglab`` from the source (every ``import`` statement, at module level
or inside a function: a lazy import is still a dependency) and checks that every package is in
exactly one layer and that every import points to the importer's own layer or one below it.
It also checks the third-party rule the page states: nothing outside ``train`` and ``sweep``
imports PyTorch at module level (an optional fallback may import it inside a function, guarded:
the HF config counter uses ``transformers`` on the meta device when both are installed).
"""

from __future__ import annotations

import ast
import functools
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "scalinglab"
DOC = ROOT / "docs" / "architecture.md"

#: the part of the package every import is attributed to: ``scalinglab.fit.core`` -> ``fit``;
#: the package root (``scalinglab/__init__.py``, ``__main__.py``) is ``scalinglab``.
ROOT_MODULES = {"__init__", "__main__"}


def _unit(parts: tuple[str, ...]) -> str:
    head = parts[0].removesuffix(".py")
    return "scalinglab" if head in ROOT_MODULES else head


def documented_layers() -> list[list[str]]:
    """The layer block of docs/architecture.md: one list of package names per line."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "docs/architecture.md: no layer block under '## Layers'"
    layers = []
    for line in block.group(1).splitlines():
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        layers.append([n.strip() for n in names.split(",") if n.strip()])
    return layers


@functools.lru_cache(maxsize=1)
def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(internal, external)``: package -> packages of scalinglab it imports (anywhere), and
    package -> third-party top-level modules it imports at module level."""
    internal: dict[str, set[str]] = defaultdict(set)
    external: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        unit = _unit(path.relative_to(SRC).parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "scalinglab":
                    names = [f"scalinglab.{a.name}" for a in node.names]
                else:
                    names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] != "scalinglab":
                    if id(node) in module_level:
                        external[unit].add(parts[0])
                    continue
                if parts[1:] == ["__version__"]:
                    continue  # package metadata, set before any subpackage is imported
                target = "scalinglab" if len(parts) == 1 else parts[1]
                if (SRC / target).is_dir() or (SRC / f"{target}.py").exists() \
                        or target == "scalinglab":
                    if target != unit:
                        internal[unit].add(target)
    return internal, external


def _packages() -> set[str]:
    out = {"scalinglab"}
    for p in SRC.iterdir():
        if p.is_dir() and (p / "__init__.py").exists():
            out.add(p.name)
        elif p.suffix == ".py" and p.stem not in ROOT_MODULES:
            out.add(p.stem)
    return out


def test_every_package_is_in_exactly_one_documented_layer() -> None:
    layers = documented_layers()
    listed = [n for layer in layers for n in layer]
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    assert set(listed) == _packages(), (
        f"undocumented: {sorted(_packages() - set(listed))}; "
        f"documented but absent: {sorted(set(listed) - _packages())}")


def test_imports_point_to_the_same_layer_or_below() -> None:
    rank = {name: i for i, layer in enumerate(documented_layers()) for name in layer}
    internal, _ = import_graph()
    upward = sorted(f"{src} -> {dst}" for src, dsts in internal.items() for dst in dsts
                    if rank[dst] < rank[src])
    assert not upward, ("imports pointing up the documented layers (move the code or fix "
                        f"docs/architecture.md): {upward}")


@pytest.mark.parametrize("unit", sorted(_packages() - {"train", "sweep", "cli", "scalinglab"}))
def test_torch_only_in_train_and_sweep(unit: str) -> None:
    _, external = import_graph()
    assert "torch" not in external.get(unit, set())


def test_the_graph_sees_lazy_imports() -> None:
    """The checker itself: the CLI imports almost every package only inside its commands; a
    graph of module-level imports alone would miss them."""
    internal, _ = import_graph()
    assert {"fit", "plan", "train", "sweep", "report"} <= internal["cli"]
    assert "laws" in internal["accounting"]  # a lazy import inside a function
