"""Time expressions resolved against an anchor day: a table of phrases, weekdays, the year boundary."""

from __future__ import annotations

import datetime as dt

import pytest

from newsqa.index.text.timeexpr import Period, asks_about_now, describe, find_times, parse_day

D = dt.date
TUE_8_JUNE_2021 = D(2021, 6, 8)
THU_5_JAN_2023 = D(2023, 1, 5)


def only(text: str, anchor: dt.date | None, prefer: str = "nearest") -> tuple[str, Period]:
    found = find_times(text, anchor, prefer=prefer)  # type: ignore[arg-type]
    assert len(found) == 1, found
    return text[found[0].start : found[0].end], found[0].period


@pytest.mark.parametrize(
    ("text", "anchor", "phrase", "start", "end"),
    [
        # weekdays: the latest such day up to the anchor (news reports what happened)
        (
            "drones struck shortly after midnight on Sunday.",
            TUE_8_JUNE_2021,
            "on Sunday",
            D(2021, 6, 6),
            None,
        ),
        ("He spoke on Tuesday.", TUE_8_JUNE_2021, "on Tuesday", D(2021, 6, 8), None),
        ("It happened last Tuesday.", TUE_8_JUNE_2021, "last Tuesday", D(2021, 6, 1), None),
        ("The vote is next Monday.", TUE_8_JUNE_2021, "next Monday", D(2021, 6, 14), None),
        ("Officials said Monday that", THU_5_JAN_2023, "Monday", D(2023, 1, 2), None),
        # days relative to the anchor
        ("yesterday", TUE_8_JUNE_2021, "yesterday", D(2021, 6, 7), None),
        ("today", TUE_8_JUNE_2021, "today", D(2021, 6, 8), None),
        ("tomorrow", D(2022, 12, 31), "tomorrow", D(2023, 1, 1), None),
        ("three days ago", D(2023, 1, 2), "three days ago", D(2022, 12, 30), None),
        # weeks (Monday to Sunday), months, years
        ("last week", TUE_8_JUNE_2021, "last week", D(2021, 5, 31), D(2021, 6, 6)),
        ("this week", THU_5_JAN_2023, "this week", D(2023, 1, 2), D(2023, 1, 8)),
        ("last week", D(2023, 1, 3), "last week", D(2022, 12, 26), D(2023, 1, 1)),
        ("this month", TUE_8_JUNE_2021, "this month", D(2021, 6, 1), D(2021, 6, 30)),
        ("last month", THU_5_JAN_2023, "last month", D(2022, 12, 1), D(2022, 12, 31)),
        ("last year", THU_5_JAN_2023, "last year", D(2022, 1, 1), D(2022, 12, 31)),
        ("earlier this month", TUE_8_JUNE_2021, "earlier this month", D(2021, 6, 1), D(2021, 6, 8)),
        ("over the past week", TUE_8_JUNE_2021, "over the past week", D(2021, 6, 1), D(2021, 6, 8)),
        ("in the past three months", TUE_8_JUNE_2021, "the past three months", D(2021, 3, 8), D(2021, 6, 8)),
        ("since January", TUE_8_JUNE_2021, "since January", D(2021, 1, 1), D(2021, 6, 8)),
        ("since 2019", TUE_8_JUNE_2021, "since 2019", D(2019, 1, 1), D(2021, 6, 8)),
        ("in 2023", TUE_8_JUNE_2021, "in 2023", D(2023, 1, 1), D(2023, 12, 31)),
        ("in April", TUE_8_JUNE_2021, "in April", D(2021, 4, 1), D(2021, 4, 30)),
        ("in April 2019", TUE_8_JUNE_2021, "April 2019", D(2019, 4, 1), D(2019, 4, 30)),
        # explicit days, with and without a year; the year boundary
        ("on 3 March", TUE_8_JUNE_2021, "3 March", D(2021, 3, 3), None),
        ("on March 3, 2022", TUE_8_JUNE_2021, "March 3, 2022", D(2022, 3, 3), None),
        ("the 31st of December", TUE_8_JUNE_2021, "31st of December", D(2020, 12, 31), None),
        ("on Dec. 28", THU_5_JAN_2023, "Dec. 28", D(2022, 12, 28), None),
        ("on Jan 2", D(2022, 12, 30), "Jan 2", D(2023, 1, 2), None),
        ("2023-03-12", None, "2023-03-12", D(2023, 3, 12), None),
        ("signed on July 4, 1776", TUE_8_JUNE_2021, "July 4, 1776", D(1776, 7, 4), None),
    ],
)
def test_phrases_resolve_against_the_anchor(
    text: str, anchor: dt.date | None, phrase: str, start: dt.date, end: dt.date | None
) -> None:
    found, period = only(text, anchor)
    assert found == phrase
    assert period == Period(start, end or start)


def test_questions_prefer_the_past() -> None:
    """'in April' asked in March 2023 is April 2022; in an article of March it may be the coming April."""
    march = D(2023, 3, 10)
    assert only("What happened in April?", march, "past")[1] == Period(D(2022, 4, 1), D(2022, 4, 30))
    assert only("The vote is in April.", march)[1] == Period(D(2023, 4, 1), D(2023, 4, 30))
    assert only("on 20 March", march, "past")[1] == Period(D(2022, 3, 20), D(2022, 3, 20))


def test_undated_text_resolves_only_what_carries_its_year() -> None:
    assert find_times("It rained on Sunday and in April, last week.", None) == []
    assert only("It opened on 4 July 1990.", None)[1] == Period(D(1990, 7, 4), D(1990, 7, 4))


@pytest.mark.parametrize(
    "text",
    [
        "You may go now.",  # 'may' the verb
        "the march on Washington",  # 'march' the noun
        "He scored 12 points.",
        "guests at Mar-a-Lago",  # a name, not March
        "he told USA TODAY",  # the newspaper
        "built in 1500 homes",  # a number, not a year
    ],
)
def test_ordinary_words_are_not_dates(text: str) -> None:
    assert find_times(text, TUE_8_JUNE_2021) == []


def test_several_mentions_in_order_never_overlapping() -> None:
    text = "After talks on Monday, the deal signed on 3 June 2021 takes effect next month."
    found = find_times(text, TUE_8_JUNE_2021)
    assert [text[t.start : t.end] for t in found] == ["on Monday", "3 June 2021", "next month"]


def test_impossible_dates_are_skipped() -> None:
    assert find_times("on 31 February", TUE_8_JUNE_2021) == []
    assert find_times("2023-02-30", None) == []


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2023-03-12", D(2023, 3, 12)),
        ("2021-06-08T10:00:00+02:00", D(2021, 6, 8)),
        ("2021-06-08T10:00:00Z", D(2021, 6, 8)),
        ("Tue, 08 Jun 2021 10:00:00 GMT", D(2021, 6, 8)),
        ("June 8, 2021", D(2021, 6, 8)),
        ("8 June 2021", D(2021, 6, 8)),
        ("", None),
        (None, None),
        ("last Tuesday", None),
        ("soon", None),
    ],
)
def test_publish_dates_read_as_days(value: str | None, day: dt.date | None) -> None:
    assert parse_day(value) == day


def test_questions_about_now() -> None:
    assert asks_about_now("What is the latest on the strike?")
    assert asks_about_now("Is he still in office?")
    assert not asks_about_now("Who won the 2004 election?")


def test_describe_is_unambiguous() -> None:
    assert describe(D(2023, 3, 12)) == "12 March 2023"
