"""What the stores hand back (an article, a sentence as stored) and the two rules every engine stores by:
an article's day, and the days a sentence speaks of."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..text.timeexpr import Period, find_times, parse_day


@dataclass(frozen=True, slots=True)
class StoredArticle:
    rowid: int
    id: str
    title: str
    text: str
    url: str | None
    published: str | None
    source: str | None
    added_at: float
    day: str | None = None  # the publish date as YYYY-MM-DD, when the article has one


_ARTICLE_COLUMNS = "rowid, id, title, text, url, published, source, added_at, day"


@dataclass(frozen=True, slots=True)
class StoredSentence:
    id: int
    article: int
    position: int
    paragraph: int
    start: int
    end: int
    text: str


def day_of(published: str | None) -> str | None:
    """The stored form of a publish date: YYYY-MM-DD, or None when it cannot be read as a date."""
    day = parse_day(published)
    return day.isoformat() if day else None


def sentence_periods(text: str, day: str | None) -> list[Period]:
    """The days a sentence speaks of, resolved against its article's publish date (None: undated)."""
    anchor = dt.date.fromisoformat(day) if day else None
    return [t.period for t in find_times(text, anchor)]
