"""Time expressions: "on Sunday", "last week", "in April", "3 March 2023" resolved to calendar periods.

News text and questions name time relative to when they were written: "on Sunday" in an article of
Tuesday 8 June 2021 is 6 June 2021; "in April" asked in March 2023 is April 2022. These pure functions
find such expressions and resolve them against an anchor date (the article's publish date, or the
moment of asking), so an index can store what day a sentence is about and a question can say which days
it wants. No anchor (an undated article): only expressions that carry their own year are resolved.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

Prefer = Literal["past", "nearest"]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days, both ends included."""

    start: dt.date
    end: dt.date

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class TimeMention:
    start: int  # character span of the expression in the text
    end: int
    period: Period


_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split(),
    )
} | {"a": 1, "an": 1, "a couple of": 2, "a few": 3, "several": 3}

_MONTH_RE = (
    r"(?:jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|aug(?:ust|\.)?"
    r"|sep(?:t(?:ember)?)?\.?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?)"
    r"(?!-\w)"  # a name that starts like a month: "Mar-a-Lago"
)
_DAY_RE = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR_RE = r"(?:19\d\d|20\d\d)"
# in a full date ("July 4, 1776") a year is a year however old; alone ("in 1500 homes") it may be a number
_FULL_YEAR_RE = r"(?:1[6-9]\d\d|20\d\d)"
_WD_RE = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?"
_NUM_RE = (
    r"(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|a couple of|a few|several|an?)"
)
_UNIT_RE = r"(?:day|week|month|year)s?"

# Order matters: longer, more specific forms first; the scanner never lets two mentions overlap.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in [
        ("iso", r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
        ("dmy", rf"\b(?P<d>{_DAY_RE})(?:\s+of)?\s+(?P<m>{_MONTH_RE})(?:,?\s+(?P<y>{_FULL_YEAR_RE}))?\b"),
        (
            "mdy",
            rf"\b(?P<m>{_MONTH_RE})\s+(?P<d>{_DAY_RE})\b(?!\s*(?:%|percent|million|billion))"
            rf"(?:,?\s+(?P<y>{_FULL_YEAR_RE}))?",
        ),
        ("my", rf"\b(?P<m>{_MONTH_RE})(?:\s+of)?,?\s+(?P<y>{_FULL_YEAR_RE})\b"),
        ("since", rf"\bsince\s+(?:(?P<m>{_MONTH_RE})\b|(?P<y>{_YEAR_RE})\b|(?P<wd>{_WD_RE})\b)"),
        ("ago", rf"\b(?P<n>{_NUM_RE})\s+(?P<u>{_UNIT_RE})\s+ago\b"),
        ("past", rf"\b(?:the\s+)?(?:past|last|previous)\s+(?P<n>{_NUM_RE})\s+(?P<u>{_UNIT_RE})\b"),
        ("past1", r"\b(?:in|over|during)\s+the\s+(?:past|last)\s+(?P<u>day|week|month|year)\b"),
        ("earlier", r"\bearlier\s+this\s+(?P<u>week|month|year)\b"),
        ("rel", r"\b(?P<w>last|this|next|past|previous|coming)\s+(?P<u>week|month|year|weekend)\b"),
        ("reldw", rf"\b(?P<w>last|this|next|this\s+past|on)\s+(?P<wd>{_WD_RE})\b"),
        # not the newspaper: "told USA Today"
        (
            "word",
            r"(?<!usa\s)\b(?P<w>today|tonight|yesterday|tomorrow|this\s+(?:morning|afternoon|evening))\b",
        ),
        ("weekend", r"\b(?:over\s+|at\s+)?the\s+weekend\b"),
        ("wd", rf"\b(?P<wd>{_WD_RE})\b"),
        ("month", rf"\b(?:in|during|by|until|since|from|of|last|early|late|mid-?)\s+(?P<m>{_MONTH_RE})\b"),
        ("year", rf"\b(?:in|during|by|until|from|since|of)\s+(?P<y>{_YEAR_RE})\b"),
    ]
]
# Month abbreviations that are also ordinary words: only accepted when capitalised.
_AMBIGUOUS_MONTH = {"mar", "may", "jun", "jan", "dec", "sep", "oct", "aug", "apr", "nov", "feb", "jul"}


