"""Evidence from where a sentence sits (fusion.structure_lifts): its article's best candidate, neighbours."""

from __future__ import annotations

import pytest

from newsqa.index.search.fusion import Scored, structure_lifts


def _scored(scores: dict[int, float]) -> list[Scored]:
    return [Scored(i, s, s, 0.0) for i, s in sorted(scores.items(), key=lambda x: -x[1])]


# sentence id -> (article, position)
PLACE = {1: (10, 0), 2: (10, 1), 3: (10, 2), 4: (20, 0), 5: (20, 5)}


def test_off_lifts_nothing() -> None:
    assert structure_lifts(_scored({1: 0.9}), PLACE, article_weight=0, neighbour_weight=0) == {}


def test_every_candidate_of_an_article_gets_its_best_score() -> None:
    fused = _scored({1: 0.9, 3: 0.2, 4: 0.5, 5: 0.4})
    lifts = structure_lifts(fused, PLACE, article_weight=0.5, neighbour_weight=0)
    assert lifts == pytest.approx({1: 0.45, 3: 0.45, 4: 0.25, 5: 0.25})


def test_the_order_inside_an_article_is_kept_and_articles_move_apart() -> None:
    fused = _scored({1: 0.9, 3: 0.2, 4: 0.5, 5: 0.4})
    lifts = structure_lifts(fused, PLACE, article_weight=0.5, neighbour_weight=0)
    after = {s.id: s.score + lifts[s.id] for s in fused}
    assert after[1] > after[3] and after[4] > after[5]
    assert after[3] - after[5] > 0.2 - 0.4  # the weaker article's sentences fall back


def test_a_neighbour_lifts_only_adjacent_sentences_of_its_own_article() -> None:
    fused = _scored({1: 0.2, 2: 0.8, 3: 0.1, 4: 0.7, 5: 0.6})
    lifts = structure_lifts(fused, PLACE, article_weight=0, neighbour_weight=0.5)
    assert lifts[1] == pytest.approx(0.4)  # next to 2
    assert lifts[3] == pytest.approx(0.4)  # next to 2
    assert lifts[2] == pytest.approx(0.1)  # its best neighbour is 1 (0.2)
    assert 4 not in lifts and 5 not in lifts  # positions 0 and 5: not adjacent


def test_a_sentence_without_a_place_is_left_alone() -> None:
    fused = _scored({1: 0.9, 99: 0.8})
    lifts = structure_lifts(fused, PLACE, article_weight=0.5, neighbour_weight=0.5)
    assert 99 not in lifts
