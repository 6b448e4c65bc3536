"""Evaluation indexes: built once under a work directory and reused, never in the user's --data-dir."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from newsqa.index.embedder import Embedder
from newsqa.index.storage.datadir import IndexProblem
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.text.article import Article
from newsqa.index.text.sentences import Sentence

from .embedcache import CachedEmbedder


def slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


def open_index(
    work: Path,
    name: str,
    factory: Callable[[], Embedder],
    model_name: str,
    articles: Iterable[Article],
    *,
    splitter: Callable[[Article], list[Sentence]] | None = None,
    rebuild: bool = False,
    store: str | None = None,
) -> Library:
    """An index of `articles` under `work`, kept exactly as given (no copy detection).

    Articles already indexed unchanged cost nothing, so a second run only asks questions; the pool's
    vectors are also cached by text under `work/vectors`, so even `rebuild` embeds nothing twice.
    Questions are embedded live (their cost is the latency being measured).
    `store`: a PostgreSQL database to build it in instead (--store), which must hold this pool alone.
    """
    root = Path(work) / slug(f"{name}-{model_name}")
    if rebuild and root.exists():
        shutil.rmtree(root)
    embedder = CachedEmbedder(factory(), Path(work) / "vectors")
    home = PgHome(store) if store else root
    lib = Library(home, lambda: embedder, model_name=model_name, copy_threshold=None)
    pool = list(articles)
    with lib.dir.writer_lock():
        lib.ingest(pool, splitter=splitter)
    embedder.enabled = False  # from here on: questions, embedded by the model itself
    extra = len(set(lib.store.article_ids()) - {a.id for a in pool})
    if extra:
        lib.close()
        raise EvaluationStoreNotEmpty(
            f"{lib.dir.root} holds {extra} articles outside this evaluation's pool: use an empty database"
        )
    return lib


class EvaluationStoreNotEmpty(IndexProblem):
    """An evaluation must search its pool alone; a shared store would measure something else."""