def _month(token: str) -> int | None:
    return _MONTHS.get(token.lower().rstrip("."))


def _number(token: str) -> int:
    token = token.lower()
    return int(token) if token.isdigit() else _NUMBERS.get(token, 1)


def _month_period(year: int, month: int) -> Period:
    return Period(dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]))


def _year_for(month: int, day: int | None, anchor: dt.date, prefer: Prefer) -> int:
    """The year that puts month (and day) nearest the anchor; with 'past', never after it."""
    best: tuple[int, int] | None = None
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        try:
            start = dt.date(year, month, day or 1)
        except ValueError:
            continue
        end = start if day else _month_period(year, month).end
        if prefer == "past" and start > anchor:
            continue
        distance = 0 if start <= anchor <= end else min(abs((start - anchor).days), abs((end - anchor).days))
        if best is None or distance < best[0]:
            best = (distance, year)
    return best[1] if best else anchor.year


def _week(anchor: dt.date, shift: int) -> Period:
    monday = anchor - dt.timedelta(days=anchor.weekday()) + dt.timedelta(weeks=shift)
    return Period(monday, monday + dt.timedelta(days=6))


def _shift_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _span_back(anchor: dt.date, n: int, unit: str) -> dt.date:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return anchor - dt.timedelta(days=n)
    if unit == "week":
        return anchor - dt.timedelta(weeks=n)
    if unit == "month":
        return _shift_months(anchor, -n)
    return _shift_months(anchor, -12 * n)


def _weekday(anchor: dt.date, name: str, which: str) -> Period:
    target = _WEEKDAYS[name.lower().rstrip("s")]
    back = (anchor.weekday() - target) % 7
    if which == "next":
        ahead = (target - anchor.weekday()) % 7 or 7
        day = anchor + dt.timedelta(days=ahead)
    elif which == "last" and back == 0:
        day = anchor - dt.timedelta(days=7)
    else:
        day = anchor - dt.timedelta(days=back)  # news reports the past: the latest such day up to the anchor
    return Period(day, day)


