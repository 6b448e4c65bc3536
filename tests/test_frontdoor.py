"""The front door: `newsqa.open` and its verbs, the README's library example, and the front ends going
through it instead of assembling the parts themselves."""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import HashingEmbedder

import newsqa
from newsqa.frontdoor import Newsqa
from newsqa.index.storage.datadir import IndexLocked, NoIndex
from newsqa.index.text.article import Article

ROOT = Path(__file__).resolve().parents[1]
AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


def _open(data: Path, **kwargs: Any) -> Newsqa:
    embedder = HashingEmbedder()
    return newsqa.open(data_dir=data, embedder=lambda: embedder, **kwargs)


def test_the_verbs_in_one_session(tmp_path: Path) -> None:
    with _open(tmp_path / "data") as n:
        report = n.add(
            [ROOT / "seeds", Article(id="note", title="A note", text="Nothing about drones here.")]
        )
        assert report.added == 2 and not report.skipped
        answer = n.ask(AIRBASE)
        assert answer.answered and "Ain al-Asad" in answer.passages[0].sentence
        assert len(n.ask(AIRBASE, k=2).passages) == 2
        conversation = n.conversation()
        first = n.ask(AIRBASE, conversation=conversation)
        assert not conversation.turns  # left as it was: the caller moves it on
        conversation = conversation.then(first.turn)
        assert n.ask("And in April?", conversation=conversation).query != "And in April?"
        assert n.timeline("drone attacks on the airbase").answered
        facts = n.stats(list_articles=True)
        assert (facts.articles, facts.where) == (2, {"data_dir": str(tmp_path / "data")})
        assert facts.listed is not None and {a for a, _, _ in facts.listed} == {"note", report.added_ids[0]}
        assert facts.to_dict()["bytes_on_disk"] > 0
        removal = n.remove(["note", "nope"])
        assert (removal.removed, removal.missing) == (["note"], ["nope"])
        assert n.counts()[0] == 1


def test_opening_what_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(NoIndex, match=r"no index in .*: run `newsqa index build` first"):
        _open(tmp_path / "none", create=False)
    assert not (tmp_path / "none").exists()  # nothing made on the way
    with pytest.raises(NoIndex):
        _open(tmp_path / "none").stats()


def test_writes_share_one_lock_held_across_them(tmp_path: Path) -> None:
    with _open(tmp_path / "data") as n, n.writing():
        n.add([ROOT / "seeds"])  # the lock is held by this session already: no deadlock
        n.remove(["nope"])
        with _open(tmp_path / "data") as other, pytest.raises(IndexLocked):
            other.add([ROOT / "seeds"])  # another writer is told at once


def test_another_process_adds_and_a_follower_sees_it(tmp_path: Path) -> None:
    with _open(tmp_path / "data") as reader, _open(tmp_path / "data") as writer:
        writer.add([ROOT / "seeds"])
        assert reader.counts()[0] == 1
        with reader.follow_changes(poll_seconds=0.05):
            writer.add([Article(id="late", title="Late news", text="A drone hit the airport in Erbil.")])
            assert reader.ask("What did a drone hit in Erbil?").answered


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    code = readme.split("## As a library", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "newsqa.open(" in code and len(code.strip().splitlines()) <= 8
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    real_open = newsqa.open
    embedder = HashingEmbedder()
    monkeypatch.setattr(newsqa, "open", lambda *a, **k: real_open(*a, embedder=lambda: embedder, **k))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert "Ain al-Asad" in out.getvalue()


FRONT_ENDS = ["newsqa/cli.py", "bot/backend.py", "bot/command.py", "newsqa/evaluation/workspace.py"]


@pytest.mark.parametrize("path", FRONT_ENDS)
def test_front_ends_open_newsqa_by_the_front_door(path: str) -> None:
    """No front end makes a Library, a store or a searcher itself, takes the writer lock by hand or closes
    a library: the front door does (the bot's tests still hand the backend a Library they opened)."""
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    made = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not made & {
        "Library",
        "Store",
        "PgStore",
        "Searcher",
        "QuestionAnswerer",
        "writer_lock",
        "answerer",
    }
    assert not re.search(r"\bctx\.library\(|\blib\.close\(\)", source)


def test_an_index_opened_without_a_model_keeps_the_one_it_was_built_with(tmp_path: Path) -> None:
    from newsqa.index.storage.datadir import ModelMismatch

    with _open(tmp_path / "data") as n:
        n.add([ROOT / "seeds"])
    with newsqa.open(data_dir=tmp_path / "data", create=False) as kept:  # no model loaded to open it
        assert kept.wiring.settings.model == "test/hashing-256" and kept.counts()[0] == 1
    chosen = newsqa.open(data_dir=tmp_path / "data", create=False, model="all-MiniLM-L6-v2")
    with pytest.raises(ModelMismatch, match="built with test/hashing-256"):
        chosen.counts()  # the index opens on first use
    chosen.close()
