"""`newsqa --store URL dev bench`: the same figures on a SQLite data directory and on the PostgreSQL
store, side by side: build rate against the encoder, answer latency, a one-article add, and how soon
another process (a second Library with a ChangeFollower, as a serving replica) answers with an article
just added."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from newsqa.index.models.embedder import Embedder
from newsqa.index.storage.datadir import IndexProblem
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.vectors import IndexPolicy

from .report import Row, ms

STORES = ("SQLite data directory", "PostgreSQL")
FOLLOW_GOAL = 1.0  # seconds: an add answerable in every process within a second


class BenchStoreNotEmpty(IndexProblem):
    """The PostgreSQL side builds into the database it is given: someone else's articles must not be in it."""


@dataclass(frozen=True, slots=True)
class Side:
    """One store's run: where its index lives and how to open it."""

    name: str
    home: Path | PgHome
    factory: Callable[[], Embedder]
    model: str
    policy: IndexPolicy

    def open(self) -> Library:
        return Library(self.home, self.factory, model_name=self.model, vector_policy=self.policy)


def check_pg_database(home: PgHome, side: Side, corpus_ids: set[str], *, reuse: bool) -> bool:
    """Whether the PostgreSQL side reuses an earlier run's index (True) or builds one (False, empty database).

    Raises BenchStoreNotEmpty (its message is for the user) for a database holding anything else.
    """
    if not home.exists():
        return False
    lib = Library(home, side.factory, model_name=side.model, readonly=True)
    try:
        ids = set(lib.store.article_ids())
    finally:
        lib.close()
    if not ids:
        return False
    if not reuse or ids - corpus_ids:
        raise BenchStoreNotEmpty(
            f"{home.root} holds {len(ids)} articles: the bench builds into an empty database "
            "(createdb a new one)" + ("" if reuse else ", or pass --reuse to measure an earlier run's")
        )
    return True


def side_rows(
    side: Side, articles: Path, questions: list[str], news: list, *, reuse: bool
) -> tuple[list[Row], Library]:
    """The rows of one store, always in the same order (the table pairs them by position)."""
    from .build import measure_build
    from .query import answer_latency, follow_latency, one_article_adds

    rows: list[Row] = []
    if reuse:
        lib = side.open()
        rows += [Row("Build", m, "reused (not measured)") for m in _BUILD_METRICS]
    else:
        lib, r = measure_build(articles, side.home, side.factory, side.model, side.policy)
        rows += [
            Row("Build", _BUILD_METRICS[0], f"{r.rate:.0f} sentences/s ({r.seconds:.1f} s)"),
            Row("Build", _BUILD_METRICS[1], f"{r.encoder_rate:.0f} sentences/s ({r.encoder_seconds:.1f} s)"),
            Row("Build", _BUILD_METRICS[2], f"{r.ratio:.2f}", ">= 0.85", r.ratio >= 0.85),
        ]
    _, n = lib.counts()
    rows.append(Row("Build", "sentences indexed", f"{n:,}"))
    from newsqa.index.search.ranking import Searcher

    lat, _ = answer_latency(Searcher(lib), questions)  # the stores compared, not the models
    rows.append(
        Row(
            "Query",
            "answer p50 / p95",
            f"{ms(lat.p50)} / {ms(lat.p95)}",
            "p50 <= 25 ms",
            lat.p50 <= 0.025,
            latency=(("answer", lat.p50, lat.p95),),
        )
    )
    adds = one_article_adds(lib, news)
    worst = max(adds)
    rows.append(
        Row(
            "Incremental",
            f"add one article (median of {len(adds)}, worst)",
            f"{ms(sorted(adds)[len(adds) // 2])}, {ms(worst)}",
            "<= 1 s",
            worst <= 1.0,
        )
    )
    reader = side.open()
    try:
        follow = follow_latency(lib, reader, [replace(a, id=a.id + "/follow") for a in news])
    finally:
        reader.close()
    worst = max(follow)
    rows.append(
        Row(
            "Follow",
            f"time until another process answers with a new article (median of {len(follow)}, worst)",
            f"{ms(sorted(follow)[len(follow) // 2])}, {ms(worst)}",
            f"<= {FOLLOW_GOAL:.0f} s",
            worst <= FOLLOW_GOAL,
        )
    )
    return rows, lib


_BUILD_METRICS = (
    "end to end",
    "encoder alone, the same distinct texts",
    "end to end / encoder alone, wall time",
)


def render_side_by_side(columns: dict[str, list[Row]], *, header: str = "") -> str:
    """One Markdown table, a value column per store; a missed goal is marked in its cell."""
    names = list(columns)
    first = columns[names[0]]
    lines = [header, ""] if header else []
    lines.append("| section | metric | " + " | ".join(names) + " | goal |")
    lines.append("|---|---|" + "---|" * len(names) + "---|")
    for i, row in enumerate(first):
        cells = []
        for name in names:
            r = columns[name][i]
            cells.append(r.value + (" **(no)**" if r.met is False else ""))
        lines.append(f"| {row.section} | {row.metric} | " + " | ".join(cells) + f" | {row.goal} |")
    return "\n".join(lines)