def _resolve(kind: str, m: re.Match[str], anchor: dt.date | None, prefer: Prefer) -> Period | None:
    g = m.groupdict()
    if kind == "iso":
        try:
            day = dt.date(int(g["y"]), int(g["m"]), int(g["d"]))
        except ValueError:
            return None
        return Period(day, day)
    if kind in ("dmy", "mdy"):
        month = _month(g["m"])
        number = int(re.sub(r"\D", "", g["d"]))
        if month is None:
            return None
        if g.get("y"):
            year = int(g["y"])
        elif anchor is not None:
            year = _year_for(month, number, anchor, prefer)
        else:
            return None
        try:
            day = dt.date(year, month, number)
        except ValueError:
            return None
        return Period(day, day)
    if kind == "my":
        month = _month(g["m"])
        return _month_period(int(g["y"]), month) if month else None
    if kind == "year":
        year = int(g["y"])
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if anchor is None:
        return None
    if kind == "since":
        if g.get("y"):
            return Period(dt.date(int(g["y"]), 1, 1), anchor)
        if g.get("wd"):
            return Period(_weekday(anchor, g["wd"], "").start, anchor)
        month = _month(g["m"])
        if month is None:
            return None
        return Period(dt.date(_year_for(month, None, anchor, "past"), month, 1), anchor)
    if kind == "ago":
        day = _span_back(anchor, _number(g["n"]), g["u"])
        unit = g["u"].lower().rstrip("s")
        if unit == "day":
            return Period(day, day)
        if unit == "week":
            return _week(day, 0)
        if unit == "month":
            return _month_period(day.year, day.month)
        return Period(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31))
    if kind == "past":
        return Period(_span_back(anchor, _number(g["n"]), g["u"]), anchor)
    if kind == "past1":
        return Period(_span_back(anchor, 1, g["u"]), anchor)
    if kind in ("rel", "earlier"):
        which = "this" if kind == "earlier" else g["w"].lower()
        shift = {"last": -1, "previous": -1, "past": -1, "this": 0, "next": 1, "coming": 1}[which]
        unit = g["u"].lower()
        if which == "past" and unit != "weekend":
            return Period(_span_back(anchor, 1, unit), anchor)
        if unit == "week":
            period = _week(anchor, shift)
        elif unit == "weekend":
            if which == "this" and anchor.weekday() < 5:
                shift = -1 if prefer == "past" else 0
            week = _week(anchor, shift)
            period = Period(week.start + dt.timedelta(days=5), week.end)
        elif unit == "month":
            first = _shift_months(anchor.replace(day=1), shift)
            period = _month_period(first.year, first.month)
        else:
            year = anchor.year + shift
            period = Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
        if kind == "earlier":
            return Period(period.start, anchor)
        return period
    if kind == "reldw":
        which = g["w"].lower()
        which = "" if which in ("on", "this past", "this") else which
        return _weekday(anchor, g["wd"], which)
    if kind == "wd":
        return _weekday(anchor, g["wd"], "")
    if kind == "word":
        word = g["w"].lower()
        offset = {"yesterday": -1, "tomorrow": 1}.get(word, 0)
        day = anchor + dt.timedelta(days=offset)
        return Period(day, day)
    if kind == "weekend":
        week = _week(anchor, 0 if anchor.weekday() >= 5 else -1)
        return Period(week.start + dt.timedelta(days=5), week.end)
    if kind == "month":
        month = _month(g["m"])
        if month is None:
            return None
        year = _year_for(month, None, anchor, prefer)
        return _month_period(year, month)
    return None


def find_times(text: str, anchor: dt.date | None, *, prefer: Prefer = "nearest") -> list[TimeMention]:
    """Every time expression in `text` with the period it names, in text order, never overlapping.

    `anchor` is the day the text was written (or asked); `prefer="past"` for questions, which ask about
    what happened, "nearest" for article text, which also announces what is coming.
    """
    taken: list[tuple[int, int]] = []
    out: list[TimeMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            month = m.groupdict().get("m")
            if month and month.lower().rstrip(".") in _AMBIGUOUS_MONTH and not month[0].isupper():
                continue
            if kind == "wd" and not m.group(0)[0].isupper():
                continue
            try:
                period = _resolve(kind, m, anchor, prefer)
            except (ValueError, OverflowError):
                period = None
            if period is None or period.start > period.end:
                continue
            taken.append((m.start(), m.end()))
            out.append(TimeMention(m.start(), m.end(), period))
    out.sort(key=lambda t: t.start)
    return out


_RECENT = re.compile(
    r"\b(latest|newest|most recent(ly)?|recent(ly)?|current(ly)?|now|nowadays|still|so far|yet|as of today|"
    r"at the moment|these days|today|this week|lately|ongoing)\b",
    re.IGNORECASE,
)


def asks_about_now(question: str) -> bool:
    """Whether the question asks about the present state of things ("latest", "current", "still")."""
    return bool(_RECENT.search(question))


def parse_day(value: str | None) -> dt.date | None:
    """A publish date as a day: ISO 8601 date or datetime, RFC 2822 (feeds), or "12 March 2023"."""
    if not value:
        return None
    value = value.strip()
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        pass
    for t in find_times(value, None):
        if t.period.days == 1:
            return t.period.start
    return None


def describe(day: dt.date) -> str:
    """'12 March 2023': unambiguous in every locale the bot's users read."""
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"
