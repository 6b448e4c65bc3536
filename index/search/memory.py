"""What a Searcher remembers across questions: reads that every question would otherwise repeat.

Both are plain dicts written without a lock: two threads racing on one entry write the same value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..storage.library import Library

#: Terms whose sentence counts are remembered; past this the memory starts afresh (a bot sees an open set
#: of words, and each count is one cheap query to redo).
MAX_COUNTED_TERMS = 20_000

#: Articles whose publish day is remembered; past this the memory starts afresh.
MAX_ARTICLE_DAYS = 500_000


class TermCounts:
    """Sentences per term, remembered until the index grows or shrinks by a tenth (drift is harmless: the
    counts only decide which common words BM25 leaves out, lexical.within_budget)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.known: dict[str, int] = {}
        self._counted = 0  # the index's size when `known` started

    def of(self, terms: Sequence[str]) -> dict[str, int]:
        size = len(self.library.vectors)
        if abs(size - self._counted) > self._counted // 10 or len(self.known) > MAX_COUNTED_TERMS:
            self.known, self._counted = {}, size
        known = self.known
        for t in terms:
            if t not in known:
                known[t] = self.library.store.sentences_matching(t)
        return {t: known[t] for t in terms}


class ArticleDays:
    """Publish day per article rowid, remembered (a rowid is never reused, its day never changes)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._days: dict[int, dt.date | None] = {}

    def of(self, articles: set[int]) -> dict[int, dt.date | None]:
        missing = [a for a in articles if a not in self._days]
        if missing:
            if len(self._days) > MAX_ARTICLE_DAYS:
                self._days.clear()
            self._days.update(self.library.store.article_days(missing))
        return {a: self._days.get(a) for a in articles}
