"""The evaluation's metric functions on hand-made ranks, where every figure can be checked by hand."""

from __future__ import annotations

import math

import pytest

from newsqa.evaluation.abstain import choose_threshold, curve, point
from newsqa.evaluation.metrics import (
    first_relevant_rank,
    mean_reciprocal_rank,
    percentile,
    recall_at,
    summarise,
)
from newsqa.evaluation.runner import spread


def test_first_relevant_rank_is_one_based_and_takes_the_first_gold() -> None:
    assert first_relevant_rank([7, 3, 9, 4], {9, 4}) == 3
    assert first_relevant_rank([7, 3], {1}) is None
    assert first_relevant_rank([], {1}) is None


def test_mrr_and_recall_count_misses_as_zero() -> None:
    ranks = [1, 2, None, 10, 11]
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 0.5 + 0 + 0.1 + 1 / 11) / 5)
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(2 / 5)
    assert recall_at(ranks, 10) == pytest.approx(3 / 5)
    assert mean_reciprocal_rank([]) == 0.0 and recall_at([], 5) == 0.0


def test_percentile_is_nearest_rank() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == 5.0
    assert percentile(values, 0) == 1.0
    assert math.isnan(percentile([], 50))


def test_summarise_reports_abstentions_and_milliseconds() -> None:
    f = summarise([1, 2, 3, 1], [False, True, False, True], [0.010, 0.020, 0.030, 0.040])
    assert f.questions == 4
    assert f.r1 == 0.25 and f.r5 == 0.5  # abstained questions are misses as the bot answers
    assert f.abstained == 0.5
    assert f.ranked_r1 == 0.5 and f.ranked_mrr == pytest.approx((1 + 0.5 + 1 / 3 + 1) / 4)
    assert f.p50_ms == pytest.approx(20.0) and f.p95_ms == pytest.approx(40.0)
    assert f.to_dict()["mrr"] == pytest.approx((1 + 0 + 1 / 3 + 0) / 4)


def test_spread_takes_an_even_subset_in_order() -> None:
    assert spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert spread([1, 2, 3], None) == [1, 2, 3]
    assert spread([1, 2, 3], 10) == [1, 2, 3]
    assert spread([1, 2, 3], 0) == []


def test_abstain_curve_counts_both_sides_of_the_threshold() -> None:
    answerable = [0.9, 0.8, 0.7, 0.4]
    unanswerable = [0.5, 0.3, 0.2, 0.1]
    p = point(0.55, answerable, unanswerable)
    assert p.answered == 0.75 and p.abstained == 1.0
    low, high = curve(answerable, unanswerable, [0.0, 1.0])
    assert (low.answered, low.abstained) == (1.0, 0.0)
    assert (high.answered, high.abstained) == (0.0, 1.0)


def test_choose_threshold_answers_the_wanted_share() -> None:
    answerable = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    t = choose_threshold(answerable, answer_share=0.8)
    assert t == 0.2
    assert point(t, answerable, []).answered == pytest.approx(0.8)
    assert choose_threshold(answerable, answer_share=1.0) == 0.05
    assert choose_threshold([], answer_share=0.9) == 0.0
