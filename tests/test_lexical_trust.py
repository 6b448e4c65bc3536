"""BM25 counts for as much as the question's own words are found: paraphrases lean on meaning."""

from __future__ import annotations

import pytest

from newsqa.index.search.fusion import Weights
from newsqa.index.search.lexical import coverage, lexical_trust, query_terms
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

QUESTION = "How much did Deutsche Telekom earn last year?"


@pytest.mark.parametrize(
    ("matches", "exponent", "expected"),
    [
        # the best of the first matches counts: here it holds every word of the question
        (["Deutsche Telekom did earn 5bn euros last year.", "Deutsche Telekom is German."], 1.0, 1.0),
        # only the subject's name (2 of 5 words: deutsche, telekom / earn, last, year)
        (["Deutsche Telekom is German.", "Telekom shares fell."], 1.0, 0.4),
        (["Deutsche Telekom is German."], 2.0, pytest.approx(0.16)),
        (["Deutsche Telekom is German."], 0.5, pytest.approx(0.4**0.5)),
        ([], 1.0, 0.0),  # BM25 found nothing: nothing of it to weigh
        (["Deutsche Telekom is German."], 0.0, 1.0),  # off
    ],
)
def test_trust_is_the_best_matchs_coverage_to_a_power(
    matches: list[str], exponent: float, expected: float
) -> None:
    terms = query_terms(QUESTION)
    assert lexical_trust([coverage(terms, m) for m in matches], exponent) == expected


def test_scaling_leaves_the_dense_weight_alone() -> None:
    scaled = Weights(0.66, 0.16, 0.18).with_lexical_scaled(0.5)
    assert scaled == Weights(0.66, 0.08, 0.09)


def _story(library: Library) -> None:
    library.ingest(
        [
            Article(
                id="dt",
                title="Telekom results",
                text=(
                    "Deutsche Telekom, Deutsche Telekom's board and Deutsche Telekom's staff met in Bonn. "
                    "The operator's net profit reached 5bn euros in the twelve months."
                ),
            )
        ]
    )


def test_a_question_in_its_own_words_leans_on_meaning(library: Library) -> None:
    """Sentence BM25 ranks the name-stuffed sentence first; with trust, its weight shrinks with the
    question's coverage, so the fused scores of every hit are lower, and never higher, than without."""
    _story(library)
    question = "What did Deutsche Telekom make in net profit?"
    plain = Searcher(library, SearchOptions(min_confidence=0.0, lexical_trust=0.0)).rank(question)
    trusted = Searcher(library, SearchOptions(min_confidence=0.0, lexical_trust=1.0)).rank(question)
    before = {h.id: h.score for h in plain.hits}
    after = {h.id: h.score for h in trusted.hits}
    assert before.keys() == after.keys()
    assert all(after[i] <= before[i] + 1e-9 for i in before)
    assert any(after[i] < before[i] - 1e-6 for i in before)
    # dense evidence is untouched
    assert {h.id: h.dense for h in plain.hits} == {h.id: h.dense for h in trusted.hits}


def test_a_question_reusing_its_answers_words_keeps_full_bm25(library: Library) -> None:
    _story(library)
    question = "The operator's net profit reached 5bn euros in the twelve months?"
    plain = Searcher(library, SearchOptions(min_confidence=0.0, lexical_trust=0.0)).rank(question)
    trusted = Searcher(library, SearchOptions(min_confidence=0.0, lexical_trust=1.0)).rank(question)
    scores = [[(h.id, round(h.score, 9)) for h in r.hits] for r in (plain, trusted)]
    assert scores[0] == scores[1]
