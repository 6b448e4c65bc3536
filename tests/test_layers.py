"""Imports between index/'s folders point one way: front ends -> web, ingest, search -> storage -> stories ->
text and the models. A module that imports against that order fails here, named with the line.

Read with `ast`, so imports inside functions and under `if TYPE_CHECKING:` count as well: a type is a
dependency too.
"""

from __future__ import annotations

import ast
from pathlib import Path

INDEX = Path(__file__).resolve().parents[1] / "index"
PACKAGE = "newsqa.index"

#: What each folder (or module at index/'s root) may import from elsewhere in index/.
MAY_IMPORT: dict[str, set[str]] = {
    "text": set(),  # records and pure text rules
    "models": set(),  # the embedder, the PyPI-parts installer, nomic, the question and answer models
    "stories": {"text"},  # copy detection; the store it keeps keys in is passed in
    "storage": {"text", "stories", "models"},
    "ingest": {"text", "stories", "storage", "models"},
    "search": {"text", "stories", "storage", "models"},
    "web": {"text", "stories", "storage", "models", "ingest"},
}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join([PACKAGE, *parts])


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every absolute module name `tree` imports, with its line (`from newsqa.index import x`: x)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            if source == PACKAGE:
                found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, source))
    return found


def layer(module: str) -> str | None:
    """The folder or root module of index/ a module belongs to (None for the package itself)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and module.startswith(PACKAGE + ".") else None


def violations(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        own = layer(module)
        if own is None:
            continue
        if own not in MAY_IMPORT:
            continue  # test_every_folder_has_a_place says so
        tree = ast.parse(path.read_text(), str(path))
        for line, name in imported(tree, module, path.name == "__init__.py"):
            inside = name == PACKAGE or name.startswith(PACKAGE + ".")
            if name.split(".")[0] == "newsqa" and not inside:
                problems.append(f"{path.relative_to(root)}:{line}: imports {name}, outside index/")
            elif layer(name) not in (None, own, *MAY_IMPORT[own]):
                problems.append(f"{path.relative_to(root)}:{line}: {own} imports {name}")
    return problems


def test_index_imports_point_one_way() -> None:
    assert violations(INDEX) == []


def test_every_folder_has_a_place() -> None:
    layers = {name for p in INDEX.rglob("*.py") if (name := layer(module_name(p, INDEX)))}
    assert layers <= set(MAY_IMPORT), f"no place in MAY_IMPORT: {sorted(layers - set(MAY_IMPORT))}"


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    for folder in ("text", "storage", "search", "web"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "search" / "ranking.py").write_text("")
    (tmp_path / "storage" / "store.py").write_text(
        "from __future__ import annotations\n"
        "from ..text import article\n"  # allowed: downward
        "def later() -> None:\n"
        "    from ..search.ranking import Searcher\n"  # upward, even inside a function
    )
    (tmp_path / "web" / "fetch.py").write_text("from newsqa.bot import app\n")
    assert violations(tmp_path) == [
        "storage/store.py:4: storage imports newsqa.index.search.ranking",
        "web/fetch.py:1: imports newsqa.bot, outside index/",
    ]
