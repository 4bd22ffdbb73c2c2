"""The layers import one way: transports (cli, telegram) → answer → index; never back.

An AST walk over the source tree, so a wrong-way import fails CI before review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package prefix → modules it must not import (prefix match on dotted names)
FORBIDDEN = {
    "index": ("bot", "telegram"),
    "bot.answer": ("telegram", "bot.telegram", "bot.cli", "bot.terminal", "bot.wiring", "argparse"),
    "bot.telegram": (
        "faiss",
        "index.dense",
        "index.build",
        "index.retrieve",
        "bot.wiring",
        "bot.cli",
    ),
}


def imports(path: Path) -> set[str]:
    """Every module name a file imports, at any depth (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{module_name(path)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_layer_imports_the_wrong_way(package):
    assert violations(package, FORBIDDEN[package]) == []


def test_the_check_can_fail(tmp_path, monkeypatch):
    """A planted wrong-way import is caught (the walk sees imports inside functions)."""
    bad = tmp_path / "bot" / "answer" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    import telegram.ext\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert violations("bot.answer", FORBIDDEN["bot.answer"]) == [
        "bot.answer.bad imports telegram.ext"
    ]
