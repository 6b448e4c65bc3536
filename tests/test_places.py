"""Place questions: which kind of place a question asks for, which sentences name one it does not, and
the lift in the ranking."""

from __future__ import annotations

import pytest

from newsqa.index.search.places import Place, asked_place, names_place
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("President Biden made a secret trip to which country this week?", Place.COUNTRY),
        ("Which nation won the most medals?", Place.COUNTRY),
        ("Which US state is considering exonerating accused witches?", Place.STATE),
        ("Large parts of which state were under emergency warnings?", Place.STATE),
        ("Residents of which European capital are to vote on e-scooters?", Place.CITY),
        ("Which major U.S. city will host the Final Four?", Place.CITY),
        ("Where will the summit be held?", Place.ANY),
        ("The city where he was born?", Place.ANY),
        ("Which team won the cup?", None),
        ("Who won the election?", None),
        ("What did the statement say?", None),
    ],
)
def test_asked_place(question: str, kind: Place | None) -> None:
    assert asked_place(question) is kind


@pytest.mark.parametrize(
    ("kind", "sentence", "question", "named"),
    [
        (Place.COUNTRY, "Biden landed in Ukraine on Monday.", "Which country did Biden visit?", True),
        (Place.COUNTRY, "Ukraine's president met him.", "Which country did Biden visit?", True),  # possessive
        (Place.COUNTRY, "The Ukraine-Russia talks stalled.", "Which country?", True),  # hyphenated
        (Place.COUNTRY, "He boarded Air Force One with reporters.", "Which country did Biden visit?", False),
        # the place the question already names is its subject, not its answer
        (Place.COUNTRY, "Talks on Ukraine went on.", "Which country sent tanks to Ukraine?", False),
        (Place.COUNTRY, "Germany and Ukraine agreed.", "Which country sent tanks to Ukraine?", True),
        # the longest name is read: "South Sudan" is another country than the question's "Sudan"
        (Place.COUNTRY, "Fighting spread to South Sudan.", "Which country borders Sudan?", True),
        (Place.COUNTRY, "Fighting spread in Papua New Guinea.", "Is Papua New Guinea a country?", False),
        (Place.STATE, "Voters in Oklahoma rejected it.", "Which state rejected the measure?", True),
        (Place.STATE, "Flooding hit New Mexico.", "Which state flooded?", True),
        (Place.STATE, "The storm moved on.", "Which state flooded?", False),
        (Place.CITY, "The first celebration was in Mobile.", "In which city was the first one?", True),
        # a place's name is capitalised
        (Place.CITY, "Her mobile phone rang.", "In which city was the first one?", False),
        (Place.CITY, "The team moved to St. Louis.", "Which city?", True),
        (Place.CITY, "It opened in Paris.", "Which city?", True),  # the sentence's full stop
        (Place.CITY, "Voters in Oklahoma rejected it.", "Which city?", False),  # a state is no city
        (Place.ANY, "Voters in Oklahoma rejected it.", "Where was it rejected?", True),
    ],
)
def test_names_place(kind: Place, sentence: str, question: str, named: bool) -> None:
    assert names_place(kind, sentence, question) is named


def test_a_place_question_lifts_the_sentence_naming_the_place(library: Library) -> None:
    text = (
        "The president made a highly secretive trip this week, flying overnight with two reporters. "
        "He arrived in Ukraine by train."
    )
    library.ingest([Article(id="t", title="A secret trip", text=text)])
    texts = dict(library.store.conn.execute("SELECT id, text FROM sentences").fetchall())
    ask = "The president made a highly secretive trip to which country this week?"

    def ranked(weight: float) -> list[str]:
        options = SearchOptions(min_confidence=0.0, place_weight=weight, cue_weight=0.0, vote_weight=0.0)
        return [texts[h.id] for h in Searcher(library, options).rank(ask).hits]

    assert ranked(0.0)[0].startswith("The president")  # the question's words are in the other sentence
    assert ranked(0.5) == [texts[2], texts[1]] == list(reversed(ranked(0.0)))
