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

from newsqa.index.models.embedder import Embedder


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_file(directory: Path, model_name: str) -> Path:
    """One file per model: vectors of different models must never mix. (Older caches were this one
    file; new vectors go to shards beside it, see `CachedEmbedder`.)"""
    return Path(directory) / (re.sub(r"[^\w.-]+", "_", model_name) + ".npz")


class CachedEmbedder:
    """Same interface as the embedder it wraps; the vectors of each call are written as a new shard.

    Shards, not one file rewritten per call: an evaluation pool of 150k sentences arrives in ~300 calls,
    and rewriting a growing file each time wrote tens of gigabytes.
    """

    def __init__(self, inner: Embedder, directory: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = cache_file(directory, inner.name)
        self._vectors: dict[str, np.ndarray] = {}
        self.enabled = True  # False: pass straight through (questions, whose embedding is being timed)
        for part in [self.path, *self._shards()]:
            if part.exists():
                with np.load(part) as data:
                    keys, vecs = data["keys"], data["vectors"]
                self._vectors.update({str(k): v for k, v in zip(keys, vecs, strict=True)})

    def _shards(self) -> list[Path]:
        parts = self.path.parent.glob(self.path.stem + ".part-*.npz")
        return sorted(p for p in parts if not p.name.endswith(".tmp.npz"))  # a crash's leftover: skipped

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not self.enabled:
            return self.inner.embed(texts, progress=progress)
        keys = [_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if todo:
            fresh = self.inner.embed(list(todo.values()), progress=progress)
            self._vectors.update(zip(todo, fresh, strict=True))
            self._save(list(todo), fresh)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._vectors[k]
        return out

    def _save(self, keys: list[str], vectors: np.ndarray) -> None:
        """A new shard, written whole then renamed (a crash leaves no half shard to load)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shards = self._shards()
        number = int(shards[-1].name.rsplit("part-", 1)[1].split(".")[0]) + 1 if shards else 0
        final = self.path.parent / f"{self.path.stem}.part-{number:06d}.npz"
        tmp = final.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype="U40"), vectors=np.asarray(vectors, dtype=np.float32))
        tmp.replace(final)
