"""Build throughput: indexing a JSON-lines file end to end, beside the encoder alone on the same texts."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsqa.index.models.embedder import Embedder
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.vectors import IndexPolicy


@dataclass(frozen=True, slots=True)
class BuildResult:
    sentences: int  # indexed (every sentence of every article)
    distinct: int  # embedded (copies of a sentence are embedded once)
    seconds: float  # end to end: read, split, embed, SQLite, FAISS, snapshot, manifest
    encoder_seconds: float  # the embedder alone on the same distinct texts, one call
    cpu_seconds: float  # CPU time of this process (all threads) during the build
    encoder_cpu_seconds: float  # and during the encoder alone: robust to other load on the machine
    load: tuple[float, float]  # 1-minute load average during the build, during the encoder run

    @property
    def rate(self) -> float:
        return self.sentences / self.seconds

    @property
    def encoder_rate(self) -> float:
        return self.sentences / self.encoder_seconds

    @property
    def ratio(self) -> float:
        """Build throughput over the encoder's: 1.0 means the pipeline costs nothing beyond embedding."""
        return self.encoder_seconds / self.seconds

    @property
    def cpu_ratio(self) -> float:
        """The same ratio in CPU seconds: other processes competing for the cores shift it less."""
        return self.encoder_cpu_seconds / self.cpu_seconds


def build_index(
    articles: Path,
    root: Path | PgHome,
    embedder: Callable[[], Embedder],
    model_name: str,
    policy: IndexPolicy,
) -> tuple[Library, float, float]:
    """A fresh index of `articles` in `root`: (library, seconds, CPU seconds); the model is loaded first.

    A data directory is deleted first; a PostgreSQL database (`newsqa --store URL dev bench`) must be empty.
    """
    from newsqa.index.ingest.loaders import iter_articles

    if isinstance(root, Path):
        shutil.rmtree(root, ignore_errors=True)
    lib = Library(root, embedder, model_name=model_name, vector_policy=policy)
    lib.embedder.embed(["warm up the model"])
    started, cpu = time.perf_counter(), time.process_time()
    with lib.dir.writer_lock():
        lib.ingest(iter_articles([str(articles)]))
    return lib, time.perf_counter() - started, time.process_time() - cpu


def encoder_alone(lib: Library) -> tuple[int, float, float]:
    """(distinct texts, seconds, CPU seconds) to embed, in one call, exactly the texts the build embedded:
    each distinct "headline. sentence" (index/text/context.py), not the bare sentence, which is shorter."""
    from newsqa.index.text.context import embedding_text

    texts = [embedding_text(title, text) for title, text in lib.store.embedded_texts()]
    started, cpu = time.perf_counter(), time.process_time()
    lib.embedder.embed(texts)
    return len(texts), time.perf_counter() - started, time.process_time() - cpu


def measure_build(
    articles: Path,
    root: Path | PgHome,
    embedder: Callable[[], Embedder],
    model_name: str,
    policy: IndexPolicy,
) -> tuple[Library, BuildResult]:
    lib, seconds, cpu = build_index(articles, root, embedder, model_name, policy)
    load_build = os.getloadavg()[0]
    distinct, encoder_seconds, encoder_cpu = encoder_alone(lib)
    _, sentences = lib.counts()
    load = (load_build, os.getloadavg()[0])
    return lib, BuildResult(sentences, distinct, seconds, encoder_seconds, cpu, encoder_cpu, load)
