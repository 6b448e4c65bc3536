"""Global options after the subcommand: `newsqa ask QUESTION --data-dir DIR` works as if given before."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.globalopts import hoist

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


def test_data_dir_after_the_command(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    runner = CliRunner()
    data = tmp_path / "d"
    obj = {"embedder_factory": lambda: embedder}
    built = runner.invoke(main, ["index", "build", f"--data-dir={data}", "-v"], obj=obj)
    assert built.exit_code == 0, built.output
    assert (data / "newsqa.sqlite").exists()
    result = runner.invoke(main, ["ask", AIRBASE, "--json", "--data-dir", str(data)], obj=obj)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answered"] is True
    stats = runner.invoke(main, ["index", "stats", "--json", "--data-dir", str(data)], obj=obj)
    assert json.loads(stats.stdout)["data_dir"] == str(data)


def _group() -> click.Group:
    @click.group()
    @click.option("--data-dir")
    @click.option("-v", "--verbose", count=True)
    def g(data_dir: str | None, verbose: int) -> None: ...

    @g.command()
    @click.argument("words", nargs=-1)
    @click.option("--data-dir", "own")  # a command's own option of the same name stays its own
    def mine(words: tuple[str, ...], own: str | None) -> None: ...

    @g.command()
    @click.argument("words", nargs=-1)
    def other(words: tuple[str, ...]) -> None: ...

    return g


def test_hoisting_moves_only_the_groups_options() -> None:
    g = _group()
    ctx = click.Context(g)
    assert hoist(g, ctx, ["other", "x", "--data-dir", "d", "-v"]) == ["--data-dir", "d", "-v", "other", "x"]
    assert hoist(g, ctx, ["-v", "other", "--data-dir=d"]) == ["-v", "--data-dir=d", "other"]
    assert hoist(g, ctx, ["mine", "--data-dir", "d"]) == ["mine", "--data-dir", "d"]
    assert hoist(g, ctx, ["other", "--", "--data-dir", "d"]) == ["other", "--", "--data-dir", "d"]
    assert hoist(g, ctx, ["--data-dir", "d", "other"]) == ["--data-dir", "d", "other"]
    assert hoist(g, ctx, ["--help"]) == ["--help"]
