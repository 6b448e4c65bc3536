"""One malformed row in the shared store (a 7-byte vector, a day that is not a day, a rate-limit row that
is not numbers) is that row's problem: readers skip it and log it once, `index repair` mends it."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEEDS
from fakes import HashingEmbedder

from newsqa.bot.chatstore import ChatStore
from newsqa.bot.ratelimit import SharedQuestionLimiter
from newsqa.cli import main
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage import badrows
from newsqa.index.storage.datadir import DataDir
from newsqa.index.storage.library import Library
from newsqa.index.storage.store import Store
from newsqa.index.text.timeexpr import Period

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    """Each test is a process of its own: the rows it meets are logged anew."""
    badrows._logged.clear()


def _airbase_sentence(store: Store) -> tuple[int, str]:
    row = store.conn.execute("SELECT id, text_hash FROM sentences WHERE text=?", (AIN,)).fetchone()
    return int(row[0]), str(row[1])


def _break_vector(library: Library) -> None:
    _, text_hash = _airbase_sentence(library.store)
    with library.store.transaction():
        library.store.conn.execute(
            "UPDATE embeddings SET vector=? WHERE text_hash=?", (b"\x00" * 7, text_hash)
        )


def test_a_malformed_vector_is_skipped_logged_once_and_mended_by_repair(
    library: Library, embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    library.ingest(iter_articles([SEEDS]))
    _break_vector(library)
    if isinstance(library.dir, DataDir):  # no snapshot: the replica reads its vectors from the database
        for snapshot in library.dir.root.glob("vectors-*.faiss"):
            snapshot.unlink()
    else:  # the same on PostgreSQL, whose snapshots are rows (pgsnapshot.py)
        library.store.conn.execute("DELETE FROM vector_snapshots")
    # a replica starting now
    replica = Library(library.dir, lambda: embedder, model_name=embedder.name)
    try:
        qa = QuestionAnswerer(Searcher(replica))
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                qa.ask(AIRBASE)  # served (its best sentence is missing, so it may abstain), no error
        assert sum("malformed embeddings row" in r.getMessage() for r in caplog.records) == 1
        mended = replica.repair()
        assert "1 malformed vectors dropped" in mended
        assert any("embedded again" in line for line in mended)
        assert replica.store.malformed_vectors(replica.dim) == []
        assert QuestionAnswerer(Searcher(replica)).ask(AIRBASE).passages[0].sentence == AIN
    finally:
        replica.close()


def test_a_sentence_day_that_is_not_a_day_is_skipped_and_dropped_by_repair(library: Library) -> None:
    library.ingest(iter_articles([SEEDS]))
    sid, _ = _airbase_sentence(library.store)
    with library.store.transaction():
        library.store.conn.execute(
            'INSERT INTO sentence_times(sentence, start, "end") VALUES(?, ?, ?)',
            (sid, "2021-07-0x", "2021-07-9x"),
        )
    july = Period(dt.date(2021, 7, 1), dt.date(2021, 7, 31))
    with library.store.read_transaction():
        library.store.sentences_about(july, 50)  # the span of a row that is not a day is no error
        assert all(p.start.year > 1 for p in library.store.sentence_periods([sid]).get(sid, []))
    QuestionAnswerer(Searcher(library)).ask("What happened in July?", as_of=dt.date(2021, 8, 2))
    assert "1 sentence days that were not days dropped" in library.repair()
    assert library.store.malformed_times() == []


def test_a_rate_limit_row_that_is_not_numbers_counts_as_none(tmp_path: Path) -> None:
    store = Store(tmp_path / "index.db")
    try:
        book = ChatStore(store)
        store.conn.execute(
            "INSERT INTO question_limits(who, times, version, updated_at) VALUES('u1', 'abc nan', 1, 0)"
        )
        assert book.question_times("u1").times == ()
        limiter = SharedQuestionLimiter(book, 2, 60.0, clock=lambda: 1000.0)
        assert limiter.check("u1") == 0.0  # the question goes ahead, and the row is written anew
        assert book.question_times("u1").times == (1000.0,)
    finally:
        store.close()


def test_index_repair_says_what_it_mended(tmp_path: Path) -> None:
    embedder = HashingEmbedder()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path / "data"), *args],
            obj={"embedder_factory": lambda: embedder},
            catch_exceptions=False,
        )

    assert run("index", "build", str(SEEDS)).exit_code == 0
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    try:
        _break_vector(lib)
    finally:
        lib.close()
    asked = run("ask", AIRBASE, "--json")
    assert asked.exit_code == 0, asked.output
    result = run("index", "repair")
    assert result.exit_code == 0, result.output
    assert "mended: 1 malformed vectors dropped" in result.output
