"""Ask questions through the bot's own answer path and record where the gold sentence ranked, and how fast."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library

from .metrics import first_relevant_rank

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One question's result: the rank of its first gold sentence (None: not returned) and its cost."""

    key: str
    rank: int | None  # in the ranking, whether or not the search abstained
    abstained: bool
    seconds: float
    confidence: float


def store_ids(lib: Library, positions: Mapping[tuple[str, int], int]) -> dict[int, int]:
    """Stored sentence id -> the benchmark's own id, through (article id, position in article)."""
    out: dict[int, int] = {}
    for article_id in {a for a, _ in positions}:
        article = lib.store.find_article(article_id)
        if article is None:
            continue
        for s in lib.store.article_sentences(article.rowid):
            pid = positions.get((article_id, s.position))
            if pid is not None:
                out[s.id] = pid
    return out


def run_questions(
    searcher: Searcher,
    questions: Iterable[tuple[str, str]],
    gold: Mapping[str, Collection[int]],
    *,
    warmup: int = 3,
) -> list[Outcome]:
    """(key, question) pairs, each the first of its conversation; `gold[key]` holds the stored ids that
    answer it.

    Each is ranked by `QuestionAnswerer.rank` with `searcher`'s options. The ranking is kept even where
    the searcher would abstain, and the abstain decision is taken here by the searcher's own rule
    (confidence below `min_confidence`), so one run gives the figures both as the bot answers and of the
    ranking alone. The first `warmup` questions are asked once untimed, so lazy loading does not count as
    latency.
    """
    threshold = searcher.options.min_confidence
    qa = never_abstaining(searcher)
    questions = list(questions)
    for _, q in questions[:warmup]:
        qa.rank(q)
    out: list[Outcome] = []
    for key, q in questions:
        started = time.perf_counter()
        ranking = qa.rank(q)
        seconds = time.perf_counter() - started
        rank = first_relevant_rank((h.id for h in ranking.hits), gold[key])
        out.append(Outcome(key, rank, ranking.confidence < threshold, seconds, ranking.confidence))
    return out


def never_abstaining(searcher: Searcher) -> QuestionAnswerer:
    """The answer path with `searcher`'s options except the abstain threshold: every ranking kept whole."""
    return QuestionAnswerer(
        searcher.with_options(dataclasses.replace(searcher.options, min_confidence=-math.inf))
    )


def spread(items: Sequence[T], n: int | None) -> list[T]:
    """`n` items evenly spaced through `items` (all when n is None or too large): a quick, fair subset."""
    if n is None or n >= len(items):
        return list(items)
    if n <= 0:
        return []
    return [items[i * len(items) // n] for i in range(n)]
