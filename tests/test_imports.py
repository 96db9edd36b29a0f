"""The package's modules import each other without a cycle: every ``import bot...`` counts,
also one inside a function or under ``TYPE_CHECKING`` (a cycle hidden that way is still two
modules that cannot be understood, tested or moved apart)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bot"


def _imports() -> dict[str, set[str]]:
    modules: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        modules[name] = {m for m in found if m == "bot" or m.startswith("bot.")}
    return modules


def _module(name: str, modules: dict[str, set[str]]) -> str:
    """The module an imported name lives in ("bot.engine.recognise.Ask" -> its module)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    modules = _imports()
    assert "bot.engine.recognise" in modules
    graph = {
        name: {_module(m, modules) for m in imported} - {name}
        for name, imported in modules.items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_check_finds_a_cycle() -> None:
    with pytest.raises(AssertionError):
        assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
