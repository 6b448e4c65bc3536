"""Following a topic: when a newly indexed article answers it, the follower hears about it once.

"Answers it" is decided by the same search people use: the topic is asked as a question, and a new
article counts when one of its sentences is among the top answers and the search does not abstain. A push
message interrupts, so that sentence must also stand on its own: close in meaning to the topic and holding
most of its words (`min_match`), so a small index cannot carry an unrelated story into the top answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .answer import Passage
from .lexical import coverage, query_terms
from .search import Searcher, answer_confidence
from .store import Store

MAX_TOPICS_PER_CHAT = 20
MAX_TOPIC_CHARS = 200


@dataclass(frozen=True, slots=True)
class Follow:
    id: int
    chat: str
    topic: str


@dataclass(frozen=True, slots=True)
class Alert:
    follow: Follow
    passage: Passage


class FollowError(ValueError):
    """A follow request that cannot be taken; the message is for the user."""


class Follows:
    """Topics per chat, persisted in the index database."""

    def __init__(
        self, store: Store, *, top: int = 3, max_per_hour: int = 10, min_match: float = 0.55
    ) -> None:
        self.store = store
        self.min_match = min_match
        self.top = top  # a new article must be among this many answers to the topic
        self.max_per_hour = max_per_hour  # per chat: a busy news day must not flood anyone

    def follow(self, chat: str, topic: str) -> Follow:
        topic = " ".join(topic.split())
        if not topic:
            raise FollowError("say what to follow, e.g. /follow drone attacks in Iraq")
        if len(topic) > MAX_TOPIC_CHARS:
            raise FollowError(f"a topic can be at most {MAX_TOPIC_CHARS} characters")
        conn = self.store.conn
        with self.store.transaction():
            count = conn.execute("SELECT COUNT(*) FROM follows WHERE chat=?", (chat,)).fetchone()[0]
            existing = conn.execute(
                "SELECT id FROM follows WHERE chat=? AND topic=?", (chat, topic)
            ).fetchone()
            if existing:
                return Follow(int(existing[0]), chat, topic)
            if count >= MAX_TOPICS_PER_CHAT:
                raise FollowError(f"you follow {count} topics already; /unfollow one first")
            cur = conn.execute(
                "INSERT INTO follows(chat, topic, created_at) VALUES(?,?,?)", (chat, topic, time.time())
            )
        return Follow(int(cur.lastrowid or 0), chat, topic)

    def unfollow(self, chat: str, which: str | None = None) -> list[Follow]:
        """Stop following one topic (by its number or text), or all of them when `which` is None."""
        current = self.following(chat)
        if which is None:
            gone = current
        else:
            key = which.strip()
            gone = [f for f in current if str(f.id) == key or f.topic.lower() == key.lower()]
        with self.store.transaction():
            self.store.conn.executemany("DELETE FROM follows WHERE id=?", ((f.id,) for f in gone))
        return gone

    def following(self, chat: str) -> list[Follow]:
        rows = self.store.conn.execute(
            "SELECT id, chat, topic FROM follows WHERE chat=? ORDER BY id", (chat,)
        ).fetchall()
        return [Follow(int(r[0]), r[1], r[2]) for r in rows]

    def alerts_for(
        self, searcher: Searcher, new_articles: set[str], *, now: float | None = None
    ) -> list[Alert]:
        """Alerts due for articles just indexed; each is recorded as sent, so it is never sent twice."""
        if not new_articles:
            return []
        now = time.time() if now is None else now
        rows = self.store.conn.execute("SELECT id, chat, topic FROM follows ORDER BY id").fetchall()
        alerts: list[Alert] = []
        rankings: dict[str, list[Passage]] = {}
        for fid, chat, topic in rows:
            if topic not in rankings:  # several chats following one topic cost one search
                ranking = searcher.rank(topic)
                found = searcher.passages(ranking, k=self.top) if ranking.answered else []
                rankings[topic] = [p for p in found if self._match(searcher, topic, p) >= self.min_match]
            match = next((p for p in rankings[topic] if p.article.id in new_articles), None)
            if match is None or not self._may_send(chat, match.article.id, now):
                continue
            with self.store.transaction():
                self.store.conn.execute(
                    "INSERT OR IGNORE INTO alerts(chat, article, follow, sent_at) VALUES(?,?,?,?)",
                    (chat, match.article.id, fid, now),
                )
            alerts.append(Alert(Follow(int(fid), chat, topic), match))
        return alerts

    @staticmethod
    def _match(searcher: Searcher, topic: str, passage: Passage) -> float:
        """How well this one sentence fits the topic: mean of cosine and share of the topic's words."""
        library = searcher.library
        q = library.embedder.embed([topic])[0]
        v = library.store.vectors_for_sentences([passage.sentence_id], library.dim)[0]
        return answer_confidence(float(np.dot(q, v)), coverage(query_terms(topic), passage.sentence))

    def _may_send(self, chat: str, article: str, now: float) -> bool:
        conn = self.store.conn
        if conn.execute("SELECT 1 FROM alerts WHERE chat=? AND article=?", (chat, article)).fetchone():
            return False
        recent = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE chat=? AND sent_at > ?", (chat, now - 3600)
        ).fetchone()[0]
        return int(recent) < self.max_per_hour
