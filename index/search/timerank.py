"""Time in a question, and what it does to the ranking (pure: dates in, score lifts out).

A question is asked at a moment (`as_of`: the message's date in Telegram, the clock in the terminal,
`--as-of` in evaluations). Nothing published after it may be quoted. A period it names ("on Monday",
"in April", "last week") lifts evidence from or about those days; a question that names none prefers
recent coverage of its subject through a prior whose weights were measured (docs/quality.md), strongest
when it asks about the present ("latest", "current", "still"). An old article still answers when nothing
newer does: the prior lifts, it never filters.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..text.timeexpr import Period, asks_about_now, find_times

#: An article reports an event up to this many days after it happened.
REPORTING_LAG_DAYS = 3

#: The days a question may be asked on: "last week", "in December" and the staleness note step a year or
#: more either way from it, which Python's calendar (years 1 to 9999) cannot do at its very ends.
AS_OF_RANGE = (dt.date(1000, 1, 1), dt.date(9000, 12, 31))


def as_of_problem(day: dt.date) -> str | None:
    """Why a question cannot be asked as of `day` (one line), or None when it can."""
    first, last = AS_OF_RANGE
    if first <= day <= last:
        return None
    return f"{day.isoformat()} is outside the days a question may be asked on ({first} to {last})"


@dataclass(frozen=True, slots=True)
class QueryTime:
    as_of: dt.date  # answer as if it were this day
    period: Period | None = None  # the days the question asks about, if it names any
    now: bool = False  # it asks about the present ("latest", "current", "still")


def query_time(question: str, as_of: dt.date) -> QueryTime:
    """What `question`, asked on `as_of`, says about time; the last period named wins ("... and in April")."""
    mentions = [m for m in find_times(question, as_of, prefer="past") if m.period.start <= as_of]
    period = mentions[-1].period if mentions else None
    if period is not None and period.end > as_of:
        period = Period(period.start, as_of)
    return QueryTime(as_of, period, asks_about_now(question))


@dataclass(frozen=True, slots=True)
class TimeWeights:
    period: float  # added when the article dates from, or the sentence speaks of, the asked days
    recent: float  # the recency prior's full weight for a question that names no period
    now: float  # the same, when the question asks about the present
    half_life_days: float  # the prior halves with every this-many days before the newest candidate


def recency(day: dt.date | None, newest: dt.date, half_life_days: float) -> float:
    """1.0 for the newest candidate's day, halving every `half_life_days` before it; 0 when undated."""
    if day is None:
        return 0.0
    age = max(0, (newest - day).days)
    return math.pow(0.5, age / half_life_days) if half_life_days > 0 else float(age == 0)


def in_period(day: dt.date | None, about: Sequence[Period], period: Period) -> bool:
    """The article dates from the asked days (or just after: reports lag events), or the sentence
    itself names a day in them."""
    if day is not None and period.start <= day <= period.end + dt.timedelta(days=REPORTING_LAG_DAYS):
        return True
    return any(p.days <= 31 and p.overlaps(period) for p in about)


def time_lifts(
    when: QueryTime,
    days: Mapping[int, dt.date | None],
    about: Mapping[int, Sequence[Period]],
    weights: TimeWeights,
) -> dict[int, float]:
    """Score lift per candidate sentence id; `days[id]` is its article's publish day."""
    if when.period is not None:
        period = when.period
        return {i: weights.period for i, day in days.items() if in_period(day, about.get(i, ()), period)}
    weight = weights.now if when.now else weights.recent
    known = [d for d in days.values() if d is not None]
    if not weight or not known:
        return {}
    newest = max(known)
    return {i: weight * recency(day, newest, weights.half_life_days) for i, day in days.items()}
