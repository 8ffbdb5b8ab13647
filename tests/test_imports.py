"""The shape of the code, read from the source with ``ast`` (nothing is imported): no
import cycle anywhere in ``tui/`` and ``storage/`` — counting imports inside functions
and under ``TYPE_CHECKING`` too — no screen or dialog that imports the app, and no
Textual in the parts of the UI that are meant to be tested without a screen."""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tui", "storage")


@cache
def modules() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


@cache
def imported(name: str) -> frozenset[str]:
    """Every module ``name`` imports, ours or not, wherever the import statement is."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:  # ``from a import b``: the module a.b, or a's name b
                names.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules()
                          else source)
    return frozenset(names)


def ours(name: str) -> set[str]:
    return {other for other in imported(name) if other in modules()}


def cycles(edges: Callable[[str], set[str]] = ours) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges(node)):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == node:
                    break
            if len(group) > 1 or node in edges(node):
                found.append(sorted(group))

    for name in sorted(modules()):
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle_anywhere() -> None:
    assert len(modules()) > 100
    assert cycles() == []


def test_the_walk_sees_a_cycle_when_there_is_one() -> None:
    """The check itself: the circle there was (app → screens.main → screens.detail → app)
    is found when the detail screen imports the app again."""
    def edges(name: str) -> set[str]:
        return ours(name) | ({"tui.ui.app"} if name == "tui.ui.screens.detail" else set())

    assert any({"tui.ui.app", "tui.ui.screens.main", "tui.ui.screens.detail"} <= set(group)
               for group in cycles(edges))


def test_screens_and_dialogs_never_import_the_app() -> None:
    offenders = [name for name in modules()
                 if name.startswith(("tui.ui.screens", "tui.ui.dialogs"))
                 and "tui.ui.app" in imported(name)]
    assert offenders == []


def closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += ours(current)
    return seen


def test_the_view_model_commands_and_registry_need_no_textual() -> None:
    free = [name for name in modules() if name.startswith(("tui.ui.view", "tui.ui.commands"))]
    free += ["tui.ui.actions", "tui.ui.keymap", "tui.ui.services", "tui.ui.signals"]
    for name in free:
        textual = sorted(m for m in closure(name)
                         if any(i == "textual" or i.startswith(("textual.", "rich"))
                                for i in imported(m)))
        assert textual == [], f"{name} reaches Textual through {textual}"


def test_only_the_ui_imports_textual() -> None:
    outside = [name for name in modules() if not name.startswith("tui.ui")
               and any(i == "textual" or i.startswith("textual.") for i in imported(name))]
    assert outside == []
