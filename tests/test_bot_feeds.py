"""New articles while the bot runs, end to end: feeds polled by `newsqa serve`'s job, /follow and alerts.

The bot runs through `run_bot` against the Bot API stub, the feeds and pages come from a local web server
whose routes change while the bot polls them every 0.2 s. "A round finished" is read off the server: rounds
never overlap and each fetches the feed once, so once the feed was fetched twice after a change, one whole
round (poll, ingest, alerts) saw the change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import ADMIN, AIN, AIRBASE, GROUP, STRANGER, USER, Harness, bold, running_harness, store_for
from stories import BRIDGE, ZOO
from web_fixture import WebServer, html_page, rss_feed

from newsqa.bot import feedjob
from newsqa.index.text.article import Article
from newsqa.index.web import feedsync

ZOO_ARTICLE = Article(id="zoo", title="Zebras escape", text=" ".join(ZOO))
EVERY = 0.2  # seconds between feed rounds in these tests
TOPIC = "new river bridge"
OPENING = [
    "The new river bridge opened to traffic on Monday, three weeks ahead of the schedule.",
    "Hundreds of residents walked across before the first buses were allowed on the deck.",
    "The ferry operator said its last crossing would run at the end of the month.",
]


@pytest.fixture(params=["sqlite", "postgresql"])
async def h(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Harness]:
    """Feed rounds and alerts on each store (on PostgreSQL, through the feeds lease)."""
    async with running_harness(tmp_path, caplog, store_for(request)) as harness:
        yield harness


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


class Newsroom:
    """The local site: article pages and one RSS feed listing them, newest items added at run time."""

    def __init__(self, web: WebServer) -> None:
        self.web = web
        self.items: list[dict[str, str]] = []
        self.feed_url = web.url("/feed.xml")
        self._publish_feed()

    def publish(self, path: str, title: str, paragraphs: list[str], *, site: str = "City Paper") -> str:
        self.web.set_route(path, html_page(title, paragraphs, site=site, published="2024-03-05T09:00:00Z"))
        self.items.append({"title": title, "link": self.web.url(path), "guid": path})
        self._publish_feed()
        return self.web.url(path)

    def _publish_feed(self) -> None:
        self.web.set_route(
            "/feed.xml", rss_feed("City Paper", self.items), content_type="application/rss+xml"
        )

    def polls(self) -> int:
        return len(self.web.requests_for("/feed.xml"))

    async def rounds(self, h: Harness, after: int, n: int = 2) -> None:
        """Wait until the feed was fetched `n` more times than `after` (n=2: a whole round saw a change)."""
        await h.stub.await_for(lambda: self.polls() >= after + n, what=f"{n} more feed polls")


@pytest.fixture
def news(web: WebServer) -> Newsroom:
    return Newsroom(web)


async def start_with_feed(h: Harness, news: Newsroom, **overrides: Any) -> None:
    """Start the bot polling the feed; returns once its first round (the initial items) is done."""
    await h.start(feeds=(news.feed_url,), feed_every=EVERY, **overrides)
    await news.rounds(h, 0)


# -- alerts from the feed job -------------------------------------------------------------------------


async def test_a_follower_gets_one_alert_when_the_feed_brings_a_matching_story(
    h: Harness, news: Newsroom, web: WebServer
) -> None:
    news.publish("/zoo", "Zebras escape", ZOO)
    broken = web.url("/gone.xml")  # 404: reported, backed off, and the good feed goes on
    await h.start(feeds=(broken, news.feed_url), feed_every=EVERY)
    await news.rounds(h, 0)
    assert h.library is not None and h.library.store.find_article(web.url("/zoo")) is not None
    (followed,) = await h.say(USER, f"/follow {TOPIC}")
    assert followed.text.startswith(f"Following “{TOPIC}”.")
    before = len(h.sends(USER))

    bridge = news.publish("/bridge", "Bridge approved", BRIDGE)
    (alert,) = await h.replies(USER, before)
    assert alert.text.startswith(f"New on {TOPIC}:\n") and alert.parse_mode == "HTML"
    assert bold(alert) == [BRIDGE[0]]  # the matching sentence, in bold inside its excerpt
    assert alert.text.endswith("\n— Bridge approved · City Paper · 2024-03-05")
    assert [e["url"] for e in alert.entities if e["type"] == "text_link"] == [bridge]
    assert [b["text"] for b in alert.buttons] == ["Context", "Source"]
    note, (context,) = await h.tap(alert, alert.callback_data[0], 1)
    assert note is None and context.text.startswith("Context from Bridge approved")
    before += 1

    polls = news.polls()
    await news.rounds(h, polls, 3)  # further rounds: the same story is not news again
    assert len(h.sends(USER)) == before + 1
    assert h.stub.errors == []
    assert len(web.requests_for("/bridge")) == 1 and len(web.requests_for("/gone.xml")) == 1


async def test_an_unrelated_story_sends_nothing(h: Harness, news: Newsroom, web: WebServer) -> None:
    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")
    before, polls = len(h.sends(USER)), news.polls()
    zoo = news.publish("/zoo", "Zebras escape", ZOO)
    await news.rounds(h, polls)
    assert h.library is not None and h.library.store.find_article(zoo) is not None  # indexed, yet no alert
    assert len(h.sends(USER)) == before


async def test_a_syndicated_copy_of_an_alerted_story_does_not_alert_again(
    h: Harness, news: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    news.publish("/bridge", "Bridge approved", BRIDGE)
    (alert,) = await h.replies(USER, before)
    assert bold(alert) == [BRIDGE[0]]

    await h.say(ADMIN, f"/follow {TOPIC}")  # follows after the story: the copy is not news to him either
    admin_before, polls = len(h.sends(ADMIN)), news.polls()
    news.publish("/wire/bridge", "Bridge gets go-ahead", BRIDGE[1:], site="Wire Service")
    await news.rounds(h, polls)
    assert any("1 copies of stories already indexed" in r.getMessage() for r in caplog.records)
    assert len(h.sends(USER)) == before + 1 and len(h.sends(ADMIN)) == admin_before


async def test_a_chat_that_blocked_the_bot_does_not_stop_the_others(
    h: Harness, news: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    h.expect_errors = True  # the stub answers 403 to the blocked chat; checked below instead
    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")  # followed first: its alert is tried first
    await h.say(ADMIN, f"/follow {TOPIC}")
    h.stub.block_chat(USER)
    before = len(h.sends(ADMIN))
    news.publish("/bridge", "Bridge approved", BRIDGE)
    (alert,) = await h.replies(ADMIN, before)
    assert bold(alert) == [BRIDGE[0]]
    news.publish("/opening", "Bridge opens", OPENING)
    (second,) = await h.replies(ADMIN, before + 1)  # the job went on with the next round
    assert bold(second) == [OPENING[0]]
    assert [e.error_code for e in h.stub.errors] == [403]  # tried once, then its topics were dropped
    assert h.library is not None and h.library.store.conn.execute(
        "SELECT COUNT(*) FROM follows WHERE chat = ?", (f"telegram:{USER}",)
    ).fetchone() == (0,)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_failing_round_is_logged_and_the_next_one_runs(
    h: Harness, news: Newsroom, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h.expect_errors = True
    original = feedjob.sync_feeds
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return await original(*args, **kwargs)

    monkeypatch.setattr(feedjob, "sync_feeds", flaky)
    await h.start(feeds=(news.feed_url,), feed_every=EVERY)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    await h.stub.await_for(lambda: calls["n"] >= 2, what="the failing round")
    news.publish("/bridge", "Bridge approved", BRIDGE)
    (alert,) = await h.replies(USER, before)
    assert bold(alert) == [BRIDGE[0]]
    (failure,) = [r for r in caplog.records if r.name.startswith("newsqa") and r.levelno >= logging.ERROR]
    assert failure.getMessage().startswith("feed round failed")
    assert failure.exc_info is not None and "disk on fire" in str(failure.exc_info[1])
    assert h.stub.errors == []


async def test_an_alert_whose_article_committed_is_sent_when_the_database_is_back(
    h: Harness, news: Newsroom, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database goes away between the article's commit and its alerts: a later tick sends it, once."""
    import psycopg

    from newsqa.bot.backend import Backend

    original = Backend.due_alerts
    calls = {"n": 0}

    def away_once(self: Backend) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return original(self)

    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    monkeypatch.setattr(Backend, "due_alerts", away_once)
    news.publish("/bridge", "Bridge approved", BRIDGE)
    (alert,) = await h.replies(USER, before)
    assert bold(alert) == [BRIDGE[0]] and calls["n"] >= 2
    assert any("wait for the database" in r.getMessage() for r in caplog.records)
    polls = news.polls()
    await news.rounds(h, polls, 3)
    assert len(h.sends(USER)) == before + 1  # once


