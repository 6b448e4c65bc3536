"""The `newsqa` command end to end (fake embedder injected; real SQLite, FAISS, files)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import SEEDS
from fakes import HashingEmbedder

from newsqa.cli import main

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."


@pytest.fixture(params=["sqlite", "postgresql"])
def run(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`newsqa` with the fake embedder, on a data directory and on a PostgreSQL database (--store)."""
    embedder = HashingEmbedder()
    where = ["--data-dir", str(tmp_path / "data")]
    if request.param == "postgresql":
        where += ["--store", request.getfixturevalue("pg_url")]

    def invoke(*args: str, input: str | None = None, ok: bool = True):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(
            main,
            [*where, *args],
            obj={"embedder_factory": lambda: embedder},
            input=input,
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    invoke.where = where  # type: ignore[attr-defined]  # for tests that call the CLI another way
    invoke.store = request.param  # type: ignore[attr-defined]
    return invoke


def test_ask_builds_from_seeds_and_answers_with_citation(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", AIRBASE, "--json")
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "query", "answered", "passages"}
    assert answer["question"] == AIRBASE and answer["query"] == AIRBASE and answer["answered"] is True
    first = answer["passages"][0]
    assert set(first) >= {"rank", "sentence", "excerpt", "score", "article"}
    assert set(first["article"]) >= {"id", "title", "url", "published", "source"}
    assert first["rank"] == 1 and first["sentence"] == AIN and AIN in first["excerpt"]
    assert first["article"]["title"] == "Armed groups use of drones in Iraq 'concerning’: US commander"
    assert first["article"]["url"] is None  # the seed states no URL, so none is invented


def test_ask_text_output_and_abstain(run) -> None:  # type: ignore[no-untyped-def]
    out = run("ask", AIRBASE).stdout
    assert AIN in out and "[1] Armed groups use of drones" in out
    nothing = json.loads(run("ask", "What is the capital of France?", "--json").stdout)
    assert nothing["answered"] is False and nothing["passages"] == []
    assert "Not found in the articles" in run("ask", "What is the capital of France?").stdout


def test_build_add_remove_stats(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "1 added" in run("index", "build").stdout
    assert "1 unchanged" in run("index", "build").stdout
    extra = tmp_path / "in"
    extra.mkdir()
    (extra / "zoo.txt").write_text("Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    (extra / "broken.json").write_text("{not json")
    result = run("index", "add", str(extra), ok=False)
    assert result.exit_code == 3 and "1 added" in result.stdout and "1 skipped" in result.stdout
    assert "broken.json" in result.stderr
    stats = json.loads(run("index", "stats", "--json", "--list").stdout)
    assert stats["articles"] == 2 and stats["model"] == "test/hashing-256"
    assert stats.get("bytes_on_disk", 0) > 0 or stats.get("bytes_in_database", 0) > 0
    zoo_id = next(i for i in stats["article_ids"] if "zoo" in i)
    assert (
        json.loads(run("ask", "zebras escaped zoo", "--json").stdout)["passages"][0]["article"]["id"]
        == zoo_id
    )
    assert "1 removed" in run("index", "remove", zoo_id).stdout
    result = run("index", "remove", "no-such-id", ok=False)
    assert result.exit_code == 1 and "not found: no-such-id" in result.stderr
    assert json.loads(run("index", "stats", "--json").stdout)["articles"] == 1


def test_chat_follow_up_from_stdin(run) -> None:  # type: ignore[no-untyped-def]
    lines = run("chat", "--json", input=f"{AIRBASE}\nAnd in April?\n").stdout.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["passages"][0]["sentence"] == AIN
    assert second["question"] == "And in April?"
    assert "April" in second["query"] and "drones" in second["query"]
    assert second["passages"][0]["sentence"].startswith("Erbil International Airport was also targeted")


def test_other_model_gives_clear_error(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("index", "build")
    other = HashingEmbedder(name="other/model")
    result = CliRunner().invoke(
        main,
        [*run.where, "index", "add", str(SEEDS)],
        obj={"embedder_factory": lambda: other},
    )
    assert (
        result.exit_code == 1
        and "was built with test/hashing-256" in result.output
        and "--rebuild" in result.output
    )


def test_an_index_keeps_its_model_unless_another_is_chosen(run) -> None:  # type: ignore[no-untyped-def]
    """No --model (nor NEWSQA_MODEL): the model the index records, read without loading any model, so an
    index built with newsqa's own model needs no flag, and a new default never strands an older index."""
    run("index", "build")

    def remove(*model: str) -> Result:  # opens the index for writing: the model is checked, none loaded
        args = [*run.where, *model, "index", "remove", "no-such-id"]
        return CliRunner().invoke(main, args, env={"NEWSQA_MODEL": None})

    kept = remove()
    assert kept.exit_code == 1 and "not found: no-such-id" in kept.output, kept.output
    chosen = remove("--model", "all-MiniLM-L6-v2")
    assert chosen.exit_code == 1 and "was built with test/hashing-256" in chosen.output


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from newsqa.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'faiss', 'telegram', 'sentence_transformers') if m in sys.modules]\n"
        "print(heavy)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")
    assert "index" in out and "ask" in out and "chat" in out
    assert time.perf_counter() - started < 5  # generous: the point is that nothing heavy is imported


def test_build_compressed_then_back_to_float32(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The layout sticks through the snapshot: a file in a data directory, rows on PostgreSQL
    (pgsnapshot.py), which a process started without the flag loads as it is."""
    from newsqa.index.storage.library import Library
    from newsqa.index.storage.pghome import PgHome

    home = PgHome(run.where[-1]) if run.store == "postgresql" else tmp_path / "data"

    def layout() -> str:
        embedder = HashingEmbedder()
        lib = Library(home, lambda: embedder, model_name=embedder.name, readonly=True)
        try:
            return lib.vectors.layout.describe()
        finally:
            lib.close()

    run("index", "build")
    assert layout() == "exact"
    run("index", "build", "--compressed")  # nothing new to index: the layout still changes
    assert layout() == "exact fp16"
    run("index", "add", str(SEEDS))  # sticks
    assert layout() == "exact fp16"
    assert json.loads(run("ask", AIRBASE, "--json").stdout)["passages"][0]["sentence"] == AIN
    run("index", "build", "--float32")
    assert layout() == "exact"


@pytest.mark.parametrize("command", [["ask"], ["timeline"], ["ask", "--json"]])
@pytest.mark.parametrize("empty", ["", "   ", "\n\t"])
def test_an_empty_question_is_refused_before_anything_loads(tmp_path: Path, command, empty: str) -> None:  # type: ignore[no-untyped-def]
    def no_model() -> HashingEmbedder:
        raise AssertionError("the model was loaded for an empty question")

    data = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["--data-dir", str(data), *command, empty], obj={"embedder_factory": no_model}
    )
    assert result.exit_code == 2 and "is empty: there is nothing to search for" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not data.exists()  # no index was built from the seeds either


def test_stats_says_what_a_user_wants_first_and_lists_headlines(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dated = tmp_path / "dated.json"
    dated.write_text(
        json.dumps(
            {
                "id": "zoo-1",
                "title": "Zebras escape",
                "text": "Three zebras escaped.",
                "published": "2024-03-05",
            }
        )
    )
    run("index", "build")
    run("index", "add", str(dated))
    lines = run("index", "stats", "--list").stdout.splitlines()
    keys = [line.split(":", 1)[0].strip() for line in lines[:4]]
    assert keys == ["articles", "sentences", "newest", "size"], lines
    assert lines[0].endswith(": 2") and lines[2].endswith(": 2024-03-05")
    assert "zoo-1\t2024-03-05\tZebras escape" in lines
    assert any(
        line.endswith("\tundated\tArmed groups use of drones in Iraq 'concerning’: US commander")
        for line in lines
    )
    stats = json.loads(run("index", "stats", "--json", "--list").stdout)
    assert list(stats)[:3] == ["articles", "sentences", "newest"] and stats["newest"] == "2024-03-05"
    assert {"id": "zoo-1", "title": "Zebras escape", "published": "2024-03-05"} in stats["article_list"]


def test_watch_once_says_one_round_and_names_a_file_too_young(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "zoo.txt").write_text("Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    young = time.time() + 30  # still "being written" however slowly the test runs
    os.utime(folder / "zoo.txt", (young, young))
    result = run("index", "watch", str(folder), "--once")
    assert "watching" not in result.output and "Ctrl-C" not in result.output
    assert "1 file(s) changed less than 1 s ago" in result.stderr and "run again" in result.stderr
    old = time.time() - 60
    os.utime(folder / "zoo.txt", (old, old))
    result = run("index", "watch", str(folder), "--once")
    assert "1 added" in result.stdout and "changed less than" not in result.stderr


def test_watch_and_serve_poll_as_often_by_default() -> None:
    from newsqa.bot.command import serve
    from newsqa.bot.settings import BotSettings
    from newsqa.cli import index_watch
    from newsqa.durations import parse_every

    def every(command: click.Command) -> str:
        return next(p.default for p in command.params if p.name == "every")  # type: ignore[return-value]

    assert every(index_watch) == every(serve)
    bot_default = next(f.default for f in dataclasses.fields(BotSettings) if f.name == "feed_every")
    assert parse_every(every(index_watch)) == bot_default
