"""Combining dense and lexical evidence into one ranking (pure numbers, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scored:
    id: int
    score: float  # fused, higher is better
    dense: float  # cosine similarity of sentence and question
    lexical: float  # BM25 divided by the best BM25 of this query's candidates (0..1)


def fuse(dense: Mapping[int, float], lexical: Mapping[int, float], *, dense_weight: float) -> list[Scored]:
    """Convex combination of cosine and max-normalised BM25, best first.

    Scores rather than ranks: a sentence that is far ahead in one signal keeps that lead, which
    reciprocal-rank fusion throws away. `dense` must hold a cosine for every candidate id.
    """
    top = max(lexical.values(), default=0.0)
    out = []
    for i, cos in dense.items():
        lex = lexical.get(i, 0.0) / top if top > 0 else 0.0
        out.append(Scored(i, dense_weight * cos + (1.0 - dense_weight) * lex, cos, lex))
    out.sort(key=lambda s: (-s.score, s.id))
    return out
