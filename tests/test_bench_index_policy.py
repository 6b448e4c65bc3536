"""The FAISS index policy: exact below a threshold, tuned IVF above it, removals and updates kept working.

Thresholds are tiny here so the approximate layouts are exercised in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder

from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.storage.vectors import ExactTopK, IndexPolicy, VectorIndex, recall_at, synthetic_queries
from newsqa.index.text.article import Article

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Vectors around 40 centres, like sentence embeddings around topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def batches_of(ids: np.ndarray, vecs: np.ndarray, size: int = 700):  # type: ignore[no-untyped-def]
    return lambda: ((ids[i : i + size], vecs[i : i + size]) for i in range(0, len(ids), size))


def exact_ids(queries: np.ndarray, ids: np.ndarray, vecs: np.ndarray, k: int = 10) -> np.ndarray:
    truth = ExactTopK(queries, k)
    truth.update(ids, vecs)
    return truth.ids()


def test_lists_grow_with_the_square_root_above_the_threshold() -> None:
    policy = IndexPolicy(exact_below=1_000)
    assert policy.lists_for(999) == 0
    assert policy.lists_for(1_000) == 32
    assert policy.lists_for(1_000_000) == 1024


@pytest.mark.parametrize("compressed", [False, True])
def test_ivf_is_tuned_to_the_recall_goal_on_unseen_queries(compressed: bool) -> None:
    vecs = clustered(6_000)
    ids = np.arange(10, 6_010, dtype=np.int64)
    policy = IndexPolicy(exact_below=1_000)
    index = VectorIndex.build(DIM, len(ids), batches_of(ids, vecs), policy, compressed=compressed)
    assert index.layout.lists == 64 and index.layout.compressed == compressed
    assert 1 <= index.nprobe < 64  # approximate: it does not just scan every list
    queries = synthetic_queries(vecs, 200, np.random.default_rng(99))  # not the tuning queries
    # 8-bit codes lose a little against float32 exact search whatever the nprobe
    assert recall_at(index.search(queries, 10)[1], exact_ids(queries, ids, vecs)) >= (
        0.9 if compressed else 0.98
    )


def test_ivf_removes_updates_and_survives_a_snapshot(tmp_path: Path) -> None:
    vecs = clustered(3_000)
    ids = np.arange(1, 3_001, dtype=np.int64)
    index = VectorIndex.build(DIM, len(ids), batches_of(ids, vecs), IndexPolicy(exact_below=1_000))
    assert index.remove(ids[:100]) == 100
    _, found = index.search(vecs[:100], 1)
    assert not set(found[:, 0].tolist()) & set(ids[:100].tolist())
    index.add(ids[:1], vecs[200:201])  # an update: same id, new vector
    _, found = index.search(vecs[200:201], 2)
    assert set(found[0].tolist()) == {1, 201}
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert (loaded.layout, loaded.nprobe, len(loaded)) == (index.layout, index.nprobe, 2_901)


def test_rebuild_is_due_only_when_the_size_left_its_layout() -> None:
    policy = IndexPolicy(exact_below=1_000)
    vecs = clustered(4_100)
    ids = np.arange(1, 4_101, dtype=np.int64)
    exact = VectorIndex.new(DIM)
    exact.add(ids[:999], vecs[:999])
    assert exact.wants_rebuild(policy) is None
    exact.add(ids[999:1000], vecs[999:1000])
    assert exact.wants_rebuild(policy).lists == 32  # type: ignore[union-attr]
    ivf = VectorIndex.build(DIM, 1_000, batches_of(ids[:1_000], vecs[:1_000]), policy)
    ivf.add(ids[1_000:3_000], vecs[1_000:3_000])  # 3x: still fine
    assert ivf.wants_rebuild(policy) is None
    ivf.add(ids[3_000:], vecs[3_000:])  # 4x: twice the lists are due
    assert ivf.wants_rebuild(policy).lists == 64  # type: ignore[union-attr]
    ivf.remove(ids[400:])  # far below the threshold: back to exact
    assert ivf.wants_rebuild(policy).lists == 0  # type: ignore[union-attr]
    assert ivf.wants_rebuild(IndexPolicy(exact_below=100)) is None  # sqrt(400) = 20 against 32 lists
    ivf.remove(ids[200:400])
    assert ivf.wants_rebuild(IndexPolicy(exact_below=100)).lists == 16  # type: ignore[union-attr]


def story(i: int, extra: str = "") -> Article:
    return Article(
        id=f"s{i}",
        title=f"Story {i}",
        text=f"Reporter{i} described the harbour{i} flooding in town{i}. Officials{i} closed road{i}{extra}.",
    )


def consistent(lib: Library) -> None:
    lib.refresh()
    ids = {r[0] for r in lib.store.conn.execute("SELECT id FROM sentences")}
    assert len(lib.vectors) == len(ids)
    found = lib.vectors.search(lib.store.vectors_for_sentences(sorted(ids), lib.dim), 1)[1][:, 0]
    assert set(found.tolist()) <= ids


def test_library_switches_layouts_and_keeps_removals_and_updates(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    policy = IndexPolicy(exact_below=200)

    def open_library() -> Library:
        return Library(
            tmp_path, lambda: embedder, model_name=embedder.name, snapshot_every=1, vector_policy=policy
        )

    lib = open_library()
    lib.ingest([story(i) for i in range(60)])
    assert lib.vectors.layout.lists == 0  # 120 sentences: exact
    lib.ingest([story(i) for i in range(60, 150)])
    assert lib.vectors.layout.lists == 16  # 300 sentences: trained at the snapshot
    consistent(lib)
    lib.remove(["s3", "s70"])
    lib.ingest([story(5, " and bridge5")])  # an update replays as remove + add
    consistent(lib)
    searcher = Searcher(lib)
    hit = searcher.passages(searcher.rank("Which road did Officials5 close, bridge5?"), k=1)[0]
    assert hit.article.id == "s5" and "bridge5" in hit.sentence
    lib.close()

    reader = open_library()  # loads the IVF snapshot, replays nothing
    assert reader.vectors.layout.lists == 16
    consistent(reader)
    assert reader.store.find_article("s3") is None
    reader.remove([f"s{i}" for i in range(150) if i % 3])  # down to about 100 sentences: exact again
    assert reader.vectors.layout.lists == 0
    consistent(reader)
    reader.close()


def test_compressed_mode_sticks_once_chosen(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(
        tmp_path, lambda: embedder, model_name=embedder.name, vector_policy=IndexPolicy(compressed=True)
    )
    lib.ingest([story(i) for i in range(20)])
    assert lib.vectors.layout.describe() == "exact fp16"
    lib.close()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)  # default policy: keep what is there
    lib.ingest([story(i) for i in range(20, 30)])
    lib.checkpoint(force=True)
    assert lib.vectors.layout.compressed
    consistent(lib)
    lib.close()
