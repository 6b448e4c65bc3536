"""FAISS, behind a small interface: add, remove, search, snapshot to disk and back, and the index policy.

Vectors are L2-normalised, so inner product is cosine similarity. Ids are SQLite sentence ids.

The policy (`IndexPolicy`, documented in docs/bench.md): exact search (`IndexFlatIP`) below
`exact_below` vectors, where a scan costs a few milliseconds and is always right; above it an IVF index
with about sqrt(n) lists, trained on a sample of the vectors, with `nprobe` tuned until recall@10 against
exact search reaches the goal on held-out queries. It is rebuilt (at snapshot time, never on a small add)
when the collection grew or shrank fourfold since training. Both layouts support `remove_ids`, so the
change-log replay (removals and updates) works unchanged. `compressed` stores float16 codes (exact) or
8-bit scalar-quantised codes (IVF) instead of float32: 2x / 4x less memory and snapshot disk.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .datadir import atomic_write_bytes

if TYPE_CHECKING:
    import faiss

#: Batches of (ids, vectors) covering the whole collection; callable again for a second pass.
Batches = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


def _faiss() -> Any:
    import faiss  # heavy: imported only when an index is really needed

    return faiss


@dataclass(frozen=True, slots=True)
class IndexPolicy:
    """Which FAISS layout a collection of `n` vectors gets, and how an approximate one is tuned."""

    exact_below: int = 100_000
    recall: float = 0.98  # recall@10 against exact search the tuned nprobe must reach
    margin: float = 0.01  # tuned on synthetic queries: aim this much higher than the goal
    compressed: bool | None = None  # None: keep what the current index uses (a new one is float32)
    train_per_list: int = 40  # k-means sample size per list (faiss warns below 39)
    tuning_queries: int = 300
    seed: int = 1234

    def lists_for(self, n: int) -> int:
        """0 for exact search, else the IVF list count (about sqrt(n), a power of two)."""
        if n < self.exact_below:
            return 0
        return 1 << max(4, round(math.log2(math.sqrt(n))))


@dataclass(frozen=True, slots=True)
class Layout:
    lists: int  # 0: exact
    compressed: bool

    def describe(self) -> str:
        if self.lists == 0:
            return "exact" + (" fp16" if self.compressed else "")
        return f"IVF{self.lists}" + (",SQ8" if self.compressed else "")


class SnapshotDamaged(RuntimeError):
    """A snapshot file that is not the one the manifest describes."""


class VectorIndex:
    """A thread-safe FAISS index keyed by int64 ids; a search never sees a half-applied change."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        self._lock = threading.RLock()

    @classmethod
    def new(cls, dim: int, *, compressed: bool = False) -> VectorIndex:
        faiss = _faiss()
        if compressed:
            flat = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        else:
            flat = faiss.IndexFlatIP(dim)
        return cls(faiss.IndexIDMap2(flat))

    @classmethod
    def build(
        cls, dim: int, n: int, batches: Batches, policy: IndexPolicy, *, compressed: bool = False
    ) -> VectorIndex:
        """The index `policy` wants for `n` vectors, filled from `batches` (read twice when trained)."""
        lists = policy.lists_for(n)
        if lists == 0:
            index = cls.new(dim, compressed=compressed)
            for ids, vecs in batches():
                index.add(ids, vecs)
            return index
        faiss = _faiss()
        rng = np.random.default_rng(policy.seed)
        want = min(n, lists * policy.train_per_list)
        sample = _sample(batches(), n, want, rng)
        quantizer = faiss.IndexFlatIP(dim)
        if compressed:
            ivf = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        else:
            ivf = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.niter = 10  # enough for coarse lists; recall is restored by tuning nprobe below
        ivf.train(sample)
        index = cls(ivf)
        queries = synthetic_queries(sample, policy.tuning_queries, rng)
        truth = ExactTopK(queries, 10)
        for ids, vecs in batches():
            index.add(ids, vecs)
            truth.update(ids, vecs)
        index.tune(queries, truth.ids(), policy.recall + policy.margin)
        return index

    @classmethod
    def load(cls, path: Path, *, sha256: str | None = None) -> VectorIndex:
        """The snapshot at `path`; SnapshotDamaged when its bytes are not the ones `sha256` recorded.

        FAISS reads scrambled floats without complaint (and then finds nonsense), so the checksum is
        the only defence; it costs one extra read of the file.
        """
        faiss = _faiss()
        if sha256 is not None:
            with path.open("rb") as f:
                found = hashlib.file_digest(f, "sha256").hexdigest()
            if found != sha256:
                raise SnapshotDamaged(
                    f"{path.name}: checksum {found[:12]}... is not the recorded {sha256[:12]}..."
                )
        # read_index streams from the file: no second in-memory copy of a large snapshot
        return cls(faiss.read_index(str(path)))

    @classmethod
    def read_from(cls, read: Callable[[int], bytes]) -> VectorIndex:
        """An index deserialised from a stream (`read(n)` returns the next n bytes, fewer only at the
        end), without the whole serialised index in memory first: a snapshot from the database costs
        the index's memory once, not twice. The caller checks the stream's checksum."""
        faiss = _faiss()
        return cls(faiss.read_index(faiss.PyCallbackIOReader(read, 1 << 20)))

    def serialized(self) -> np.ndarray:
        """The index's bytes (uint8), copied under the lock: a search waits for a memory copy only,
        never for the slow write of the copy that follows (to a file or to the database)."""
        faiss = _faiss()
        with self._lock:
            return cast(np.ndarray, faiss.serialize_index(self._index))

    def save(self, path: Path) -> str:
        """Write the snapshot atomically; returns its sha256 (for the manifest)."""
        faiss = _faiss()
        with self._lock:
            data = faiss.serialize_index(self._index)
        view = memoryview(data)  # a view: no copy of a large index
        digest = hashlib.sha256(view).hexdigest()
        atomic_write_bytes(path, cast(bytes, view))
        return digest

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def layout(self) -> Layout:
        faiss = _faiss()
        with self._lock:
            inner = self._index
            if isinstance(inner, faiss.IndexIVF):
                return Layout(int(inner.nlist), isinstance(inner, faiss.IndexIVFScalarQuantizer))
            base = faiss.downcast_index(inner.index) if isinstance(inner, faiss.IndexIDMap2) else inner
            return Layout(0, isinstance(base, faiss.IndexScalarQuantizer))

    @property
    def nprobe(self) -> int:
        """Lists searched per query (0 for exact search)."""
        return int(getattr(self._index, "nprobe", 0)) if self.layout.lists else 0

    def wants_rebuild(self, policy: IndexPolicy) -> Layout | None:
        """The layout to rebuild into, or None when the current one still suits the size.

        Hysteresis: an IVF index is kept until sqrt(n) is 2x off its list count (the collection grew or
        shrank about fourfold since training), and exact search until `exact_below` is crossed.
        """
        current = self.layout
        compressed = current.compressed if policy.compressed is None else policy.compressed
        n = len(self)
        ideal = policy.lists_for(n)
        if compressed != current.compressed:
            return Layout(ideal, compressed)
        if current.lists == 0:
            return Layout(ideal, compressed) if ideal else None
        if n < policy.exact_below // 2:
            return Layout(0, compressed)
        spread = math.sqrt(n) / current.lists  # about 1 right after training
        if ideal and (spread >= 2 or spread <= 0.5):
            return Layout(ideal, compressed)
        return None

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
            # faiss wraps remove_ids to take an id array; its stubs list only the IDSelector form
            return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))  # type: ignore[arg-type]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k); missing slots have id -1."""
        with self._lock:
            k = max(1, min(k, len(self) or 1))
            scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def tune(self, queries: np.ndarray, truth: np.ndarray, recall: float) -> float:
        """Set the smallest nprobe whose recall@k against `truth` (exact ids) reaches `recall`; returns it.

        Compressed codes cannot reach exact recall even scanning every list: then the goal is to come
        within half a point of what a full scan gets.
        """
        if not self.layout.lists:
            return 1.0
        ivf = cast("faiss.IndexIVF", self._index)  # a layout with lists is an IVF index
        k = truth.shape[1]
        lists = int(ivf.nlist)
        ivf.nprobe = lists
        recall = min(recall, recall_at(self.search(queries, k)[1], truth) - 0.005)
        low, high = 0, lists  # recall(high) is exact, recall(low) unknown: bisect on the list count
        probe = 1
        while probe < lists:  # doubling finds a bracket cheaply, bisection narrows it
            ivf.nprobe = probe
            if recall_at(self.search(queries, k)[1], truth) >= recall:
                high = probe
                break
            low = probe
            probe *= 2
        while high - low > max(1, high // 16):
            mid = (low + high) // 2
            ivf.nprobe = mid
            if recall_at(self.search(queries, k)[1], truth) >= recall:
                high = mid
            else:
                low = mid
        with self._lock:
            ivf.nprobe = high
        return recall_at(self.search(queries, k)[1], truth)


class ExactTopK:
    """Exact top-k ids by inner product, accumulated batch by batch (ground truth without a copy of all)."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self._scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self._ids = np.zeros((len(queries), 0), dtype=np.int64)

    def update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        scores = np.concatenate([self._scores, self.queries @ vectors.T], axis=1)
        all_ids = np.concatenate([self._ids, np.broadcast_to(ids, (len(self.queries), len(ids)))], axis=1)
        keep = min(self.k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        self._scores = np.take_along_axis(scores, top, axis=1)
        self._ids = np.take_along_axis(all_ids, top, axis=1)

    def ids(self) -> np.ndarray:
        order = np.argsort(-self._scores, axis=1, kind="stable")
        return np.take_along_axis(self._ids, order, axis=1)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k ids the approximate top-k found (the usual recall@k)."""
    hits = sum(
        len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) for f, t in zip(found, truth, strict=True)
    )
    total = int((truth >= 0).sum())
    return hits / total if total else 1.0


def synthetic_queries(
    vectors: np.ndarray, n: int, rng: np.random.Generator, cosine: float = 0.5
) -> np.ndarray:
    """Held-out stand-ins for questions: stored vectors turned by noise to about `cosine` from themselves.

    A real question sits near, not on, the sentences that answer it; querying with stored vectors
    themselves would flatter the approximate index.
    """
    base = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    noise = rng.standard_normal(base.shape).astype(np.float32)
    noise -= (noise * base).sum(axis=1, keepdims=True) * base  # orthogonal to the base vector
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    out = cosine * base + math.sqrt(1 - cosine**2) * noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _sample(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], n: int, want: int, rng: np.random.Generator
) -> np.ndarray:
    """A uniform random sample of about `want` of the `n` vectors, in one streaming pass."""
    rate = want / max(1, n)
    parts = [vecs[rng.random(len(vecs)) < rate] for _ids, vecs in batches]
    return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros((0, 0)), dtype=np.float32)
