"""README's "How it works" map names every module of index/, bot/ and newsqa/, so a newcomer finds each."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_map_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## How it works", 1)[1]
    block = section.split("```", 2)[1]
    named = set(re.findall(r"[\w.]+\.py\b", block))
    modules = {p.name for folder in ("index", "bot", "newsqa") for p in (ROOT / folder).rglob("*.py")}
    missing = sorted(modules - named - {"__init__.py"})
    assert not missing, f"modules the README's map does not name: {missing}"
