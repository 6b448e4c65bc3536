"""Padding a real index to a million sentences without embedding a million sentences.

Synthetic vectors are mixtures of two real ones plus noise (so they keep the real data's clustering,
which is what an approximate index's recall depends on); synthetic texts splice pieces of real
sentences (so BM25 at scale sees the real vocabulary and its frequencies). Rows go through the store's
own write methods, one transaction per chunk, then the library replays them and re-chooses its FAISS
layout at the forced checkpoint, exactly as a large ingest would.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from newsqa.index.models.embedder import Embedder
from newsqa.index.storage.library import Library
from newsqa.index.storage.vectors import IndexPolicy
from newsqa.index.text.article import Article
from newsqa.index.text.sentences import Sentence

SENTENCES_PER_ARTICLE = 20
CHUNK = 20_000


def copy_index(source: Path, target: Path) -> None:
    """A closed index copied file by file (SQLite with its WAL, snapshot, manifest)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("writer.lock"))


def real_rows(lib: Library) -> tuple[list[str], np.ndarray]:
    """The distinct sentence texts of `lib` and their vectors, in the same order."""
    return lib.store.texts_with_vectors(lib.dim)


def synthetic_sentences(
    texts: list[str], vecs: np.ndarray, n: int, rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    """`n` distinct (text, vector) pairs spliced from the real ones."""
    seen: set[str] = set(texts)
    words = [t.split() for t in texts]
    made = 0
    while made < n:
        m = min(CHUNK, n - made)
        a, b = rng.integers(0, len(texts), size=(2, m))
        noise = rng.standard_normal((m, vecs.shape[1])).astype(np.float32) / np.sqrt(vecs.shape[1])
        mixed = vecs[a] + 0.5 * vecs[b] + 0.35 * noise
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        for i in range(m):
            wa, wb = words[a[i]], words[b[i]]
            text = " ".join(wa[: max(1, len(wa) * 2 // 3)] + wb[len(wb) // 2 :])
            if text in seen:
                continue
            seen.add(text)
            made += 1
            yield text, mixed[i]
            if made >= n:
                return


def pad_index(
    source: Path,
    target: Path,
    total: int,
    embedder: Callable[[], Embedder],
    model_name: str,
    policy: IndexPolicy,
    *,
    seed: int = 11,
) -> Library:
    """A copy of the index at `source`, padded with synthetic articles to `total` sentences."""
    copy_index(source, target)
    lib = Library(target, embedder, model_name=model_name, vector_policy=policy)
    texts, vecs = real_rows(lib)
    _, have = lib.counts()
    rng = np.random.default_rng(seed)
    pending: list[tuple[str, np.ndarray]] = []
    number = 0
    with lib.dir.writer_lock():
        for item in synthetic_sentences(texts, vecs, max(0, total - have), rng):
            pending.append(item)
            if len(pending) >= CHUNK:
                number = _write_chunk(lib, pending, number)
                pending = []
        if pending:
            _write_chunk(lib, pending, number)
        lib.checkpoint(force=True)
        if lib.stories:  # a real ingest keys each story for copy detection as it goes: key these now
            lib.stories.load()
    return lib


def _write_chunk(lib: Library, items: list[tuple[str, np.ndarray]], number: int) -> int:
    """Synthetic articles of SENTENCES_PER_ARTICLE sentences each; returns the next article number."""
    with lib.store.transaction():
        hashes = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t, _ in items]
        lib.store.put_embeddings(hashes, np.stack([v for _, v in items]))
        for start in range(0, len(items), SENTENCES_PER_ARTICLE):
            part = items[start : start + SENTENCES_PER_ARTICLE]
            spans: list[Sentence] = []
            offset = 0
            for position, (text, _) in enumerate(part):
                spans.append(Sentence(offset, offset + len(text), 0, position))
                offset += len(text) + 1
            body = " ".join(t for t, _ in part)
            article = Article(id=f"synthetic/{number:07d}", title=" ".join(body.split()[:8]), text=body)
            rowid = lib.store.insert_article(article)
            lib.store.insert_sentences(
                rowid, spans, [t for t, _ in part], hashes[start : start + SENTENCES_PER_ARTICLE]
            )
            number += 1
    return number
