"""One bad character, number or file name costs that record or file only: never the whole ingest.

Every way text enters (loaders, folder watching, bot uploads, the library itself) keeps the invariant:
what reaches the store encodes as UTF-8, and what cannot is a LoadProblem naming it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.bot.uploads import load_text, load_upload
from newsqa.cli import main
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.ingest.watch import FolderWatcher
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article, LoadProblem

GOOD = "The council approved the new bridge on Tuesday after a long debate."


def story(i: int) -> str:
    """A text of its own (copies of one story would be recognised as such and not indexed)."""
    return " ".join(f"w{i}n{j}" for j in range(12)).capitalize() + "."


def records(n: int) -> list[dict[str, object]]:
    return [{"id": f"r{i}", "title": f"Story {i}", "text": story(i)} for i in range(n)]


def encodes(item: Article | LoadProblem) -> bool:
    fields = (
        [item.id, item.title, item.text, item.url, item.published, item.source]
        if isinstance(item, Article)
        else [item.where, item.reason, str(item)]
    )
    try:
        for f in fields:
            (f or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_lone_surrogate_in_json_text_is_repaired_and_the_rest_kept(tmp_path: Path) -> None:
    recs = records(5)
    recs[2]["text"] = f"{story(2)} Cut emoji \ud83d here."
    recs[3]["title"] = "Half \udc00 a title"
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(recs), encoding="utf-8")  # ensure_ascii: "\ud83d" stays an escape
    assert "\\ud83d" in path.read_text()
    items = list(iter_articles([path]))
    assert all(isinstance(i, Article) for i in items) and len(items) == 5
    assert all(encodes(i) for i in items)
    assert "Cut emoji \ufffd here." in items[2].text  # one character for one: offsets are unchanged


def test_lone_surrogate_in_an_id_skips_that_record_only(tmp_path: Path) -> None:
    recs = records(3)
    recs[1]["id"] = "bad\ud800id"
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    items = list(iter_articles([path]))
    assert [type(i).__name__ for i in items] == ["Article", "LoadProblem", "Article"]
    problem = items[1]
    assert isinstance(problem, LoadProblem) and problem.where.endswith("feed.jsonl:2") and encodes(problem)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_huge_integer_skips_that_record_only(tmp_path: Path, suffix: str) -> None:
    recs = records(600)
    raw = [json.dumps(r) for r in recs]
    raw[300] = '{"id": ' + "9" * 5000 + ', "text": "A story with a silly id."}'
    path = tmp_path / f"big{suffix}"
    path.write_text("[" + ",".join(raw) + "]" if suffix == ".json" else "\n".join(raw), encoding="utf-8")
    items = list(iter_articles([path]))
    problems = [i for i in items if isinstance(i, LoadProblem)]
    assert sum(isinstance(i, Article) for i in items) == 599
    assert len(problems) == 1 and "5000 digits" in problems[0].reason


def test_huge_integer_in_an_ignored_field_costs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text('{"text": "' + GOOD + '", "views": ' + "1" * 5000 + "}", encoding="utf-8")
    (item,) = iter_articles([path])
    assert isinstance(item, Article)


def non_utf8_name(folder: Path) -> Path:
    raw = os.path.join(os.fsencode(folder), b"caf\xe9.txt")
    with open(raw, "wb") as f:
        f.write(b"Cafe story\n" + GOOD.encode())
    return Path(os.fsdecode(raw))


def test_file_name_not_utf8_is_skipped_with_a_printable_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("A story\n" + GOOD, encoding="utf-8")
    non_utf8_name(folder)
    (folder / "z.txt").write_text("Z story\n" + GOOD, encoding="utf-8")
    items = list(iter_articles([folder]))
    assert [type(i).__name__ for i in items] == ["Article", "LoadProblem", "Article"]
    assert all(encodes(i) for i in items)
    assert "caf\\xe9.txt" in str(items[1]) and "UTF-8" in items[1].reason


def test_index_add_keeps_everything_else(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    non_utf8_name(folder)
    recs = records(4)
    recs[1]["text"] = f"{story(1)} Broken \ud800 emoji."
    (folder / "feed.json").write_text(json.dumps(recs), encoding="utf-8")
    embedder = HashingEmbedder()
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "data"), "index", "add", str(folder)],
        obj={"embedder_factory": lambda: embedder},
    )
    assert result.exit_code == 3, result.output  # something asked for was not indexed
    assert "4 added" in result.stdout and "1 skipped" in result.stdout
    assert "caf\\xe9.txt" in result.stderr


def test_watch_survives_a_bad_file_name(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    non_utf8_name(folder)
    (folder / "ok.txt").write_text("Fine story\n" + GOOD, encoding="utf-8")
    report = FolderWatcher(library, folder, settle_seconds=0).scan(now=10**12)
    assert report.ingest is not None and report.ingest.added == 1 and len(report.ingest.skipped) == 1


def test_library_refuses_unencodable_articles_one_by_one(library: Library) -> None:
    report = library.ingest(
        [
            Article(id="ok", title="Fine", text=GOOD),
            Article(id="bad\udce9", title="Bad id", text=story(1)),
            Article(id="half", title="Half \ud83d", text=story(2) + " Broken \ud83d here."),
        ]
    )
    assert report.added == 2 and len(report.skipped) == 1 and encodes(report.skipped[0])
    found = library.store.article_hash("half")
    assert found is not None
    stored = library.store.get_article(found[0])
    assert stored is not None and "Broken \ufffd here." in stored.text


def test_bot_text_and_upload_with_surrogates() -> None:
    items = load_text(f"Headline \ud83d\n{GOOD} Broken \ud800 here.")
    assert len(items) == 1 and isinstance(items[0], Article) and encodes(items[0])
    items = load_upload("caf\udce9.txt", ("Head\n" + GOOD).encode())
    assert len(items) == 1 and encodes(items[0])


def test_a_question_with_half_an_emoji_or_a_zero_width_space_is_answered(library: Library) -> None:
    from conftest import SEEDS

    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.search.ranking import Searcher, SearchOptions

    library.ingest(iter_articles([SEEDS]))
    qa = QuestionAnswerer(Searcher(library, SearchOptions()))
    answer = qa.ask("Which air\u200bbase was targeted by drones \ud83d?")
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # printable, storable
    assert answer.query == "Which airbase was targeted by drones \ufffd?"
    assert answer.answered and "airbase" in answer.passages[0].sentence


def test_bot_reindex_and_questions_survive_bad_text(tmp_path: Path, library: Library) -> None:
    from newsqa.bot.backend import Backend
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.search.ranking import Searcher, SearchOptions

    folder = tmp_path / "news"
    folder.mkdir()
    non_utf8_name(folder)
    recs = records(3)
    recs[0]["text"] = f"{story(0)} Broken \ud800 emoji."
    raw = [json.dumps(r) for r in recs] + ['{"id": ' + "9" * 4400 + ', "text": "Silly."}']
    (folder / "feed.jsonl").write_text("\n".join(raw), encoding="utf-8")
    backend = Backend(library, QuestionAnswerer(Searcher(library, SearchOptions())), k=3, lock_timeout=5)
    report = backend.reindex([folder])
    assert report.added == 3 and len(report.skipped) == 2
    today = dt.date.today()
    reply = backend.ask("chat-1", "What does w0n3 say \ud83d?", today)
    assert reply.answer.answered
    assert backend.ask("chat-1", "And w1n2?", today).answer.query  # the stored turn reads back
