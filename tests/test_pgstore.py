"""The PostgreSQL store (--store): what differs from SQLite is tested here against a real PostgreSQL 15;
what is the same runs through the `library` fixture, once per store, in the other test files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEEDS, TESTS
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.index.storage.datadir import IndexLocked
from newsqa.index.storage.library import Library
from newsqa.index.storage.pgconn import PgConnection, schema_version, to_pg
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.pgstore import PG_MIGRATIONS, PgStore, bm25
from newsqa.index.text.article import Article

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."

CORPUS = [
    (
        "a1",
        "Harbour",
        "The council approved the harbour budget. Fishing boats crowd the harbour every summer.",
    ),
    ("a2", "Budget", "The budget debate lasted all night. Ministers argued about taxes and the budget."),
    ("a3", "Weather", "Storms closed the harbour road. The council said repairs would take weeks."),
    ("a4", "Sport", "The local team won the cup final on Sunday after extra time."),
]


def articles() -> list[Article]:
    return [Article(id=i, title=t, text=x) for i, t, x in CORPUS]


def test_placeholders_become_psycopg_ones_outside_quoted_strings() -> None:
    assert (
        to_pg("SELECT a FROM t WHERE b = ? AND c LIKE '%?%'")
        == "SELECT a FROM t WHERE b = %s AND c LIKE '%?%'"
    )
    assert to_pg("SELECT 100 % 7, ?") == "SELECT 100 %% 7, %s"


def test_bm25_is_fts5s_formula() -> None:
    """Two documents, one word: the shorter one scores higher; a word in every document still counts."""
    tf = {1: {"harbour": 1}, 2: {"harbour": 2, "budget": 1}}
    lengths = {1: 4, 2: 12}
    scores = bm25(tf, lengths, [("harbour",)], docs=10, avg_length=8.0)
    assert scores[1] > 0 and scores[2] > 0
    everywhere = bm25(tf, lengths, [("harbour",)], docs=2, avg_length=8.0)
    assert all(s > 0 for s in everywhere.values())  # idf floored, as FTS5 does


def test_lexical_ranking_matches_sqlite(tmp_path: Path, pg_url: str) -> None:
    """The same words rank the same sentences first on both stores, with scores of the same shape."""
    embedder = HashingEmbedder()
    sqlite = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    pg = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    try:
        for lib in (sqlite, pg):
            lib.ingest(articles())
        for terms in (["harbour", "budget"], ["council", "repairs"], ["budget"], ["cup", "sunday"]):
            a, b = sqlite.store.lexical_search(terms, 10), pg.store.lexical_search(terms, 10)
            texts_a = [sqlite.store.sentences_by_id([i])[i].text for i, _ in a]
            texts_b = [pg.store.sentences_by_id([i])[i].text for i, _ in b]
            assert texts_a == texts_b, terms
            top_a, top_b = a[0][1], b[0][1]
            for (_, sa), (_, sb) in zip(a, b, strict=True):
                assert abs(sa / top_a - sb / top_b) < 0.05, terms
            para_a = sqlite.store.paragraph_search(terms, 10)
            para_b = pg.store.paragraph_search(terms, 10)
            assert len(para_a) == len(para_b) and para_a[0][2] > 0 and para_b[0][2] > 0
        assert pg.store.sentences_matching("budgets") == sqlite.store.sentences_matching("budgets") == 3
    finally:
        sqlite.close()
        pg.close()


def test_migrations_run_once_when_processes_start_together(pg_url: str) -> None:
    """Eight stores opening a new database at the same instant: one migrates, none fails."""
    errors: list[BaseException] = []
    stores: list[PgStore] = []
    start = threading.Barrier(8)

    def open_store() -> None:
        try:
            start.wait()
            stores.append(PgStore(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    conn = PgConnection(pg_url)
    try:
        assert schema_version(conn, "index") == len(PG_MIGRATIONS)
    finally:
        conn.close()
        for s in stores:
            s.close()


def test_one_writer_at_a_time_and_a_dead_writer_holds_nothing(pg_url: str) -> None:
    home = PgHome(pg_url)
    with (
        home.writer_lock(),
        pytest.raises(IndexLocked, match="another newsqa process is writing"),
        home.writer_lock(timeout=0.2),
    ):
        pass
    code = "import sys, time; from newsqa.index.storage.pghome import PgHome\n"
    code += "with PgHome(sys.argv[1]).writer_lock():\n    print('held', flush=True); time.sleep(60)\n"
    holder = subprocess.Popen([sys.executable, "-c", code, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(IndexLocked), home.writer_lock(timeout=0.2):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with home.writer_lock(timeout=5):  # the server let go when the connection died
            pass
    finally:
        holder.kill()


def test_another_process_sees_an_add_and_a_removal(pg_url: str) -> None:
    embedder = HashingEmbedder()
    writer = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    reader = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name, readonly=True)
    try:
        writer.ingest(articles()[:2])
        assert len(reader.vectors) == writer.counts()[1]
        writer.ingest(articles()[2:])
        assert reader.refresh() > 0 and len(reader.vectors) == writer.counts()[1]
        writer.remove(["a1"])
        reader.refresh()
        assert len(reader.vectors) == writer.counts()[1]
        assert reader.store.find_article("a1") is None
    finally:
        writer.close()
        reader.close()


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from fakes import HashingEmbedder
    from newsqa.index.storage.library import Library
    from newsqa.index.storage.pghome import PgHome
    from newsqa.index.text.article import Article

    embedder = HashingEmbedder()
    lib = Library(PgHome(sys.argv[1]), lambda: embedder, model_name=embedder.name)

    def items():
        for n in range(100_000):
            if n == 40:
                print("committed", flush=True)
            yield Article(id=f"n{n}", title=f"Story {n}", text=f"Report {n} on the harbour. " * 30)

    with lib.dir.writer_lock():
        lib.ingest(items(), batch_articles=8)
    """
)


