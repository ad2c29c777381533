"""Read models have one registry and no import circle (issue 14): every ``projections`` module
imports first in a fresh interpreter, no module imports another in a circle (not even inside a
function), and the runner imports neither the application nor any read model."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import projections
from projections.read_model import EventDrivenReadModel
from projections.registry import READ_MODELS, all_read_models

ROOT = Path(projections.__file__).parent
MODULES = sorted(f"projections.{p.stem}" for p in ROOT.glob("*.py") if p.stem != "__init__")
VIEWS = [m for m in MODULES if m.endswith("_views")]


def imports_of(module: str) -> set[str]:
    """The projections modules a module imports, at its top or inside a function."""
    tree = ast.parse((ROOT / f"{module.rpartition('.')[2]}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


def test_the_projections_modules_import_without_a_circle() -> None:
    graph = {m: imports_of(m) for m in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module not in done:
            for imported in graph[module]:
                visit(imported, (*path, module))
            done.add(module)

    for module in MODULES:
        visit(module, ())
    # No read model imports another; only the registry imports them all.
    for view in VIEWS:
        assert not graph[view] & set(VIEWS), view
    assert set(VIEWS) <= graph["projections.registry"]


CHECK = """
import sys
first = sys.argv[1]
__import__(first)
if first == "projections.runner":
    assert "ledger.application" not in sys.modules, "projections.runner imports the application"
    views = [m for m in sys.modules if m.endswith("_views") or m == "projections.registry"]
    assert not views, f"projections.runner imports {sorted(views)}"
"""


def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    """Each module imported first: a circle through it shows as an ImportError on a partly
    initialised module. The interpreters run at once."""
    orders = [[m] for m in MODULES]
    running = [
        subprocess.Popen(
            [sys.executable, "-c", CHECK, *order],
            cwd=ROOT.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for order in orders
    ]
    failures = []
    for order, process in zip(orders, running, strict=True):
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            failures.append(f"{' '.join(order)}:\n{output}")
    assert not failures, "\n".join(failures)


def test_the_registry_lists_every_read_model_once() -> None:
    defined = {
        cls
        for module in VIEWS
        for cls in vars(__import__(module, fromlist=["_"])).values()
        if isinstance(cls, type)
        and issubclass(cls, EventDrivenReadModel)
        and cls is not EventDrivenReadModel
        and cls.__module__ == module
    }
    assert len(READ_MODELS) == len(set(READ_MODELS))
    assert set(READ_MODELS) == defined
    names = [rm.name for rm in all_read_models()]
    assert len(names) == len(set(names))
