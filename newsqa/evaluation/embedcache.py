"""An embedder wrapper that remembers vectors on disk, so an evaluation never embeds the same pool twice.

Keyed by the model name and a hash of each text; used for the pools (the sentences), never for the
questions, whose embedding is part of the query latency being measured.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from newsqa.index.embedder import Embedder


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_file(directory: Path, model_name: str) -> Path:
    """One file per model: vectors of different models must never mix."""
    return Path(directory) / (re.sub(r"[^\w.-]+", "_", model_name) + ".npz")


class CachedEmbedder:
    """Same interface as the embedder it wraps; new vectors are appended to the cache file."""

    def __init__(self, inner: Embedder, directory: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = cache_file(directory, inner.name)
        self._vectors: dict[str, np.ndarray] = {}
        self.enabled = True  # False: pass straight through (questions, whose embedding is being timed)
        if self.path.exists():
            with np.load(self.path) as data:
                keys, vecs = data["keys"], data["vectors"]
            self._vectors = {str(k): v for k, v in zip(keys, vecs, strict=True)}

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not self.enabled:
            return self.inner.embed(texts, progress=progress)
        keys = [_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if todo:
            fresh = self.inner.embed(list(todo.values()), progress=progress)
            self._vectors.update(zip(todo, fresh, strict=True))
            self._save()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._vectors[k]
        return out

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        keys = np.array(list(self._vectors), dtype="U40")
        np.savez(tmp, keys=keys, vectors=np.stack(list(self._vectors.values())).astype(np.float32))
        tmp.replace(self.path)