@pytest.mark.fault
def test_killing_a_writer_mid_ingest_loses_nothing_committed(pg_url: str) -> None:
    """kill -9 while batches are being written: every article that committed is whole and searchable,
    the next writer takes the lock and carries on."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, pg_url, str(TESTS)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "committed"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    embedder = HashingEmbedder()
    lib = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    try:
        n_articles, n_sentences = lib.counts()
        assert n_articles >= 32
        assert len(lib.vectors) == n_sentences  # the change log and the sentences agree
        for aid in lib.store.article_ids():
            stored = lib.store.find_article(aid)
            assert stored is not None and len(lib.store.article_sentences(stored.rowid)) == 30
        with lib.dir.writer_lock(timeout=5):
            report = lib.ingest([Article(id="after", title="After", text="The harbour reopened today.")])
        assert report.added == 1
    finally:
        lib.close()


@pytest.fixture
def run(pg_url: str):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(
            main,
            ["--store", pg_url, *args],
            obj={"embedder_factory": lambda: embedder},
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_cli_on_a_postgresql_store(run, pg_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`newsqa --store postgresql://... ask` builds from the seeds and answers; add, stats, remove."""
    answer = json.loads(run("ask", AIRBASE, "--json").stdout)
    assert answer["answered"] and answer["passages"][0]["sentence"] == AIN
    extra = tmp_path / "ferry.txt"
    extra.write_text("Ferry strike ends\n\nThe ferry strike ended on Monday after talks with the union.\n")
    run("index", "add", str(extra))
    stats = json.loads(run("index", "stats", "--json").stdout)
    assert stats["articles"] == 2 and stats["store"].startswith("postgresql://")
    assert "strike" in run("ask", "When did the ferry strike end?").stdout
    listed = json.loads(run("index", "stats", "--json", "--list").stdout)["article_ids"]
    run("index", "remove", *[i for i in listed if "ferry" in i])
    assert json.loads(run("index", "stats", "--json").stdout)["articles"] == 1
    refused = run("index", "build", "--rebuild", str(SEEDS), ok=False)
    assert refused.exit_code == 1 and "new database" in refused.output


def test_cli_says_in_one_line_when_the_server_is_unreachable() -> None:
    result = CliRunner().invoke(
        main,
        ["--store", "postgresql://nobody@127.0.0.1:1/none", "ask", "anything"],
        obj={"embedder_factory": HashingEmbedder},
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: PostgreSQL:") and len(result.output.strip().splitlines()) == 1
    bad = CliRunner().invoke(main, ["--store", "mysql://x/y", "ask", "q"])
    assert bad.exit_code == 2 and "postgresql://" in bad.output


def test_a_dropped_connection_is_replaced_on_the_next_call(pg_url: str) -> None:
    """A server restart or a proxy cutting idle connections fails no call: the closed socket is noticed
    before the next statement (pgconn.PgConnection.alive), and a new connection made."""
    embedder = HashingEmbedder()
    lib = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    try:
        lib.ingest(articles())
        before = lib.store.conn
        pid = before.raw.info.backend_pid
        killer = PgConnection(pg_url)
        killer.execute("SELECT pg_terminate_backend(?, 5000)", (pid,))  # returns once it is gone
        killer.close()
        assert lib.store.counts() == (4, len(lib.vectors))
        assert lib.store.conn is not before
    finally:
        lib.close()


def test_a_database_made_before_postings_gets_them(pg_url: str) -> None:
    """Migration 2 fills the postings from the rows already there: their words are found afterwards."""
    from newsqa.index.storage.pgconn import migrate

    conn = PgConnection(pg_url)
    try:
        migrate(conn, PG_MIGRATIONS[:1], "index")
        conn.execute(
            "INSERT INTO articles(id, title, text, content_hash, added_at) VALUES('old', 'Old', 'x', 'h', 0)"
        )
        conn.execute(
            'INSERT INTO sentences(article, position, paragraph, start, "end", text, text_hash, tokens)'
            " VALUES(1, 0, 0, 0, 40, 'The harbour budget was approved.', 'h1', 5)"
        )
        conn.execute(
            "INSERT INTO paragraphs(id, article, paragraph, tokens, tsv)"
            " VALUES(1, 1, 0, 5, to_tsvector('newsqa', 'The harbour budget was approved.'))"
        )
    finally:
        conn.close()
    store = PgStore(pg_url)
    try:
        assert [i for i, _ in store.lexical_search(["budgets"], 10)] == [1]
        assert [(a, p) for a, p, _ in store.paragraph_search(["harbour"], 10)] == [(1, 0)]
    finally:
        store.close()