async def test_a_round_that_cannot_write_fetches_its_stories_again(
    h: Harness, news: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    await start_with_feed(h, news, lock_timeout=0.3)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    assert h.library is not None
    with h.library.dir.writer_lock():  # another process (say `newsqa index build`) is writing
        news.publish("/bridge", "Bridge approved", BRIDGE)
        await h.stub.await_for(
            lambda: any(r.getMessage().startswith("feed round not indexed") for r in caplog.records),
            what="the round giving up on the lock",
        )
    (alert,) = await h.replies(USER, before)  # a later round indexed the story after all
    assert bold(alert) == [BRIDGE[0]]


async def test_questions_are_answered_while_a_round_is_indexing(
    h: Harness, news: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexing, release, indexed = threading.Event(), threading.Event(), threading.Event()
    original = feedsync.ingest_locked

    def slow_ingest(*args: Any) -> Any:
        indexing.set()
        release.wait(5)  # a big batch of stories being embedded and written
        try:
            return original(*args)
        finally:
            indexed.set()

    monkeypatch.setattr(feedsync, "ingest_locked", slow_ingest)
    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    news.publish("/bridge", "Bridge approved", BRIDGE)
    try:
        await h.stub.await_for(indexing.is_set, what="the round indexing")
        (answer,) = await h.say(USER, AIRBASE)  # answered while the ingest still runs
        assert bold(answer)[0] == AIN and not indexed.is_set()
    finally:
        release.set()
    (alert,) = await h.replies(USER, before + 1)
    assert bold(alert) == [BRIDGE[0]]


async def test_a_new_story_is_answerable_within_a_poll_interval(h: Harness, news: Newsroom) -> None:
    """Feed update -> answer citing it, timed as a user sees it: ask until an answer cites the story."""
    await start_with_feed(h, news, questions_per_window=0)
    published = time.perf_counter()
    news.publish("/bridge", "Bridge approved", BRIDGE)
    asked = 0
    while True:
        (answer,) = await h.say(USER, "When did the city council approve the new river bridge?")
        asked += 1
        if "— Bridge approved" in answer.text:
            break
        assert time.perf_counter() - published < 10, "not answerable within 10 s"
    took = time.perf_counter() - published
    assert bold(answer)[0] == BRIDGE[0]
    print(f"\nfeed update -> answerable: {took:.2f} s (poll every {EVERY} s, {asked} questions asked)")
    assert took < 5 * EVERY + 2  # a poll interval, a fetch and an ingest; generous for a loaded machine


# -- /follow, /following, /unfollow; /add alerts too --------------------------------------------------


async def test_follow_following_unfollow_round_trip(h: Harness) -> None:
    other_group = -1009999
    await h.start(allowed=frozenset({USER, GROUP}))
    (none,) = await h.say(USER, "/following")
    assert none.text.startswith("This chat follows no topics.")
    (usage,) = await h.say(USER, "/follow")
    assert usage.text.startswith("Say what to follow, e.g. /follow drone attacks in Iraq")
    (first,) = await h.say(USER, f"/follow   {TOPIC}  ")
    assert first.text.startswith(f"Following “{TOPIC}”.") and "at most 10 alerts an hour" in first.text
    await h.say(USER, "/follow Did zebras escape from the zoo?")
    await h.say(USER, f"/follow {TOPIC}")  # again: still one
    (listing,) = await h.say(USER, "/following")
    assert listing.text.startswith(
        f"This chat follows 2 topics:\n1. {TOPIC}\n2. Did zebras escape from the zoo?\n\n/unfollow 1"
    )
    (gone,) = await h.say(USER, "/unfollow 2")
    assert gone.text == "Stopped following “Did zebras escape from the zoo?”."
    (missing,) = await h.say(USER, "/unfollow 5")
    assert missing.text.startswith("This chat does not follow “5”")
    (by_words,) = await h.say(USER, "/unfollow NEW River bridge")
    assert by_words.text == f"Stopped following “{TOPIC}”."
    await h.say(USER, "/follow a")
    await h.say(USER, "/follow b")
    (all_gone,) = await h.say(USER, "/unfollow")
    assert all_gone.text == "Stopped following “a”, “b”."

    group: dict[str, Any] = {"user_id": USER, "chat_type": "supergroup"}
    (in_group,) = await h.say(GROUP, f"/follow@newsqa_test_bot {TOPIC}", **group)
    assert in_group.text.startswith(f"Following “{TOPIC}”.")  # the group's own topics
    (group_list,) = await h.say(GROUP, "/following", user_id=STRANGER, chat_type="supergroup")
    assert f"1. {TOPIC}" in group_list.text
    (private,) = await h.say(USER, "/following")
    assert private.text.startswith("This chat follows no topics.")

    (refused,) = await h.say(STRANGER, f"/follow {TOPIC}")
    assert refused.text.startswith("Sorry, this bot only answers the people and chats its owner allowed")
    (not_here,) = await h.say(other_group, f"/follow {TOPIC}", user_id=USER, chat_type="supergroup")
    assert not_here.text.startswith("Sorry, alerts only go to chats the bot's owner allowed")
    assert h.library is not None
    chats = h.library.store.conn.execute("SELECT DISTINCT chat FROM follows ORDER BY chat").fetchall()
    assert chats == [(f"telegram:{GROUP}",)]


def alert_rounds(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The bot's line after each look for alerts (one per batch of new articles)."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("alerts: ")]


async def test_articles_an_admin_adds_alert_followers_once(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.start()
    await h.say(USER, "/follow zebras escaped from the zoo")
    before = len(h.sends(USER))
    (added,) = await h.say(ADMIN, "/add Zebras escape\n" + "\n\n".join(ZOO))
    assert added.text.startswith("Added: 1 added")
    (alert,) = await h.replies(USER, before)
    assert alert.text.startswith("New on zebras escaped from the zoo:\n") and bold(alert) == [ZOO[0]]
    assert "\n— Zebras escape" in alert.text

    await h.say(USER, "/follow zebras escaped again")
    upload = ("zebras.txt", b"Zebras again\nTwo zebras escaped again from the zoo on Sunday.\n")
    h.stub.push_document(ADMIN, *upload)
    (alert,) = await h.replies(USER, before + 2)  # an uploaded file is a new article like any other
    assert bold(alert) == ["Two zebras escaped again from the zoo on Sunday."]
    (removed,) = await h.say(ADMIN, "/remove telegram:zebras.txt")
    assert removed.text.startswith("Removed 1 article")
    admin_before = len(h.sends(ADMIN))
    h.stub.push_document(ADMIN, *upload)  # the same article comes back: added again, but not news again
    (readded,) = await h.replies(ADMIN, admin_before)
    assert readded.text.startswith("Added: 1 added")
    await h.stub.await_for(lambda: len(alert_rounds(caplog)) == 3, what="the alerts for the third add")
    assert alert_rounds(caplog) == ["alerts: 1 sent for 1 new articles"] * 2 + [
        "alerts: 0 sent for 1 new articles"
    ]
    assert len(h.sends(USER)) == before + 3  # two alerts and the second /follow's reply


# -- nothing lost: alerts owed survive a process killed, or a database away, before the alert pass ------


def marks(h: Harness) -> list[str]:
    """The articles marked as owing alerts, read through a connection of the test's own."""
    lib = h.open_library()
    try:
        return sorted(lib.store.alerts_due())
    finally:
        lib.close()


async def test_an_alert_left_by_a_process_killed_before_its_pass_is_sent_once_after_a_restart(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from newsqa.bot import admin

    async def killed(*args: Any) -> int:  # the process dies between the article's commit and its alerts
        return 0

    await h.start()
    await h.say(USER, "/follow zebras escaped from the zoo")
    before = len(h.sends(USER))
    monkeypatch.setattr(admin, "alert_followers", killed)
    (added,) = await h.say(ADMIN, "/add Zebras escape\n" + "\n\n".join(ZOO))
    assert added.text.startswith("Added: 1 added")
    await h.stop()
    assert len(h.sends(USER)) == before and len(marks(h)) == 1  # committed with its article

    monkeypatch.undo()
    await h.start()  # the next process's start-up pass sends it
    (alert,) = await h.replies(USER, before)
    assert bold(alert) == [ZOO[0]] and marks(h) == []
    await h.stop()
    await h.start()  # and a further start finds nothing owed: once
    await h.say(USER, "/following")
    assert len(h.sends(USER)) == before + 2
    assert alert_rounds(caplog) == ["alerts: 1 sent for 1 new articles"]


async def test_alerts_owed_while_the_database_is_away_survive_a_restart(
    h: Harness, news: Newsroom, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The feed round commits a story, every alert pass finds the database away, the process is stopped:
    the mark is in the database, and the next process sends the alert once."""
    import psycopg

    from newsqa.bot.backend import Backend

    def away(self: Backend) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    await start_with_feed(h, news)
    await h.say(USER, f"/follow {TOPIC}")
    before = len(h.sends(USER))
    monkeypatch.setattr(Backend, "due_alerts", away)
    polls = news.polls()
    bridge = news.publish("/bridge", "Bridge approved", BRIDGE)
    await news.rounds(h, polls)
    assert any("alerts wait for the database" in r.getMessage() for r in caplog.records)
    await h.stop()
    assert len(h.sends(USER)) == before and marks(h) == [bridge]

    monkeypatch.undo()
    await h.start()
    (alert,) = await h.replies(USER, before)
    assert bold(alert) == [BRIDGE[0]]
    polls = news.polls()
    await news.rounds(h, polls, 3)  # every tick passes again: nothing more
    assert len(h.sends(USER)) == before + 1 and marks(h) == []


async def test_articles_indexed_without_the_bot_never_alert(h: Harness) -> None:
    """What `newsqa index add` (or a newsqa before the marks) indexed owes no alerts: a start sends none."""
    h.index([ZOO_ARTICLE])
    await h.start()
    await h.say(USER, "/follow zebras escaped from the zoo")
    before = len(h.sends(USER))
    await h.stop()
    await h.start()
    await h.say(USER, "/following")
    assert len(h.sends(USER)) == before + 1 and marks(h) == []
