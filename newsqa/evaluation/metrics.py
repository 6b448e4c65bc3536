"""Retrieval metrics as pure functions over ranks: no I/O, no model, easy to test by hand."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def first_relevant_rank(ranked: Iterable[int], gold: Iterable[int]) -> int | None:
    """1-based rank of the first id of `ranked` that is in `gold`; None when none is."""
    wanted = set(gold)
    for rank, item in enumerate(ranked, start=1):
        if item in wanted:
            return rank
    return None


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first relevant item is in the top `k` (one gold hit is enough)."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    if not ranks:
        return 0.0
    return sum(reciprocal_rank(r) for r in ranks) / len(ranks)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100): a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


@dataclass(frozen=True, slots=True)
class RetrievalFigures:
    """What one evaluation run reports.

    mrr, r1, r5, r10 are as the bot answers: a question it abstains on is a miss. ranked_mrr and
    ranked_r1 are of the ranking alone, as if it never abstained (the ReQA reference figures' setting).
    """

    questions: int
    mrr: float
    r1: float
    r5: float
    r10: float
    abstained: float  # share of questions the search declined to answer
    ranked_mrr: float
    ranked_r1: float
    p50_ms: float
    p95_ms: float

    def to_dict(self) -> dict[str, float | int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def summarise(
    ranks: Sequence[int | None], abstained: Sequence[bool], seconds: Sequence[float]
) -> RetrievalFigures:
    """The figures of one run from per-question first-relevant ranks, abstentions and latencies."""
    ms = [s * 1000 for s in seconds]
    answered = [None if a else r for r, a in zip(ranks, abstained, strict=True)]
    return RetrievalFigures(
        questions=len(ranks),
        mrr=mean_reciprocal_rank(answered),
        r1=recall_at(answered, 1),
        r5=recall_at(answered, 5),
        r10=recall_at(answered, 10),
        abstained=sum(abstained) / len(abstained) if abstained else 0.0,
        ranked_mrr=mean_reciprocal_rank(ranks),
        ranked_r1=recall_at(ranks, 1),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
    )
