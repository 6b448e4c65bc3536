"""/follow: a new article that answers a followed topic alerts once, within a rate limit."""

from __future__ import annotations

import time

import pytest

from newsqa.bot.chatstore import ChatStore
from newsqa.bot.topics import MAX_TOPICS_PER_CHAT, FollowError, Follows
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

ZOO = Article(
    id="zoo", title="Zebras escape", text="Three zebras escaped from the city zoo on Friday morning."
)
BRIDGE = Article(id="bridge", title="Bridge", text="The council approved the new river bridge on Tuesday.")
ZOO2 = Article(id="zoo2", title="More zebras", text="Two more zebras escaped from the city zoo on Sunday.")


def test_new_matching_article_alerts_once(library: Library) -> None:
    follows = Follows(ChatStore(library.store))
    follows.follow("chat1", "zebras escaped zoo")
    follows.follow("chat2", "river bridge council")
    searcher = Searcher(library)
    report = library.ingest([ZOO, BRIDGE])
    alerts = follows.alerts_for(searcher, set(report.added_ids))
    assert sorted((a.follow.chat, a.passage.article.id) for a in alerts) == [
        ("chat1", "zoo"),
        ("chat2", "bridge"),
    ]
    assert "zebras" in next(a for a in alerts if a.follow.chat == "chat1").passage.sentence
    # the same article again: no repeat
    assert follows.alerts_for(searcher, {"zoo", "bridge"}) == []
    # a later article for the same topic does alert
    report = library.ingest([ZOO2])
    assert [
        (a.follow.chat, a.passage.article.id) for a in follows.alerts_for(searcher, set(report.added_ids))
    ] == [("chat1", "zoo2")]


def test_unrelated_article_does_not_alert(library: Library) -> None:
    follows = Follows(ChatStore(library.store))
    follows.follow("chat1", "election results in Wales")
    report = library.ingest([ZOO])
    assert follows.alerts_for(Searcher(library), set(report.added_ids)) == []


def test_rate_limit_per_chat(library: Library) -> None:
    follows = Follows(ChatStore(library.store), max_per_hour=1)
    follows.follow("chat1", "zebras escaped zoo")
    searcher = Searcher(library)
    t0 = time.time()  # a real time, as the bot's alerts have (chatstore.py, retention)
    assert len(follows.alerts_for(searcher, set(library.ingest([ZOO]).added_ids), now=t0)) == 1
    assert follows.alerts_for(searcher, set(library.ingest([ZOO2]).added_ids), now=t0 + 1) == []


def test_follow_unfollow_following(library: Library) -> None:
    follows = Follows(ChatStore(library.store))
    first = follows.follow("c", "  drone   attacks ")
    assert first.topic == "drone attacks" and follows.follow("c", "drone attacks") == first
    follows.follow("c", "bridges")
    assert [f.topic for f in follows.following("c")] == ["drone attacks", "bridges"]
    assert [f.topic for f in follows.unfollow("c", "1")] == ["drone attacks"]
    assert [f.topic for f in follows.unfollow("c")] == ["bridges"] and follows.following("c") == []
    with pytest.raises(FollowError):
        follows.follow("c", "   ")
    for i in range(MAX_TOPICS_PER_CHAT):
        follows.follow("c", f"topic {i}")
    with pytest.raises(FollowError, match="unfollow"):
        follows.follow("c", "one too many")


def test_which_follow_is_its_place_in_the_list_never_its_row_id(library: Library) -> None:
    follows = Follows(ChatStore(library.store))
    for topic in ("a", "b", "c"):
        follows.follow("chat", topic)  # rows 1, 2, 3
    follows.unfollow("chat", "1")  # "a" goes: "b" (row 2) is first now, "c" (row 3) second
    assert [f.topic for f in follows.unfollow("chat", "2")] == ["c"]
    follows.follow("chat", "2")  # a topic that reads like a number, in row 4
    assert [f.topic for f in follows.following("chat")] == ["b", "2"]
    assert [f.topic for f in follows.unfollow("chat", "1")] == ["b"]  # not the topic "2" with it
    assert [f.topic for f in follows.following("chat")] == ["2"]
    assert follows.unfollow("chat", "2") == []  # a place the list does not have
