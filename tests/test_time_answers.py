"""Time in answers: the as-of rule, days asked about, the recency prior, the age note, timelines."""

from __future__ import annotations

import datetime as dt

import pytest

from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.search.timerank import QueryTime, TimeWeights, in_period, query_time, recency, time_lifts
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article
from newsqa.index.text.timeexpr import Period

D = dt.date


def story(aid: str, day: str | None, text: str, title: str = "Harbour bridge") -> Article:
    return Article(id=aid, title=title, text=text, published=day, source=f"Outlet {aid}")


STORIES = [
    story("old", "2019-05-02", "The harbour bridge toll was set at two pounds by the council."),
    story("mid", "2022-11-20", "The harbour bridge toll was raised to three pounds by the council."),
    story("new", "2023-03-01", "The harbour bridge toll was raised to four pounds by the council."),
    story("later", "2023-06-30", "The harbour bridge toll was raised to five pounds by the council."),
    story(
        "tue",
        "2021-06-08",
        "Drones hit the harbour bridge shortly after midnight on Sunday. Repairs begin next week.",
        title="Drone attack",
    ),
    story("undated", None, "Ferry crossings replaced the harbour bridge toll for a while."),
]


@pytest.fixture
def qa(library: Library) -> QuestionAnswerer:
    library.ingest(STORIES)
    return QuestionAnswerer(Searcher(library), k=6)


def ids(answer: object) -> list[str]:
    return [p.article.id for p in answer.passages]  # type: ignore[attr-defined]


def test_nothing_published_after_the_moment_of_asking_is_quoted(qa: QuestionAnswerer) -> None:
    as_of = D(2023, 3, 15)
    answer = qa.ask("What is the harbour bridge toll?", as_of=as_of)
    assert answer.answered and "later" not in ids(answer)
    assert all(p.article.published is None or p.article.published <= "2023-03-15" for p in answer.passages)
    assert answer.as_of == "2023-03-15"
    # time handling off: every article counts alike, the later one included
    assert "later" in ids(qa.ask("What is the harbour bridge toll?"))


def test_an_index_of_only_later_articles_still_refuses_them(qa: QuestionAnswerer) -> None:
    answer = qa.ask("What is the harbour bridge toll?", as_of=D(2010, 1, 1))
    assert set(ids(answer)) <= {"undated"}


def test_latest_prefers_the_newest_coverage(qa: QuestionAnswerer) -> None:
    answer = qa.ask("What is the latest harbour bridge toll?", as_of=D(2023, 3, 15))
    assert ids(answer)[0] == "new"


def test_a_named_day_finds_the_sentence_that_speaks_of_it(qa: QuestionAnswerer) -> None:
    """'on 6 June' finds "... on Sunday" in an article of Tuesday 8 June."""
    answer = qa.ask("What hit the harbour bridge on 6 June?", as_of=D(2021, 6, 30))
    assert answer.passages[0].sentence.startswith("Drones hit the harbour bridge")


def test_old_evidence_says_how_old_it_is(qa: QuestionAnswerer) -> None:
    answer = qa.ask("What is the latest harbour bridge toll?", as_of=D(2024, 1, 10))
    assert answer.latest == "2023-06-30"
    assert answer.age_note == "The latest I have on this is from 30 June 2023."
    fresh = qa.ask("What is the latest harbour bridge toll?", as_of=D(2023, 7, 2))
    assert fresh.latest is None and fresh.age_note is None
    # a question about earlier days expects old evidence: no note
    assert qa.ask("What was the harbour bridge toll in 2019?", as_of=D(2024, 1, 10)).latest is None
    assert qa.ask("What is the harbour bridge toll?").latest is None  # time handling off


def test_timeline_lists_matching_sentences_oldest_first(qa: QuestionAnswerer) -> None:
    line = qa.timeline("harbour bridge toll raised by the council", as_of=D(2023, 12, 31), limit=10)
    days = [p.article.published for p in line.passages]
    dated = [d for d in days if d]
    assert dated == sorted(dated) and {"2022-11-20", "2023-03-01", "2023-06-30"} <= set(dated)
    assert [p.rank for p in line.passages] == list(range(1, len(line.passages) + 1))
    assert len({p.article.id for p in line.passages}) == len(line.passages)  # one sentence per article
    before = qa.timeline("harbour bridge toll raised by the council", as_of=D(2023, 3, 2), limit=10)
    assert "2023-06-30" not in [p.article.published for p in before.passages]


def test_the_days_a_sentence_speaks_of_are_stored_and_survive_an_update(library: Library) -> None:
    library.ingest([STORIES[4]])
    rows = library.store.conn.execute('SELECT start, "end" FROM sentence_times').fetchall()
    assert ("2021-06-06", "2021-06-06") in rows and ("2021-06-14", "2021-06-20") in rows
    library.ingest([story("tue", "2021-06-08", "Drones hit the bridge on Monday.")])
    rows = library.store.conn.execute('SELECT start, "end" FROM sentence_times').fetchall()
    assert rows == [("2021-06-07", "2021-06-07")]
    library.remove(["tue"])
    assert library.store.conn.execute("SELECT count(*) FROM sentence_times").fetchone()[0] == 0


# ---- the pure rules ------------------------------------------------------------------------------
def test_query_time_reads_the_question() -> None:
    as_of = D(2023, 3, 10)
    assert query_time("Who won?", as_of) == QueryTime(as_of, None, False)
    assert query_time("Who is the current champion?", as_of).now
    assert query_time("What happened last week?", as_of).period == Period(D(2023, 2, 27), D(2023, 3, 5))
    # a period reaching past the moment of asking is cut at it
    assert query_time("What happened this week?", as_of).period == Period(D(2023, 3, 6), as_of)


def test_recency_halves_with_each_half_life() -> None:
    newest = D(2023, 3, 10)
    assert recency(newest, newest, 30) == 1.0
    assert recency(D(2023, 2, 8), newest, 30) == pytest.approx(0.5)
    assert recency(None, newest, 30) == 0.0


def test_in_period_allows_for_the_reporting_lag() -> None:
    sunday = Period(D(2021, 6, 6), D(2021, 6, 6))
    assert in_period(D(2021, 6, 8), [], sunday)  # reported two days later
    assert not in_period(D(2021, 6, 20), [], sunday)
    assert in_period(D(2021, 6, 20), [sunday], sunday)  # looking back at it
    assert not in_period(None, [Period(D(2021, 1, 1), D(2021, 12, 31))], sunday)  # a year is too vague


def test_time_lifts() -> None:
    weights = TimeWeights(period=0.1, recent=0.05, now=0.2, half_life_days=30)
    days = {1: D(2023, 3, 1), 2: D(2023, 1, 30), 3: None}
    plain = time_lifts(QueryTime(D(2023, 3, 10)), days, {}, weights)
    assert plain[1] == pytest.approx(0.05) and plain[2] == pytest.approx(0.025) and plain[3] == 0.0
    now = time_lifts(QueryTime(D(2023, 3, 10), now=True), days, {}, weights)
    assert now[1] == pytest.approx(0.2)
    feb = QueryTime(D(2023, 3, 10), Period(D(2023, 1, 28), D(2023, 1, 31)))
    assert time_lifts(feb, days, {}, weights) == {2: 0.1}
