"""Imports run downwards only: every module under src/cxrgan, read with `ast` (so every import
counts, function-local and TYPE_CHECKING ones too), is checked against the layer map below.

The layers are drawn in docs/architecture.md; change both together.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "cxrgan"

# Every top-level module or sub-package of cxrgan, with its layer (low → high). A module may
# import from its own package, from lower layers, and from peers of its layer except in layer 1.
LAYERS: dict[str, int] = {
    "cxrgan.errors": 0,
    "cxrgan.files": 0,
    "cxrgan.lifeline": 0,
    "cxrgan.registry": 0,
    "cxrgan.data": 1,
    "cxrgan.models": 1,
    "cxrgan.metrics": 1,
    "cxrgan.losses": 1,
    "cxrgan.augment": 1,
    "cxrgan.schedule": 1,
    "cxrgan.tracking": 1,
    "cxrgan.config": 2,
    "cxrgan.input_settings": 2,
    "cxrgan.dp_settings": 2,
    "cxrgan.settings": 2,
    "cxrgan.recipes": 2,
    "cxrgan.reporting": 3,
    "cxrgan.training": 4,
    "cxrgan.inference": 5,
    "cxrgan.sweep": 6,
    "cxrgan.study": 6,
    "cxrgan.utility": 6,
    "cxrgan.evaluation": 6,
    "cxrgan.privacy": 6,
    "cxrgan.cli": 7,
}
# Layer 1's packages are independent building blocks: none imports another.
INDEPENDENT_LAYERS = {1}
# The public surface may import anything (cxrgan/__init__.py only lazily, see below).
SURFACE = {"cxrgan", "cxrgan.__main__", "cxrgan.api"}
# What any module may take from cxrgan/__init__.py: metadata, not the public surface.
ROOT_METADATA = {"__version__"}
NAMES = {
    0: "base helpers",
    1: "building blocks",
    2: "settings",
    3: "reporting",
    4: "training",
    5: "inference",
    6: "many runs, studies and evaluation",
    7: "command line",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. cxrgan.data.source
    line: int
    target: str  # the imported module, e.g. cxrgan.config
    top_level: bool  # executed when the module is imported (not in a function or TYPE_CHECKING)

    def where(self) -> str:
        path = module_path(self.module).relative_to(SRC.parent)
        return f"{path}:{self.line} ({self.module}) imports {self.target}"


def module_path(name: str) -> Path:
    base = SRC.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return SRC.joinpath(*name.split(".")).is_dir()


def unit_of(name: str) -> str:
    """The layer map's key for a module: `cxrgan`, or `cxrgan.<top-level module or package>`."""
    return ".".join(name.split(".")[:2])


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if is_package(module) else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(module: str, node: ast.AST) -> list[str]:
    """The cxrgan modules an import statement (or importlib.import_module("...") call) loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        source = _absolute(module, node)
        if source != ROOT:
            return [source]
        # `from cxrgan import x`: a sub-module, metadata, or a name of the public surface.
        out = []
        for alias in node.names:
            sub = f"{ROOT}.{alias.name}"
            if is_package(sub) or module_path(sub).is_file():
                out.append(sub)
            elif alias.name not in ROOT_METADATA:
                out.append(ROOT)
        return out
    if isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value]
        if isinstance(arg, ast.JoinedStr) and arg.values:  # f"cxrgan.cli.{name}"
            head = arg.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                return [head.value.rstrip(".")]
    return []


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for target in _targets(module, node):
            if target == ROOT or target.startswith(ROOT + "."):
                found.append(Import(module, getattr(node, "lineno", 0), target, top_level))
        deferred = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, top_level and not deferred and not _is_type_checking(node))

    visit(ast.parse(source), True)
    return found


def all_modules() -> list[str]:
    return sorted(module_name(p) for p in (SRC / ROOT).rglob("*.py"))


def all_imports() -> list[Import]:
    return [i for m in all_modules() for i in imports_of(m, module_path(m).read_text("utf-8"))]


def _layer_name(unit: str) -> str:
    layer = LAYERS[unit]
    return f"{unit} (layer {layer}, {NAMES[layer]})"


def _unknown(unit: str) -> bool:
    return unit not in LAYERS and unit not in SURFACE


def _report(problems: list[str], what: str) -> str:
    return f"{len(problems)} {what}:\n  " + "\n  ".join(problems)


def test_every_package_has_a_layer() -> None:
    units = {unit_of(m) for m in all_modules()} | {unit_of(i.target) for i in all_imports()}
    missing = sorted(u for u in units if _unknown(u))
    assert not missing, (
        f"{', '.join(missing)}: not in the layer map; add each to LAYERS in tests/test_layers.py "
        "(and to the diagram in docs/architecture.md) at the layer it belongs to"
    )


def test_nothing_outside_cli_imports_cli() -> None:
    problems = [
        i.where()
        for i in all_imports()
        if unit_of(i.target) == "cxrgan.cli"
        and unit_of(i.module) != "cxrgan.cli"
        and i.module not in SURFACE
    ]
    assert not problems, _report(problems, "import(s) of cxrgan.cli from outside cli/")


def test_imports_run_downwards_only() -> None:
    problems = []
    for i in all_imports():
        src, dst = unit_of(i.module), unit_of(i.target)
        if i.module in SURFACE or src == dst or _unknown(src) or _unknown(dst):
            continue  # unknown packages fail test_every_package_has_a_layer
        if dst in SURFACE:
            problems.append(f"{i.where()}: the public surface is for users, not for cxrgan")
        elif LAYERS[dst] > LAYERS[src]:
            problems.append(f"{i.where()}: {_layer_name(src)} → higher {_layer_name(dst)}")
        elif LAYERS[dst] == LAYERS[src] and LAYERS[src] in INDEPENDENT_LAYERS:
            problems.append(f"{i.where()}: layer-{LAYERS[src]} packages do not import each other")
    assert not problems, _report(problems, "import(s) against the layer order")


def test_public_surface_imports_lazily() -> None:
    """cxrgan/__init__.py runs before every cxrgan module: importing cxrgan.errors must not load
    training (and torch) through it."""
    source = module_path(ROOT).read_text("utf-8")
    eager = [i.where() for i in imports_of(ROOT, source) if i.top_level]
    assert not eager, _report(eager, "top-level import(s) in cxrgan/__init__.py; import lazily")


def diagram_layers(text: str) -> dict[str, int]:
    """The layer map as docs/architecture.md draws it: its first code block, one package a
    line, the layer number on the first line of each layer."""
    block = text.split("```", 2)[1]
    drawn: dict[str, int] = {}
    layer = -1
    for line in block.splitlines():
        number = re.match(r"\s*(\d+)\s", line)
        if number:
            layer = int(number[1])
        package = re.search(r"\b(cxrgan(?:\.\w+)?)\b", line)
        if package:
            drawn[package[1]] = layer
    return drawn


def test_the_architecture_diagram_draws_the_layer_map() -> None:
    doc = SRC.parent / "docs" / "architecture.md"
    assert diagram_layers(doc.read_text("utf-8")) == LAYERS, (
        "docs/architecture.md's diagram and LAYERS differ: change both together"
    )


# --- the checker itself -----------------------------------------------------------------------


def test_reader_sees_every_kind_of_import() -> None:
    source = """
from typing import TYPE_CHECKING
import cxrgan.cli.main
from cxrgan.config import TrainConfig
from cxrgan import __version__, files
from . import cache
from ..reporting import plots
if TYPE_CHECKING:
    from cxrgan.training import state
def f():
    from cxrgan.sweep.grid import grid
    importlib.import_module(f"cxrgan.cli.{name}")
"""
    found = imports_of("cxrgan.data.source", source)
    assert [(i.target, i.top_level) for i in found] == [
        ("cxrgan.cli.main", True),
        ("cxrgan.config", True),
        ("cxrgan.files", True),
        ("cxrgan.data", True),
        ("cxrgan.reporting", True),
        ("cxrgan.training", False),
        ("cxrgan.sweep.grid", False),
        ("cxrgan.cli", False),
    ]
    assert [i.line for i in found][:3] == [3, 4, 5]


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("cxrgan", "cxrgan"),
        ("cxrgan.data.source", "cxrgan.data"),
        ("cxrgan.config", "cxrgan.config"),
    ],
)
def test_unit_of(name: str, unit: str) -> None:
    assert unit_of(name) == unit
