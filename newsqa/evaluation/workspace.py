"""Evaluation indexes: built once under a work directory and reused, never in the user's --data-dir."""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from newsqa.frontdoor import Newsqa
from newsqa.index.storage.datadir import IndexProblem
from newsqa.index.text.article import Article
from newsqa.index.text.sentences import Sentence
from newsqa.wiring import Wiring

from .embedcache import CachedEmbedder


def slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


def open_index(
    ctx: Wiring,
    work: Path,
    name: str,
    articles: Iterable[Article],
    *,
    splitter: Callable[[Article], list[Sentence]] | None = None,
    rebuild: bool = False,
    in_store: bool = True,
) -> Newsqa:
    """An index of `articles` under `work`, kept exactly as given (no copy detection), opened through
    the front door.

    Articles already indexed unchanged cost nothing, so a second run only asks questions; the pool's
    vectors are also cached by text under `work/vectors`, so even `rebuild` embeds nothing twice.
    Questions are embedded live (their cost is the latency being measured).
    With --store (and `in_store`) it is built in that PostgreSQL database, which must hold this pool alone.
    """
    model_name = ctx.model_name()
    root = Path(work) / slug(f"{name}-{model_name}")
    if rebuild and root.exists():
        shutil.rmtree(root)
    embedder = CachedEmbedder(ctx.embedder_factory()(), Path(work) / "vectors")
    settings = ctx.settings
    settings = dataclasses.replace(settings, data_dir=root, store=settings.store if in_store else None)
    index = Newsqa(
        dataclasses.replace(ctx, settings=settings, injected_embedder=lambda: embedder), detect_copies=False
    )
    pool = list(articles)
    index.add(pool, splitter=splitter)
    embedder.enabled = False  # from here on: questions, embedded by the model itself
    extra = len(set(index.store.article_ids()) - {a.id for a in pool})
    if extra:
        where = index.library.dir.root
        index.close()
        raise EvaluationStoreNotEmpty(
            f"{where} holds {extra} articles outside this evaluation's pool: use an empty database"
        )
    return index


class EvaluationStoreNotEmpty(IndexProblem):
    """An evaluation must search its pool alone; a shared store would measure something else."""
