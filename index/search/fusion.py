"""Combining dense and lexical evidence into one ranking (pure numbers, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scored:
    id: int
    score: float  # fused, higher is better
    dense: float  # cosine similarity of the sentence's vector (headline and sentence) and the question
    lexical: float  # BM25 of the sentence divided by the best BM25 of this query's sentences (0..1)
    paragraph: float = 0.0  # BM25 of the sentence's paragraph divided by the best paragraph's (0..1)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each signal counts; measured on the ReQA tuning half (docs/quality.md)."""

    dense: float
    lexical: float
    paragraph: float

    def with_lexical_scaled(self, factor: float) -> Weights:
        """Both BM25 weights times `factor` (how far this question's words can be trusted)."""
        return Weights(self.dense, self.lexical * factor, self.paragraph * factor)


def _normalised(scores: Mapping[int, float]) -> dict[int, float]:
    top = max(scores.values(), default=0.0)
    return {i: s / top for i, s in scores.items()} if top > 0 else {}


def fuse(
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    paragraph: Mapping[int, float] | None = None,
    *,
    weights: Weights,
) -> list[Scored]:
    """Weighted sum of cosine, max-normalised sentence BM25 and max-normalised paragraph BM25, best first.

    Scores rather than ranks: a sentence that is far ahead in one signal keeps that lead, which
    reciprocal-rank fusion throws away. `dense` must hold a cosine for every candidate id; `paragraph`
    maps a sentence id to the BM25 of the paragraph it sits in (absent: the paragraph did not match).
    """
    lex = _normalised(lexical)
    para = _normalised(paragraph or {})
    out = []
    for i, cos in dense.items():
        lx, pg = lex.get(i, 0.0), para.get(i, 0.0)
        score = weights.dense * cos + weights.lexical * lx + weights.paragraph * pg
        out.append(Scored(i, score, cos, lx, pg))
    out.sort(key=lambda s: (-s.score, s.id))
    return out
