"""Question-type cues: which questions ask for a number or a date, which sentences hold one, and which
sentences cannot answer at all (questions, headings)."""

from __future__ import annotations

import pytest

from newsqa.index.search.cues import Expects, expected_kind, holds, not_an_answer
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many drones were shot down?", Expects.NUMBER),
        ("How much did the deal cost?", Expects.NUMBER),
        ("What percentage of voters backed it?", Expects.NUMBER),
        ("When did the attack happen?", Expects.DATE),
        ("In what year was the airbase built?", Expects.DATE),
        ("Which century saw the first bridge?", Expects.DATE),
        ("Which airbase was targeted?", None),
        ("Who blamed the militias?", Expects.NAME),
        ("Which team does he play for?", Expects.NAME),
        ("Why were the flights suspended?", None),
    ],
)
def test_expected_kind(question: str, kind: Expects | None) -> None:
    assert expected_kind(question) is kind


def test_holds_numbers_and_dates() -> None:
    assert holds(Expects.NUMBER, "Three drones were downed.")
    assert holds(Expects.NUMBER, "It cost $4.5bn.")
    assert not holds(Expects.NUMBER, "The drones were downed.")
    assert holds(Expects.DATE, "The bridge opened in 1932.")
    assert holds(Expects.DATE, "Talks resume on 4 April.")
    assert holds(Expects.DATE, "It dates from the 12th century.")
    assert not holds(Expects.DATE, "They may return soon.")  # "may" the verb is no month
    assert not holds(Expects.DATE, "Talks resume next week.")


def test_a_date_question_lifts_the_sentence_with_the_date(library: Library) -> None:
    text = "The harbour bridge was finished at last, after long delays. Builders completed it in 1932."
    library.ingest([Article(id="b", title="Bridges", text=text)])
    texts = dict(library.store.conn.execute("SELECT id, text FROM sentences").fetchall())
    ask = "When was the harbour bridge finished?"

    def ranked(weight: float) -> list[str]:
        hits = Searcher(library, SearchOptions(min_confidence=0.0, cue_weight=weight)).rank(ask).hits
        return [texts[h.id] for h in hits]

    assert ranked(0.0)[0].startswith("The harbour bridge")  # the words match the other sentence
    assert ranked(0.5) == [texts[2], texts[1]] == list(reversed(ranked(0.0)))


@pytest.mark.parametrize(
    ("sentence", "excluded"),
    [
        ("The strike is limited to three days.", False),
        ("Prices rose again!", False),
        ("He said: \u201cWe will win.\u201d", False),
        ('She said it was "a very strong case."', False),
        ("The vote was close (51 to 49.)", False),
        ("And then the lights went out\u2026", False),
        ("How long will the strike last?", True),
        ('He asked: "Why now?"', True),
        ("Best supporting actress", True),
        ("Contributing: The Associated Press", True),
        ("Top 10 happiest countries  ", True),
        ("Key dates", True),
        ("Tesla stated:", False),  # runs on into a quote
        ("The church was rebuilt in 1573.[citation needed]", False),
        ("Edison refused the prize money.:245", False),
        ("Was it rebuilt?[a]", True),
        ("the harbour wall budget grew " * 10, False),  # a piece of an overlong sentence, cut
    ],
)
def test_not_an_answer(sentence: str, excluded: bool) -> None:
    assert not_an_answer(sentence) is excluded


def test_a_heading_that_echoes_the_question_gives_way_to_the_statement(library: Library) -> None:
    text = "Supreme court student loan challenges\n\nThe supreme court heard student loan challenges today."
    library.ingest([Article(id="s", title="Court", text=text)])
    texts = dict(library.store.conn.execute("SELECT id, text FROM sentences").fetchall())
    ask = "Which supreme court student loan challenges?"

    def first(weight: float) -> str:
        options = SearchOptions(min_confidence=0.0, cue_weight=0.0, form_weight=weight)
        return texts[Searcher(library, options).rank(ask).hits[0].id]

    assert first(0.0) == "Supreme court student loan challenges"  # every word matches, and it is shorter
    assert first(0.5).startswith("The supreme court heard")
