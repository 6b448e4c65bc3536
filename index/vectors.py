"""FAISS, behind a small interface: add, remove, search, snapshot to disk and back.

Vectors are L2-normalised, so inner product is cosine similarity. Ids are SQLite sentence ids.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datadir import atomic_write_bytes

if TYPE_CHECKING:
    import faiss


def _faiss() -> Any:
    import faiss  # heavy: imported only when an index is really needed

    return faiss


class VectorIndex:
    """A thread-safe FAISS index keyed by int64 ids; a search never sees a half-applied change."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        self._lock = threading.RLock()

    @classmethod
    def new(cls, dim: int) -> VectorIndex:
        faiss = _faiss()
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        faiss = _faiss()
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        return cls(faiss.deserialize_index(data))

    def save(self, path: Path) -> None:
        faiss = _faiss()
        with self._lock:
            data = faiss.serialize_index(self._index)
        atomic_write_bytes(path, data.tobytes())

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k); missing slots have id -1."""
        with self._lock:
            k = max(1, min(k, len(self) or 1))
            scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids
