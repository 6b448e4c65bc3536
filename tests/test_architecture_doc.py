"""docs/architecture.md draws both flows as mermaid diagrams (a forge renders them), and every module a
diagram names exists, so the picture cannot drift from the folders."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_both_flows_are_mermaid_diagrams_of_real_modules() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    diagrams = re.findall(r"```mermaid\n(.*?)```", doc, re.S)
    assert len(diagrams) == 2 and all(d.startswith("flowchart") for d in diagrams)
    for diagram in diagrams:
        for module in re.findall(r"\b([a-z_]+/[a-z_]+\.py|[a-z_]+\.py)\b", diagram):
            candidates = [ROOT / module, ROOT / "index" / module, ROOT / "newsqa" / Path(module).name]
            candidates.append(ROOT / "bot" / Path(module).name)
            assert any(c.exists() for c in candidates) or list(ROOT.rglob(module)), module
