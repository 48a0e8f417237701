"""The package's shape: stages import only earlier stages, no import cycles (function-level
imports included), and only the face and the wiring directly in ``autodl/``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autodl"
STAGES = [
    ("autodl", "autodl.errors", "autodl.outcome"),
    ("autodl.spec",),
    ("autodl.runtime",),
    ("autodl.data",),
    ("autodl.models",),
    ("autodl.trial",),
    ("autodl.search",),
    ("autodl.tracking",),
    ("autodl.results",),
    ("autodl.report",),
    ("autodl.export",),
    ("autodl.pipeline",),
    ("autodl.cli", "autodl.__main__"),
]
"""The data flow, earliest first; a module may import its own stage and earlier ones."""
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "pipeline.py", "errors.py", "outcome.py"}


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = module_names()


def imports_of(name: str) -> set[str]:
    """The autodl modules ``name`` imports anywhere in its body (``from pkg import sub`` counts as
    importing ``pkg.sub`` when that is a module; ``TYPE_CHECKING`` blocks are left out)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for inner in node.body for child in ast.walk(inner))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("autodl"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autodl"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found - {name}


def stage_of(name: str) -> int:
    """The index in ``STAGES`` of the stage (package or top module) ``name`` belongs to."""
    best = -1
    for index, members in enumerate(STAGES):
        for member in members:
            if (name == member or name.startswith(member + ".")) and (member != "autodl" or name == "autodl"):
                best = index
    if best < 0:
        raise AssertionError(f"{name} belongs to no stage; add its package to STAGES")
    return best


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_from_later_stages_to_earlier_ones(name: str) -> None:
    later = sorted(i for i in imports_of(name) if stage_of(i) > stage_of(name))
    assert later == [], f"{name} (stage {STAGES[stage_of(name)][0]}) imports later stages: {later}"


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name) & set(MODULES) for name in MODULES}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [name, target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_only_the_face_and_the_wiring_stay_at_the_top() -> None:
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL and len(top) <= 8
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "spec", "runtime", "data", "models", "trial", "search", "tracking", "results", "report", "export",
    }


def test_stage_list_covers_every_module() -> None:
    for name in MODULES:
        stage_of(name)


def test_no_assert_stands_as_a_runtime_check() -> None:
    found = [f"{name}:{node.lineno}" for name, path in MODULES.items()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Assert)]
    assert found == []


def test_importing_every_module_loads_no_keras_and_configures_nothing() -> None:
    """Nothing happens at import time: TensorFlow and Keras load when a trial needs them, and
    Optuna's verbosity and the warning filters are set when a search starts."""
    names = sorted(n for n in MODULES if n != "autodl.__main__")
    code = (
        "import sys, warnings, importlib, optuna\n"
        "level, filters = optuna.logging.get_verbosity(), list(warnings.filters)\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules))\n"
        "print(optuna.logging.get_verbosity() == level, warnings.filters == filters)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True True"]
