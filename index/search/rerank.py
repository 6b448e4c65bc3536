"""A second, stronger model that re-orders the first candidates: the opt-in quality tier.

The index's own model (all-MiniLM-L6-v2) finds the right article for most questions asked in people's
own words but often not the sentence in it that answers (docs/quality.md). A larger model tells them
apart better, and costs about six times as much per sentence: embedding every sentence with it would
multiply ingest by six, while re-scoring only the first `top` candidates of each question costs a few
dozen sentences per question, remembered across questions. The reranker's cosine of the question and
"headline. sentence" takes the place of the index model's in those candidates' fused scores.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from threading import Lock
from typing import TYPE_CHECKING

from ..models.embedder import embed_queries

if TYPE_CHECKING:
    import numpy as np

    from ..models.embedder import Embedder

#: Sentence vectors remembered (768 floats each for all-mpnet-base-v2: 20,000 take about 60 MB).
CACHE_SIZE = 20_000


class Reranker:
    """Cosines of a question and candidate texts under a second model; safe to call from several threads."""

    def __init__(self, embedder: Embedder, *, top: int = 20, cache_size: int = CACHE_SIZE) -> None:
        self.embedder = embedder
        self.top = top
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    @property
    def name(self) -> str:
        return self.embedder.name

    def cosines(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        """Cosine of `question` and each text, by the same keys; unseen texts are embedded in one call."""
        with self._lock:
            known = {t: self._cache[t] for t in texts.values() if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts.values()) if t not in known]
        q = embed_queries(self.embedder, [question])[0]
        fresh = dict(zip(missing, self.embedder.embed(missing), strict=True)) if missing else {}
        with self._lock:
            for t, v in fresh.items():
                self._cache[t] = v
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        every = known | fresh
        return {i: float(every[t] @ q) for i, t in texts.items()}
