"""What a search returns: passages with verbatim sentences, excerpts and citations (pure data + text)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..text.timeexpr import describe


@dataclass(frozen=True, slots=True)
class Outlet:
    """Another outlet that ran the same story (a copy recognised at ingest, not indexed again)."""

    id: str
    title: str
    url: str | None
    source: str | None
    published: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published": self.published,
        }


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    also: tuple[Outlet, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "also_reported_by": [o.to_dict() for o in self.also],
        }


@dataclass(frozen=True, slots=True)
class Passage:
    rank: int
    sentence: str  # the matched sentence, verbatim
    excerpt: str  # the sentence with its neighbours, verbatim from the article
    highlight: tuple[int, int]  # where `sentence` sits inside `excerpt`
    score: float
    article: Citation
    sentence_id: int = 0
    article_rowid: int = 0
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "sentence": self.sentence,
            "excerpt": self.excerpt,
            "highlight": list(self.highlight),
            "score": round(self.score, 4),
            "article": self.article.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    query: str  # what was searched after follow-up resolution
    answered: bool
    passages: list[Passage] = field(default_factory=list)
    confidence: float = 0.0  # the evidence the abstain decision was made on
    focus: tuple[str, ...] = ()  # a follow-up's own words, which weigh most in ranking (see followup.py)
    as_of: str | None = None  # the moment of asking (YYYY-MM-DD); None: time handling was off
    latest: str | None = None  # set when the newest evidence is old news: its day (YYYY-MM-DD)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "as_of": self.as_of,
            "latest_evidence_is_old": self.latest,
            "passages": [p.to_dict() for p in self.passages],
        }

    @property
    def turn(self) -> tuple[str, str]:
        """(question, resolved query): what a conversation records of this answer (followup.py)."""
        return self.question, self.query

    @property
    def age_note(self) -> str | None:
        """'The latest I have on this is from 12 March 2023.' when the newest evidence is old news."""
        if not self.latest:
            return None
        return f"The latest I have on this is from {describe(dt.date.fromisoformat(self.latest))}."


def excerpt_span(
    spans: Sequence[tuple[int, int]], hit: int, *, window: int = 1, max_chars: int = 700
) -> tuple[int, int]:
    """Character span of the hit sentence widened by up to `window` neighbours each side.

    Neighbours are added nearest first and only while the excerpt stays under `max_chars`, so one huge
    neighbouring sentence cannot drown the answer.
    """
    start, end = spans[hit]
    for step in range(1, window + 1):
        for j in (hit - step, hit + step):
            if 0 <= j < len(spans):
                s, e = spans[j]
                if max(end, e) - min(start, s) <= max_chars:
                    start, end = min(start, s), max(end, e)
    return start, end
