"""The bot's modules that say they are pure import, when they run, only each other, the standard library
and the index's plain records (an answer, an article): no storage, no database, no Telegram. Imports
under `if TYPE_CHECKING:` are types only and do not count."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
PURE = ["addressing", "access", "buttons", "flood", "formatting", "ratelimit", "texts", "views"]
RECORDS = {"newsqa.index.search.answer", "newsqa.index.text.article"}


def runtime_imports(path: Path) -> set[str]:
    """What `path` imports when it runs: module-level and in functions, not under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and getattr(branch.test, "id", "") == "TYPE_CHECKING"
        for node in ast.walk(branch)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


@pytest.mark.parametrize("name", PURE)
def test_a_pure_module_imports_nothing_impure(name: str) -> None:
    allowed = {f".{other}" for other in PURE} | RECORDS | {"__future__"}
    impure = {
        m
        for m in runtime_imports(BOT / f"{name}.py")
        if m not in allowed and m.split(".")[0] not in sys.stdlib_module_names
    }
    assert impure == set(), f"bot/{name}.py imports {sorted(impure)} when it runs"
