"""A timeline answer as chart data: the dated entries in the text's order, counts per day/week/month."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass
from typing import Literal

from newsqa.index.search.answer import Answer
from newsqa.index.text.timeexpr import parse_day

#: Longest entry label (outlet — headline): longer ones are cut at a word, so every row stays readable.
LABEL_CHARS = 60

Bucket = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One article of the timeline: its day and its label (outlet — headline)."""

    day: dt.date
    label: str


@dataclass(frozen=True, slots=True)
class TimelinePlot:
    """What the timeline chart shows; undated articles are counted (for the note), not placed."""

    topic: str
    entries: tuple[Entry, ...]  # dated, oldest first: the text timeline's order
    counts: tuple[tuple[dt.date, int], ...]  # (first day of the bucket, entries in it), oldest first
    bucket: Bucket
    undated: int

    @property
    def note(self) -> str | None:
        """Why the chart has fewer entries than the text, when it does."""
        if not self.undated:
            return None
        what = "article" if self.undated == 1 else "articles"
        return f"{self.undated} undated {what} in the text timeline, not plotted"


def timeline_plot(answer: Answer) -> TimelinePlot:
    """The chart data of a timeline answer (`QuestionAnswerer.timeline`): one entry per dated passage."""
    entries: list[Entry] = []
    undated = 0
    for p in answer.passages:
        day = parse_day(p.article.published)
        if day is None:
            undated += 1
            continue
        entries.append(Entry(day, entry_label(p.article.source, p.article.title)))
    entries.sort(key=lambda e: e.day)  # stable: the text's order within a day
    bucket = bucket_for([e.day for e in entries])
    counts: dict[dt.date, int] = {}
    for e in entries:
        start = bucket_start(e.day, bucket)
        counts[start] = counts.get(start, 0) + 1
    return TimelinePlot(answer.question, tuple(entries), tuple(sorted(counts.items())), bucket, undated)


def entry_label(source: str | None, title: str) -> str:
    """'Outlet — headline', on one line and at most LABEL_CHARS long."""
    text = " — ".join(x for x in ((source or "").strip(), title.strip()) if x) or "(untitled)"
    return textwrap.shorten(text, LABEL_CHARS, placeholder=" …")


def bucket_for(days: list[dt.date]) -> Bucket:
    """Count per day over two months at most, per week over two years, per month beyond: a readable number
    of bars whatever the story's span."""
    if not days:
        return "day"
    span = (max(days) - min(days)).days
    return "day" if span <= 62 else "week" if span <= 730 else "month"


def bucket_start(day: dt.date, bucket: Bucket) -> dt.date:
    """The first day of `day`'s bucket: the day itself, its week's Monday, or the 1st of its month."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day
