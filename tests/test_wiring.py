"""The wiring: every front end makes its parts in `newsqa.wiring`, and nothing imports the CLI back."""

from __future__ import annotations

import ast
from pathlib import Path

from fakes import HashingEmbedder

from newsqa.index.models.embedder import DEFAULT_MODEL, model_name
from newsqa.index.models.modelparts import MINILM
from newsqa.index.web.fetch import FetchOptions
from newsqa.index.web.netguard import parse_allow_hosts
from newsqa.settings import Settings
from newsqa.wiring import Wiring

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"newsqa": ROOT / "newsqa", "newsqa.index": ROOT / "index", "newsqa.bot": ROOT / "bot"}


def _module(name: str, folder: Path, path: Path) -> str:
    rel = path.relative_to(folder).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([name, *parts])


def _imports(module: str, path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved, `from x import y` as x and x.y."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def test_nothing_imports_the_cli() -> None:
    offenders = []
    for name, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            module = _module(name, folder, path)
            if module in ("newsqa.__main__", "newsqa.cli"):
                continue
            if "newsqa.cli" in _imports(module, path):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"these import newsqa.cli (use newsqa.wiring): {offenders}"


def test_the_check_sees_every_spelling(tmp_path: Path) -> None:
    for line in (
        "import newsqa.cli",
        "from newsqa.cli import main",
        "from newsqa import cli",
        "from .cli import x",
    ):
        path = tmp_path / "m.py"
        path.write_text(line + "\n")
        assert "newsqa.cli" in _imports("newsqa.m", path), line
    (tmp_path / "sub").mkdir()
    deep = tmp_path / "sub" / "m.py"
    deep.write_text("from ..cli import x\n")
    assert "newsqa.cli" in _imports("newsqa.sub.m", deep)


def test_model_name_without_loading_the_model() -> None:
    for spec in ("default", "", "all-MiniLM-L6-v2", DEFAULT_MODEL):
        assert Wiring(Settings(model=spec)).model_name() == DEFAULT_MODEL == MINILM
    own = model_name("newsqa-minilm-qa")  # newsqa's own index model, recorded with which weights
    assert own.startswith("newsqa-minilm-qa@") and Wiring(Settings(model=own)).model_name() == own
    assert Wiring(Settings(model="some/other")).model_name() == "some/other"
    fake = HashingEmbedder()
    injected = Wiring(Settings(model="some/other"), lambda: fake)
    assert injected.model_name() == fake.name and injected.embedder_factory()() is fake


def test_allowing_is_a_copy_and_reaches_the_fetch_options() -> None:
    wiring = Wiring(Settings())
    hosts = parse_allow_hosts(["wiki.corp"])
    allowed = wiring.allowing(hosts)
    assert allowed.settings.allow_hosts == hosts and not wiring.settings.allow_hosts
    assert allowed.fetch_options() == FetchOptions.allowing(hosts) != wiring.fetch_options()


def test_search_options_take_the_min_confidence() -> None:
    default = Wiring(Settings()).search_options()
    assert Wiring(Settings(min_confidence=0.9)).search_options().min_confidence == 0.9
    assert default.min_confidence != 0.9
