"""Answer redundancy: the name the best sentences repeat is lifted for a name question, and only then."""

from __future__ import annotations

import pytest

from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.search.redundancy import names, redundancy_lifts
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


def test_names_are_the_capitalised_words_the_question_lacks() -> None:
    asked = frozenset({"which", "team", "does", "damar", "hamlin", "play", "for"})
    assert names("The Buffalo Bills said Damar Hamlin was awake on Thursday.", asked) == {"buffalo", "bills"}
    assert names("the team said nothing.", asked) == set()
    assert names("Mr Smith of the Bank of England spoke.", asked) == {"smith", "bank", "england"}


def test_the_most_voted_name_gets_the_full_weight() -> None:
    texts = {
        1: "Hamlin collapsed during the game against the Cincinnati Bengals.",
        2: "The Buffalo Bills safety is recovering.",
        3: "The Bills said he was awake.",
        4: "Doctors in Cincinnati praised the Bills' staff.",
    }
    ranked = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.2)]
    lifts = redundancy_lifts("Which team does Hamlin play for?", ranked, texts, 0.1, depth=3)
    # "bills" has 0.8 + 0.7 of the first three's votes, "cincinnati" and "bengals" 0.9 each
    assert lifts[2] == lifts[3] == pytest.approx(0.1)
    assert lifts[1] == pytest.approx(0.1 * 0.9 / 1.5)
    assert lifts[4] == pytest.approx(0.1)  # below the voters, yet it names the winner
    assert redundancy_lifts("Which team?", ranked, texts, 0.0, depth=3) == {}
    assert redundancy_lifts("Which team?", [], texts, 0.1, depth=3) == {}


def test_a_name_question_prefers_the_name_the_coverage_repeats(library: Library) -> None:
    library.ingest(
        [
            Article(id="a", title="Hamlin", text="Hamlin collapsed in the game against Cincinnati."),
            Article(id="b", title="Hamlin", text="Hamlin is a safety for the Buffalo Bills."),
            Article(id="c", title="Hamlin", text="Hamlin thanked the Buffalo Bills fans."),
        ]
    )
    texts = dict(library.store.conn.execute("SELECT id, text FROM sentences").fetchall())

    def first(question: str, weight: float) -> str:
        options = SearchOptions(min_confidence=0.0, cue_weight=0.0, form_weight=0.0, vote_weight=weight)
        return texts[Searcher(library, options).rank(question).hits[0].id]

    ask = "Which team did Hamlin collapsed against Cincinnati play for?"
    assert first(ask, 0.0).startswith("Hamlin collapsed")
    assert "Buffalo Bills" in first(ask, 1.0)
    # not a name question: no vote, whatever the weight
    assert first("Hamlin collapsed against Cincinnati play for", 1.0).startswith("Hamlin collapsed")
