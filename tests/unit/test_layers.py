"""The import order of the house: a lower layer never imports a higher one, and no package cycles.

Every import of every module under gi_trace/ is read with `ast`, those inside functions included
(an import moved into a function to dodge a cycle is still a cycle). Layers, lowest first:

    platform   config, db, errors, types, timeutil, i18n, formatting, network, schemas, observability
               (logs, metrics), jobs (outbox, queue, long jobs), spreadsheets (the one CSV/XLSX
               writer), extensions, and the plumbing every face uses (access, api, web): they
               import no area
    accounts → registry → authorisation → tracing → scan → oversight
               each area with its models, services and its own faces (views*, api*, cli*)
    app        the app factory (gi_trace/__init__.py), models.py, migrate.py, migrations, ops, demo:
               they wire the areas together

An area may import the platform, itself and the areas below it. Where a higher area extends a lower
one, the app factory connects them (gi_trace/__init__.py `_connect_areas`).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gi_trace"

AREAS = ("accounts", "registry", "authorisation", "tracing", "scan", "oversight")
PLATFORM = ("config", "db", "errors", "types", "timeutil", "i18n", "i18n_tools", "formatting", "network",
            "schemas", "observability", "extensions", "access", "api", "web", "jobs", "spreadsheets")
APP = ("", "models", "migrate", "migrations", "ops", "demo")


def rank(unit: str) -> int:
    """0 for the platform, 1.. for the areas in order, above them the app."""
    if unit in PLATFORM:
        return 0
    if unit in AREAS:
        return 1 + AREAS.index(unit)
    if unit in APP:
        return 1 + len(AREAS)
    raise AssertionError(f"gi_trace.{unit} has no layer: add it to tests/unit/test_layers.py")


def unit_of(module: str) -> str:
    """The top-level package or module of gi_trace a dotted module name belongs to ('' for gi_trace)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path):
    """(line, imported module) for every import in the file, at any depth (functions included)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from gi_trace import formatting` imports gi_trace.formatting
                submodule = f"{target}.{alias.name}"
                yield node.lineno, submodule if _exists(submodule) else target


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def house_imports():
    """(file, line, importing unit, imported unit) for every import of one gi_trace unit by another."""
    for path in sorted(PACKAGE.rglob("*.py")):
        here = unit_of(module_name(path))
        for line, target in imports_of(path):
            if target == "gi_trace" or target.startswith("gi_trace."):
                there = unit_of(target)
                if there != here:
                    yield path.relative_to(PACKAGE.parent), line, here, there


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    for unit in units:
        rank(unit)


def test_no_import_from_a_higher_layer():
    wrong = [f"{path}:{line}: gi_trace.{here or '__init__'} (layer {rank(here)}) imports gi_trace.{there} "
             f"(layer {rank(there)})"
             for path, line, here, there in house_imports() if rank(there) > rank(here)]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for path, line, here, there in house_imports():
        graph[here].add(there)
        where.setdefault((here, there), f"{path}:{line}")
    cycles = []
    for start in list(graph):
        # depth-first search for a path from each successor back to `start`
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(trail + [start])
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
    described = sorted({" → ".join(c) + "  (" + ", ".join(where[(a, b)] for a, b in zip(c, c[1:])) + ")"
                        for c in cycles})
    assert not described, "package cycles:\n" + "\n".join(described)


@pytest.mark.parametrize("source, expected", [
    ("from gi_trace.scan import models\n", "gi_trace.scan"),
    ("def f():\n    from gi_trace.oversight.models import Complaint\n", "gi_trace.oversight.models"),
    ("import gi_trace.tracing.rules as r\n", "gi_trace.tracing.rules"),
    ("from . import rules\n", "gi_trace.registry"),
    ("from gi_trace import registry\n", "gi_trace.registry"),
])
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected, monkeypatch):
    """The check is only as good as its reader: module level, inside functions, aliased, relative."""
    package = tmp_path / "gi_trace" / "registry"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    path = package / "views.py"
    path.write_text(source, encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", tmp_path / "gi_trace")
    assert [target for _line, target in imports_of(path)] == [expected]
