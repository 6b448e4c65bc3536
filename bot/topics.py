"""Following a topic: when a newly indexed article answers it, the follower hears about it once.

"Answers it" is decided by the same search people use: the topic is asked as a question, and a new
article counts when one of its sentences is among the top answers and the search does not abstain. A push
message interrupts, so that sentence must also stand on its own: close in meaning to the topic and holding
most of its words (`min_match`), so a small index cannot carry an unrelated story into the top answers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from newsqa.index.search.answer import Passage
from newsqa.index.search.lexical import coverage, query_terms
from newsqa.index.search.ranking import Searcher, answer_confidence

from .chatstore import ChatStore, Follow

MAX_TOPICS_PER_CHAT = 20
MAX_TOPIC_CHARS = 200


@dataclass(frozen=True, slots=True)
class Alert:
    follow: Follow
    passage: Passage


class FollowError(ValueError):
    """A follow request that cannot be taken; the message is for the user."""


class Follows:
    """Topics per chat (kept by the ChatStore) and the alerts they are due."""

    def __init__(
        self, store: ChatStore, *, top: int = 3, max_per_hour: int = 10, min_match: float = 0.55
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
        follow = self.store.add_follow(chat, topic, most=MAX_TOPICS_PER_CHAT)
        if follow is None:
            count = len(self.store.follows_of(chat))
            raise FollowError(f"you follow {count} topics already; /unfollow one first")
        return follow

    def unfollow(self, chat: str, which: str | None = None) -> list[Follow]:
        """Stop following the topic `which` names (see `pick_follows`), or all of them when it is None."""
        current = self.following(chat)
        gone = current if which is None else pick_follows(current, which)
        self.store.remove_follows(gone)
        return gone

    def following(self, chat: str) -> list[Follow]:
        return self.store.follows_of(chat)

    def alerts_for(
        self, searcher: Searcher, new_articles: set[str], *, now: float | None = None
    ) -> list[Alert]:
        """Alerts due for articles just indexed; each is recorded as sent, so it is never sent twice.

        The record is the claim: an alert is returned only by the call whose insert made its row, so two
        processes working out alerts for one article never both send it. (The hourly cap is read before
        the claim, so racing processes may overshoot it by an alert or two; the dedupe is exact.)"""
        if not new_articles:
            return []
        now = time.time() if now is None else now
        alerts: list[Alert] = []
        rankings: dict[str, list[Passage]] = {}
        for follow in self.store.all_follows():
            chat, topic = follow.chat, follow.topic
            if topic not in rankings:  # several chats following one topic cost one search
                ranking = searcher.rank(topic)
                found = searcher.passages(ranking, k=self.top) if ranking.answered else []
                rankings[topic] = [p for p in found if self._match(searcher, topic, p) >= self.min_match]
            match = next((p for p in rankings[topic] if p.article.id in new_articles), None)
            if match is None or not self._may_send(chat, match.article.id, now):
                continue
            if self.store.record_alert(follow, match.article.id, now):  # else another replica has it
                alerts.append(Alert(follow, match))
        return alerts

    @staticmethod
    def _match(searcher: Searcher, topic: str, passage: Passage) -> float:
        """How well this one sentence fits the topic: mean of cosine and share of the topic's words."""
        library = searcher.library
        q = library.embedder.embed([topic])[0]
        v = library.store.vectors_for_sentences([passage.sentence_id], library.dim)[0]
        return answer_confidence(float(np.dot(q, v)), coverage(query_terms(topic), passage.sentence))

    def _may_send(self, chat: str, article: str, now: float) -> bool:
        if self.store.was_alerted(chat, article):
            return False
        return self.store.alerts_since(chat, now - 3600) < self.max_per_hour


def pick_follows(current: Sequence[Follow], which: str) -> list[Follow]:
    """What a person means by `which`: '2' -> the second topic as /following numbers them (never a row id,
    which nobody sees); other text -> the topic with those words."""
    key = " ".join(which.split())
    if key.isdigit():
        n = int(key)
        return [current[n - 1]] if 1 <= n <= len(current) else []
    return [f for f in current if f.topic.lower() == key.lower()]
