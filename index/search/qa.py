"""Question in, Answer out: follow-up resolution, then search, then passages. Shared by every front end."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ..text.textclean import clean_text
from ..text.timeexpr import parse_day
from .answer import Answer, Passage
from .followup import Conversation, focus_terms, resolve
from .ranking import Ranking, Searcher
from .timerank import QueryTime, query_time

#: A timeline keeps sentences scoring within this much of the best match (fused scores, about 0..1).
TIMELINE_MARGIN = 0.15

#: Evidence older than this, on a question about the present, gets "the latest I have is from ...".
STALE_AFTER_DAYS = 30


class QuestionAnswerer:
    """The one answer path: the terminal (ask, chat, timeline), the JSON CLI, the bot (questions, More,
    timeline, Context) and the evaluations all go through it, so they resolve, rank and quote alike.

    Follow alerts are not questions (no conversation, no paging): they rank a topic with the same
    Searcher and judge its sentence with the same `answer_confidence` (bot/topics.py).
    """

    def __init__(self, searcher: Searcher, *, k: int = 5) -> None:
        self.searcher = searcher
        self.k = k

    def ask(
        self,
        question: str,
        conversation: Conversation | None = None,
        *,
        k: int | None = None,
        offset: int = 0,
        as_of: dt.date | None = None,
    ) -> Answer:
        """Answer `question`; with a conversation, resolve a follow-up against it.

        The conversation is left as it was: the answer's `turn` is what to add to it for the next
        question (`Conversation.then`), so a caller keeping state decides when it changes. `as_of` is
        the moment of asking (None: time handling off, every article counts alike).
        """
        question, query, focus = self._turn(question, conversation)
        return self._answer(question, query, focus, as_of, offset=offset, k=k)

    def rank(
        self, question: str, conversation: Conversation | None = None, *, as_of: dt.date | None = None
    ) -> Ranking:
        """The whole ranking `ask` would quote from, abstain decision included; the turn is not recorded.

        For the evaluations, which score where the gold sentence ranks rather than the passages shown.
        """
        _, query, focus = self._turn(question, conversation)
        return self._rank(query, focus, as_of)[0]

    def more(
        self,
        query: str,
        *,
        offset: int,
        k: int | None = None,
        focus: tuple[str, ...] = (),
        as_of: dt.date | None = None,
    ) -> Answer:
        """The next page of an earlier answer: its resolved query, focus and moment give the same ranking."""
        return self._answer(query, query, focus, as_of, offset=offset, k=k)

    def timeline(self, topic: str, *, as_of: dt.date, limit: int = 10) -> Answer:
        """The story's matching sentences in date order, oldest first: how it developed, corrections too.

        One sentence per article (its best match), the `limit` best articles among those scoring within
        `TIMELINE_MARGIN` of the best match; no recency prior (old and new coverage alike).
        """
        when = query_time(topic, as_of)
        when = QueryTime(when.as_of, when.period, now=False)
        ranking = self.searcher.rank(topic, when=when, prior=False)
        if not ranking.answered:
            return Answer(topic, topic, False, [], ranking.confidence, as_of=as_of.isoformat())
        best = ranking.hits[0].score
        chosen = []
        seen: set[int] = set()
        for hit in ranking.hits[: 20 * limit]:
            row = ranking.rows.get(hit.id)
            if row is None or row.article in seen or hit.score < best - TIMELINE_MARGIN:
                continue
            seen.add(row.article)
            chosen.append(hit)
            if len(chosen) >= limit:
                break
        found = self.searcher.passages(replace(ranking, hits=chosen), k=limit)
        undated = dt.date.max
        found.sort(key=lambda p: (parse_day(p.article.published) or undated, p.position))
        found = [replace(p, rank=i) for i, p in enumerate(found, start=1)]
        return Answer(topic, topic, bool(found), found, ranking.confidence, as_of=as_of.isoformat())

    def context(self, sentence_id: int, *, window: int) -> Passage | None:
        """A quoted sentence again with `window` neighbours each side (the bot's Context button); None
        when its article is gone."""
        return self.searcher.passage_of(sentence_id, context=window)

    @staticmethod
    def _turn(question: str, conversation: Conversation | None) -> tuple[str, str, tuple[str, ...]]:
        """(question as stored, query to search, follow-up's own words) for one turn of a conversation."""
        # as article text is cleaned: half an emoji must not break storing or printing the turn, and a
        # zero-width space must not split the word it sits in
        question = clean_text(question)
        previous = conversation.last_query if conversation else None
        return question, resolve(question, previous), tuple(focus_terms(question, previous))

    def _rank(
        self, query: str, focus: tuple[str, ...], as_of: dt.date | None
    ) -> tuple[Ranking, QueryTime | None]:
        when = query_time(query, as_of) if as_of is not None else None
        return self.searcher.rank(query, focus=focus, when=when), when

    def _answer(
        self,
        question: str,
        query: str,
        focus: tuple[str, ...],
        as_of: dt.date | None,
        *,
        offset: int,
        k: int | None,
    ) -> Answer:
        ranking, when = self._rank(query, focus, as_of)
        passages = self.searcher.passages(ranking, offset=offset, k=k or self.k) if ranking.answered else []
        return Answer(
            question,
            query,
            bool(passages),
            passages,
            ranking.confidence,
            focus,
            as_of=as_of.isoformat() if as_of else None,
            latest=_latest_note_day(passages, when) if offset == 0 else None,
        )


def _latest_note_day(passages: list, when: QueryTime | None) -> str | None:
    """The newest evidence's day when it is old news for this question, else None.

    Old evidence is expected, not worth a note, when the question itself asks about earlier days.
    """
    if when is None or not passages:
        return None
    if when.period is not None and when.period.end < when.as_of - dt.timedelta(days=STALE_AFTER_DAYS):
        return None
    days = [d for p in passages if (d := parse_day(p.article.published)) is not None]
    if not days:
        return None
    newest = max(days)
    return newest.isoformat() if (when.as_of - newest).days > STALE_AFTER_DAYS else None
