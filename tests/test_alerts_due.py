"""Alerts owed are durable exactly when their article is (issue 22): the mark commits with the article,
a pass in any process (a replica, the next one after a kill) claims and clears it, once.

Real stores (a SQLite data directory, PostgreSQL), the fake embedder; Backends stand for processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes import HashingEmbedder
from legacy_schema import make_main_database

from newsqa.bot.backend import Backend
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.store import Store, connect
from newsqa.index.text.article import Article

ZOO = Article(
    id="zoo", title="Zebras escape", text="Three zebras escaped from the city zoo on Friday morning."
)
BRIDGE = Article(id="bridge", title="Bridge approved", text="The council approved the new river bridge.")
TOPIC = "zebras escaped zoo"


def backend(library: Library) -> Backend:
    return Backend(library, QuestionAnswerer(Searcher(library), k=3), k=3, lock_timeout=5)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_library(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Library]]:
    """Opens Libraries over one database, as each process (replica, or the next after a kill) does."""
    where = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    embedder = HashingEmbedder()
    opened: list[Library] = []

    def open_one() -> Library:
        home = PgHome(where) if where else tmp_path / "data"
        lib = Library(home, lambda: embedder, model_name=embedder.name)
        opened.append(lib)
        return lib

    yield open_one
    for lib in opened:
        lib.close()


def test_the_mark_commits_with_the_article_and_only_when_asked(open_library: Callable[[], Library]) -> None:
    lib = open_library()
    lib.ingest([BRIDGE])  # `newsqa index add`: no alerts owed
    lib.ingest([ZOO], alerts_due=True)
    assert lib.store.alerts_due() == ["zoo"]
    lib.ingest(
        [Article(id="zoo", title="Zebras escape", text=ZOO.text + " All were caught.")], alerts_due=True
    )
    assert lib.store.alerts_due() == ["zoo"]  # an update owes nothing new
    lib.remove(["zoo"])
    assert lib.store.alerts_due() == []  # a removed article owes nothing


def test_a_process_killed_before_its_pass_leaves_the_alert_to_the_next_one_once(
    open_library: Callable[[], Library],
) -> None:
    first = backend(open_library())
    first.follow("telegram:7", TOPIC)
    first.ingest([ZOO, BRIDGE])  # committed; the process dies before its alert pass
    first.library.close()

    second = backend(open_library())  # the next process
    alerts, due = second.due_alerts()
    assert [(a.follow.chat, a.passage.article.id) for a in alerts] == [("telegram:7", "zoo")] and due == 2
    assert second.due_alerts() == ([], 0)  # cleared: a second pass sends nothing
    assert second.newsqa.store.alerts_due() == []


def test_two_replicas_passing_over_the_same_marks_send_each_alert_once(
    open_library: Callable[[], Library],
) -> None:
    one, two = backend(open_library()), backend(open_library())
    one.follow("telegram:7", TOPIC)
    one.ingest([ZOO])
    due = one.newsqa.store.alerts_due()
    one.newsqa.refresh()
    firsts = one.follows.alerts_for(one.newsqa.searcher(), set(due))  # one's pass, up to its claims
    seconds, _ = two.due_alerts()  # the other replica reads the mark before the first cleared it
    one.newsqa.store.clear_alerts_due(due)  # clearing after the other did: harmless
    assert [a.passage.article.id for a in firsts] + [a.passage.article.id for a in seconds] == ["zoo"]
    assert one.due_alerts() == ([], 0) and two.due_alerts() == ([], 0)


def test_a_mark_whose_article_is_gone_is_cleared_without_alerts(open_library: Callable[[], Library]) -> None:
    b = backend(open_library())
    b.follow("telegram:7", TOPIC)
    b.ingest([ZOO])
    b.newsqa.remove(["zoo"])
    with b.newsqa.store.transaction():  # a mark an older replica's remove left behind
        b.newsqa.store.mark_alerts_due("zoo")
    assert b.due_alerts() == ([], 1)
    assert b.newsqa.store.alerts_due() == []


def test_articles_of_an_index_made_before_the_marks_owe_no_alerts(tmp_path: Path) -> None:
    path = tmp_path / "newsqa.sqlite"
    conn = connect(path)
    make_main_database(conn, feeds=True)
    conn.execute(
        "INSERT INTO articles(id, title, text, content_hash, added_at)"
        " VALUES('old', 'Old', 'Old news.', 'h', 1)"
    )
    conn.close()
    store = Store(path)
    try:
        assert store.alerts_due() == []
        assert store.conn.execute("SELECT COUNT(*) FROM articles").fetchone() == (1,)
    finally:
        store.close()
