"""A small deterministic embedder for tests where the model is not the point.

Words are hashed into signed buckets (the "hashing trick"), so texts sharing words have a high cosine and
unrelated texts a low one: enough for search, dedupe and abstain logic to be tested meaningfully.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of in on at to by and or is was were be for with what which who how did does".split()
)


class HashingEmbedder:
    def __init__(self, dim: int = 256, name: str = "test/hashing-256") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                if word in _STOP:
                    continue
                word = word[:-1] if len(word) > 3 and word.endswith("s") else word
                h = zlib.crc32(word.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out
