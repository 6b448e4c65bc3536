"""The README's samples stay true: the demo's output, the JSON answer's fields, the defaults it states, and
a help text for every option."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


def _blocks_after(marker: str, count: int) -> list[str]:
    """The `count` fenced blocks that follow `marker` in the README."""
    rest = README.split(marker, 1)[1]
    return [part.strip("\n") for part in rest.split("```")[1 : 2 * count : 2]]


def _ask(embedder: object, data: Path, *args: str) -> str:
    result = CliRunner().invoke(
        main, ["--data-dir", str(data), "ask", *args], obj={"embedder_factory": lambda: embedder}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_option_says_what_it_does() -> None:
    def undocumented(command: click.Command, path: str) -> list[str]:
        found = [
            f"{path} {param.opts[0]}"
            for param in command.params
            if isinstance(param, click.Option) and not param.hidden and not param.is_eager and not param.help
        ]
        for name, sub in getattr(command, "commands", {}).items():
            found += undocumented(sub, f"{path} {name}")
        return found

    assert undocumented(main, "newsqa") == []


def test_the_tour_states_the_k_defaults() -> None:
    def default_k(name: str) -> int:
        command = main.commands[name]
        return next(p.default for p in command.params if p.name == "k")  # type: ignore[return-value]

    tour = README.split("## A short tour", 1)[1].split("```", 2)[1]
    assert "newsqa ask " in tour and f"[-k {default_k('ask')}]" in tour
    assert f"newsqa chat [-k {default_k('chat')}]" in tour


def test_the_json_example_has_every_field(tmp_path: Path) -> None:
    example = _blocks_after("### The JSON answer", 1)[0]
    shown = set(re.findall(r'"(\w+)":', example))
    answer = json.loads(_ask(HashingEmbedder(), tmp_path / "data", AIRBASE, "--json"))
    passage = answer["passages"][0]
    real = set(answer) | set(passage) | set(passage["article"])
    real |= {key for outlet in passage["article"]["also_reported_by"] for key in outlet}
    assert "also_reported_by" in shown
    assert real <= shown, f"fields the README's JSON example lacks: {sorted(real - shown)}"


@pytest.mark.slow
def test_the_demo_prints_what_the_readme_shows(tmp_path: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    first, abstain = _blocks_after("`make demo` prints", 2)
    out = _ask(real_embedder, tmp_path / "data", AIRBASE)
    passages = re.split(r"\n\n(?=\[\d+\] )", out.strip())
    assert passages[0] == first
    assert len(passages) == 5 and "five\npassages" in README and "then [2] to [5]" in README
    assert _ask(real_embedder, tmp_path / "data", "What is the capital of France?").strip() == abstain
