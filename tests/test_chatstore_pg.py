"""Several `newsqa serve` replicas on one database: a chat's state, the question rate limit and the
feed rounds hold whichever process answers. Each test opens two stores (two processes' connections)
on one database, SQLite's file or PostgreSQL's server where both apply."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import HashingEmbedder
from web_fixture import ALLOW_LOCAL, WebServer, html_page, rss_feed

from newsqa.bot.backend import Backend
from newsqa.bot.chatstore import (
    CHAT_MIGRATIONS,
    CONVERSATION_DAYS,
    LIMIT_DAYS,
    PG_CHAT_MIGRATIONS,
    ChatStore,
)
from newsqa.bot.feedjob import FeedJob
from newsqa.bot.ratelimit import SharedQuestionLimiter
from newsqa.bot.services import Services
from newsqa.bot.settings import BotSettings
from newsqa.bot.topics import Follows
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.lease import Lease
from newsqa.index.storage.library import Library
from newsqa.index.storage.pgconn import FEEDS_KEY
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.store import Store
from newsqa.index.text.article import Article
from newsqa.index.web.feeds import FeedState, FeedStateStore

ZOO = Article(
    id="zoo", title="Zebras escape", text="Three zebras escaped from the city zoo on Friday morning."
)


def open_store(kind: str, where: str) -> Store:
    if kind == "sqlite":
        return Store(Path(where))
    from newsqa.index.storage.pgstore import PgStore

    return PgStore(where)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as two replicas have: their own connections, the same rows."""
    where = str(tmp_path / "index.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    first = open_store(request.param, where)
    second = open_store(request.param, where)
    yield first, second
    first.close()
    second.close()


def test_the_postgresql_track_has_the_same_steps() -> None:
    assert [m.name for m in PG_CHAT_MIGRATIONS] == [m.name for m in CHAT_MIGRATIONS]


def test_the_chat_track_runs_once(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    ChatStore(a)
    ChatStore(b)  # finds it done
    row = a.conn.execute("SELECT version FROM schema_versions WHERE track='chat'").fetchone()
    assert int(row[0]) == len(CHAT_MIGRATIONS)


def test_a_conversation_written_by_one_replica_is_read_by_another(two_stores: tuple[Store, Store]) -> None:
    one, two = ChatStore(two_stores[0]), ChatStore(two_stores[1])
    assert two.load_conversation("telegram:1") is None
    one.save_conversation("telegram:1", '{"turns": 1}')
    assert two.load_conversation("telegram:1") == '{"turns": 1}'
    two.save_conversation("telegram:1", '{"turns": 2}')  # the next question lands on the other replica
    assert one.load_conversation("telegram:1") == '{"turns": 2}'
    one.delete_conversation("telegram:1")
    assert two.load_conversation("telegram:1") is None


def test_follows_are_shared_and_capped_across_replicas(two_stores: tuple[Store, Store]) -> None:
    one, two = ChatStore(two_stores[0]), ChatStore(two_stores[1])
    first = one.add_follow("c", "drone attacks", most=2)
    assert first is not None and first.id > 0
    assert two.add_follow("c", "drone attacks", most=2) == first  # the same row, from either replica
    second = two.add_follow("c", "bridges", most=2)
    assert second is not None and second.id > first.id
    assert one.add_follow("c", "one too many", most=2) is None
    assert [f.topic for f in one.follows_of("c")] == ["drone attacks", "bridges"]
    assert [f.topic for f in two.all_follows()] == ["drone attacks", "bridges"]
    one.remove_follows([first])
    assert two.follows_of("c") == [second]


def test_an_alert_is_claimed_by_one_replica_only(two_stores: tuple[Store, Store]) -> None:
    one, two = ChatStore(two_stores[0]), ChatStore(two_stores[1])
    follow = one.add_follow("c", "zebras", most=5)
    assert follow is not None
    now = time.time()
    assert one.record_alert(follow, "zoo", now) is True
    assert two.record_alert(follow, "zoo", now + 1) is False  # already sent: the other must not send it
    assert two.was_alerted("c", "zoo") and not two.was_alerted("c", "bridge")
    assert two.alerts_since("c", now - 1) == 1 and two.alerts_since("c", now) == 0


def test_two_replicas_working_out_alerts_for_one_article_send_it_once(pg_url: str) -> None:
    """Two processes' Follows over one PostgreSQL index: only one of them gets the alert to send."""
    url = pg_url
    embedder = HashingEmbedder()
    libs = [Library(PgHome(url), lambda: embedder, model_name=embedder.name) for _ in range(2)]
    try:
        follows = [Follows(ChatStore(lib.store)) for lib in libs]
        follows[0].follow("telegram:7", "zebras escaped zoo")
        added = set(libs[0].ingest([ZOO]).added_ids)
        for lib in libs:
            lib.refresh()
        firsts = follows[0].alerts_for(Searcher(libs[0]), added)
        seconds = follows[1].alerts_for(Searcher(libs[1]), added)
        assert [a.passage.article.id for a in firsts] == ["zoo"] and seconds == []
    finally:
        for lib in libs:
            lib.close()


def test_expiry_on_either_store(two_stores: tuple[Store, Store]) -> None:
    one, two = ChatStore(two_stores[0]), ChatStore(two_stores[1])
    now = time.time()
    old = now - (CONVERSATION_DAYS + 1) * 86400
    follow = one.add_follow("c", "zebras", most=5)
    assert follow is not None
    one.save_conversation("idle", "{}")
    one.save_conversation("active", "{}")
    one.store.conn.execute("UPDATE conversations SET updated_at=? WHERE chat='idle'", (old,))
    one.record_alert(follow, "old", old)
    one.record_alert(follow, "new", now)
    seen = one.question_times("telegram:1")
    assert one.swap_question_times("telegram:1", seen, (now,))
    one.store.conn.execute("UPDATE question_limits SET updated_at=?", (now - (LIMIT_DAYS + 1) * 86400,))
    assert two.expire(now, limit=10) == 3  # the idle conversation, the old alert, the idle limit row
    assert two.load_conversation("idle") is None and two.load_conversation("active") == "{}"
    assert two.was_alerted("c", "new") and not two.was_alerted("c", "old")
    assert two.question_times("telegram:1").times == ()


# -- the shared question limit ------------------------------------------------------------------------


def test_the_rate_limit_holds_across_two_limiters_on_one_database(two_stores: tuple[Store, Store]) -> None:
    now = [1_000_000.0]
    one, two = (SharedQuestionLimiter(ChatStore(s), 2, 60, clock=lambda: now[0]) for s in two_stores)
    assert one.check("telegram:1") == 0
    assert two.check("telegram:1") == 0
    assert one.check("telegram:1") == pytest.approx(60)  # the other replica's question counted
    assert two.check("telegram:1") == pytest.approx(60)
    assert two.check("telegram:2") == 0  # per user
    now[0] += 30
    assert one.check("telegram:1") == pytest.approx(30)  # a refusal is not counted
    now[0] += 30.5
    assert two.check("telegram:1") == 0 and one.check("telegram:1") == 0
    assert two.check("telegram:1") > 0


def test_racing_replicas_admit_exactly_the_limit(two_stores: tuple[Store, Store]) -> None:
    """Eight threads on two limiters ask for one user at once: the compare-and-swap lets `limit` through."""
    limiters = [SharedQuestionLimiter(ChatStore(s), 5, 3600) for s in two_stores]
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def ask(limiter: SharedQuestionLimiter) -> None:
        start.wait()
        for _ in range(3):
            ok = limiter.check("telegram:9") == 0
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=ask, args=(limiters[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 24 and admitted.count(True) == 5


def test_the_bot_counts_questions_in_the_chat_tables(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    try:
        backend = Backend(lib, QuestionAnswerer(Searcher(lib)), k=3, lock_timeout=5)
        services = Services.create(BotSettings(token="t", questions_per_window=1), backend)
        assert services.limiter.check("telegram:5") == 0
        assert backend.chats.question_times("telegram:5").times != ()
    finally:
        lib.close()


# -- feed rounds ----------------------------------------------------------------------------------------


def test_feed_state_is_the_index_stores_on_either_database(two_stores: tuple[Store, Store]) -> None:
    url = "http://x/feed"
    one, two = FeedStateStore(two_stores[0], seen_cap=2), FeedStateStore(two_stores[1], seen_cap=2)
    state = FeedState(url, etag='"e"', last_modified="lm", seen={"a", "b"}, failures=2)
    state.last_error, state.next_due = "HTTP 500", 1_714_557_600.0
    one.save(state)
    stale = two.load(url)
    assert stale == state
    one.mark_seen(url, ["c", "d", "e"])
    two.save(stale, listed=["e"])  # loaded before "c".."e" were confirmed: it cannot un-see them
    assert one.load(url).seen == {"d", "c", "e"}  # "a", "b" unlisted beyond the newest two: dropped
    one.close()  # a borrowed store stays open for its owner
    assert two_stores[0].conn.execute("SELECT COUNT(*) FROM feed_state").fetchone()[0] == 1


def test_one_process_of_many_holds_the_lease_until_it_lets_go(pg_url: str) -> None:
    one, two = Lease(pg_url, FEEDS_KEY), Lease(pg_url, FEEDS_KEY)
    try:
        assert one.held() and not two.held()
        assert one.held() and not two.held()  # held for the process's life, not per round
        one.close()  # exit or death: the server ends its session
        assert two.held() and not one.held()
    finally:
        one.close()
        two.close()


def test_a_replica_that_lost_its_connection_lets_another_take_over(pg_url: str) -> None:
    one, two = Lease(pg_url, FEEDS_KEY), Lease(pg_url, FEEDS_KEY)
    try:
        assert one.held()
        assert one._conn is not None
        pid = one._conn.raw.info.backend_pid
        killer = Lease(pg_url, 1)  # any connection will do
        assert killer.held()
        assert killer._conn is not None
        killer._conn.execute("SELECT pg_terminate_backend(?)", (pid,))
        killer.close()
        deadline = time.monotonic() + 5  # the killed backend exits a moment after the signal
        while not two.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert two.held()  # the server released the dead session's lock
        assert not one.held()  # and the old holder, reconnecting, finds it taken
    finally:
        one.close()
        two.close()


async def test_two_feed_jobs_on_one_database_run_one_round(pg_url: str) -> None:
    embedder = HashingEmbedder()
    settings = BotSettings(token="t", allow_hosts=ALLOW_LOCAL)
    with WebServer() as web:
        web.set_route("/news/zoo", html_page("Zebras escape", [ZOO.text], site="City Paper"))
        feed = web.url("/feed.xml")
        items = [{"title": "Zebras", "link": web.url("/news/zoo"), "guid": "urn:zoo"}]
        web.set_route("/feed.xml", rss_feed("City", items), content_type="application/rss+xml")
        libs = [Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name) for _ in range(2)]
        jobs: list[FeedJob] = []
        try:
            for lib in libs:
                backend = Backend(lib, QuestionAnswerer(Searcher(lib)), k=3, lock_timeout=5)
                jobs.append(await FeedJob.open(Services.create(settings, backend), (feed,)))
            first = await jobs[0].run_round(None)  # type: ignore[arg-type]  # no follows: no alert to send
            second = await jobs[1].run_round(None)  # type: ignore[arg-type]
            assert first is not None and first.ingest is not None and len(first.ingest.added_ids) == 1
            assert second is None  # skipped: the other replica polls the feeds
            assert web.hits["/feed.xml"] == 1 and web.hits["/news/zoo"] == 1
            assert libs[1].store.find_article(web.url("/news/zoo")) is not None  # indexed once, for both
            jobs[0].close()  # the poller stops: the next tick elsewhere takes over
            third = await jobs[1].run_round(None)  # type: ignore[arg-type]
            assert third is not None and web.hits["/feed.xml"] == 2
        finally:
            for job in jobs:
                job.close()
            for lib in libs:
                lib.close()
