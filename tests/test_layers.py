"""The code's shape is checked, not hoped for: no import cycles, no private names across
modules, and importing a stage or the catalog loads no face. ``lint-imports`` (in ``make
test``) checks the layers themselves (pyproject.toml, ``[tool.importlinter]``)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lake", "catalog", "ingest", "queries")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each one an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    graph = _graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles (outside TYPE_CHECKING): " + "; ".join(
        " <-> ".join(group) for group in cycles
    )


def test_the_cycle_check_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] in PACKAGES
        ):
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name} from {node.module}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_no_private_name_is_imported_from_another_module():
    found = [line for path in _sources() for line in _private_imports(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("stage", ["catalog", "ingest", "queries", "lake.landing"])
def test_importing_a_stage_or_the_catalog_loads_no_face(stage):
    modules = {
        "catalog": "catalog.catalog, catalog.lineage, catalog.registry, catalog.pins, "
        "catalog.openlineage_in, catalog.openlineage_out",
        "ingest": "ingest.logs.pipeline, ingest.db.pipeline",
        "queries": "queries.sql, queries.training",
        "lake.landing": "lake.landing.commits, lake.landing.sync, lake.landing.vacuum",
    }[stage]
    code = (
        f"import {modules}, sys; "
        "faces = [m for m in sys.modules if m.startswith(('lake.faces', 'lake.cli', 'lake.api', "
        "'lake.service'))]; "
        "assert not faces, faces"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
