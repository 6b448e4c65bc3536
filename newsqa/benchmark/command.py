"""The `newsqa dev bench` command: build, query, memory, incremental and recall figures in one table.

Everything it builds lives under --work (default /tmp/newsqa-bench) and can be reused with --reuse, so
a re-run on a quiet machine repeats only the measurements. See docs/bench.md.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsqa.charts.output import plot_option

if TYPE_CHECKING:
    import numpy as np

    from newsqa.index.search.ranking import Searcher
    from newsqa.index.storage.library import Library
    from newsqa.wiring import Wiring

    from .report import Row

QUICK_SCALE = 5_000
QUICK_EXACT_BELOW = 1_000


@click.command("bench")
@click.argument("articles", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/tmp/newsqa-bench"),
    show_default=True,
    help="Where the benchmark indexes are built (never your --data-dir).",
)
@click.option("--scale", type=int, default=1_000_000, show_default=True, help="Sentences in the large index.")
@click.option("--queries", type=int, default=200, show_default=True, help="Questions timed per index.")
@click.option("--reuse", is_flag=True, help="Reuse indexes built by an earlier run (skips the build row).")
@click.option("--compressed", is_flag=True, help="float16 / SQ8 vectors instead of float32.")
@click.option("--exact-below", type=int, default=None, help="Override the exact-search threshold.")
@click.option("--quick", is_flag=True, help="A tiny generated corpus and scale: checks the bench works.")
@click.option(
    "--replica-start",
    "replica_start",
    help="With --store: a replica's start time and memory at these sizes (e.g. 100000,1000000), from "
    "every vector and from a snapshot; pads the database with synthetic sentences.",
)
@click.option("--tail", type=int, default=1_000, show_default=True, help="--replica-start: changes replayed.")
@click.option(
    "--full-read-up-to",
    type=int,
    default=1_000_000,
    show_default=True,
    help="--replica-start: measure the read of every vector up to this size only.",
)
@click.option(
    "--against",
    metavar="MODEL",
    help="Also time answers from an index of the same articles built with MODEL (e.g. the previous "
    "default, sentence-transformers/all-MiniLM-L6-v2), question by question in turn: what --model costs.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write rows.")
@plot_option("the latency rows (p50 and p95 per configuration)")
@click.pass_obj
def bench(
    ctx: Wiring,
    articles: Path | None,
    work: Path,
    scale: int,
    queries: int,
    reuse: bool,
    compressed: bool,
    exact_below: int | None,
    quick: bool,
    replica_start: str | None,
    tail: int,
    full_read_up_to: int,
    against: str | None,
    json_path: Path | None,
    plot: Path | None,
) -> None:
    """Measure build speed, answer latency, memory, disk, one-article adds and recall on ARTICLES.

    ARTICLES is a JSON-lines file (e.g. ../shared/data/bbc-news/articles.jsonl); --quick generates one.
    """
    from newsqa.index.storage.vectors import IndexPolicy

    from .corpus import write_corpus
    from .report import render

    if replica_start is not None:
        _replica_start(ctx, replica_start, compressed, tail, full_read_up_to, json_path)
        return
    work.mkdir(parents=True, exist_ok=True)
    if quick:
        articles = articles or write_corpus(work / "quick.jsonl", articles=150)
        scale, queries = min(scale, QUICK_SCALE), min(queries, 20)
        exact_below = exact_below or QUICK_EXACT_BELOW
    if articles is None:
        raise click.UsageError("give the ARTICLES file (or --quick)")
    policy = IndexPolicy(
        compressed=compressed, **({"exact_below": exact_below} if exact_below is not None else {})
    )
    if ctx.settings.store is not None:  # `newsqa --store URL dev bench`: both stores, side by side
        _compare_stores(ctx, articles, work, policy, queries, reuse=reuse, json_path=json_path, plot=plot)
        return
    suffix = "-sq8" if compressed else ""
    run = _Run(ctx, articles, work, policy, reuse=reuse, quick=quick, suffix=suffix, against=against)
    rows = run.all(scale, queries)
    header = _header("newsqa dev bench", run.load_at_start, ctx.model_name())
    click.echo(render(rows, header=header))
    if json_path:
        payload = {"header": header, "rows": [r.as_dict() for r in rows], "extra": run.extra}
        json_path.write_text(json.dumps(payload, indent=2))
    _plot(plot, {"": rows})


def _replica_start(
    ctx: Wiring, sizes: str, compressed: bool, tail: int, full_read_up_to: int, json_path: Path | None
) -> None:
    """--replica-start: the Start rows, by size (replicastart.py)."""
    from .replicastart import NotPadding, measure, rows
    from .report import render

    if ctx.settings.store is None:
        raise click.UsageError("--replica-start measures a PostgreSQL store: give --store URL")
    try:
        wanted = [int(x.replace("_", "")) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise click.UsageError(f"--replica-start takes sizes like 100000,1000000, not {sizes!r}") from None
    load_at_start = os.getloadavg()[0]
    injected = ctx.injected_embedder
    dim = injected().dim if injected is not None else 384  # the packaged model's, without loading it
    model = ctx.model_name()
    try:
        figures = measure(
            ctx.settings.store,
            wanted,
            model=model,
            dim=dim,
            compressed=compressed,
            tail=tail,
            full_read_up_to=full_read_up_to,
            say=lambda line: click.echo(line, err=True),
        )
    except NotPadding as exc:
        raise click.ClickException(str(exc)) from None
    table = rows(figures, tail)
    header = _header(
        "newsqa dev bench --replica-start" + (" --compressed" if compressed else ""), load_at_start, model
    )
    click.echo(render(table, header=header))
    if json_path:
        payload = {
            "header": header,
            "rows": [r.as_dict() for r in table],
            "figures": [asdict(f) for f in figures],
        }
        json_path.write_text(json.dumps(payload, indent=2))


def _plot(path: Path | None, columns: dict[str, list[Row]]) -> None:
    """--plot: the rows' latencies as a bar chart (newsqa.charts)."""
    if path is not None:
        from newsqa.charts.draw import chart_png
        from newsqa.charts.output import save_chart
        from newsqa.charts.tables import bench_chart

        title = f"newsqa bench, {time.strftime('%Y-%m-%d %H:%M')}: answer latency"
        save_chart(path, lambda: chart_png(bench_chart(columns, title)))


def _header(title: str, load_at_start: float, model: str) -> str:
    """What a table was measured on: when, the cores, how busy the machine was, the model."""
    return (
        f"{title}, {time.strftime('%Y-%m-%d %H:%M')}: {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at the end (started at {load_at_start:.2f}), model {model}"
    )


def _compare_stores(
    ctx: Wiring,
    articles: Path,
    work: Path,
    policy: Any,
    n_queries: int,
    *,
    reuse: bool,
    json_path: Path | None,
    plot: Path | None = None,
) -> None:
    """The comparison table: the same rows on a data directory under --work and on the --store database.

    The database must be empty (the bench builds into it), or with --reuse hold an earlier run's index.
    """
    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.storage.datadir import IndexProblem
    from newsqa.index.storage.pghome import PgHome
    from newsqa.index.text.article import Article

    from .stores import STORES, Side, check_pg_database, render_side_by_side, side_rows

    assert ctx.settings.store is not None
    load_at_start = os.getloadavg()[0]
    factory, model = ctx.embedder_factory(), ctx.model_name()
    pg_home = PgHome(ctx.settings.store)
    sqlite_side = Side(STORES[0], work / "stores-sqlite", factory, model, policy)
    pg_side = Side(STORES[1], pg_home, factory, model, policy)
    corpus = [a for a in iter_articles([str(articles)]) if isinstance(a, Article)]
    try:
        reuse_pg = check_pg_database(pg_home, pg_side, {a.id for a in corpus}, reuse=reuse)
    except IndexProblem as exc:
        raise click.ClickException(str(exc)) from None
    reuse_sqlite = reuse and (work / "stores-sqlite" / "manifest.json").exists()
    questions = _Run(ctx, articles, work, policy, reuse=reuse, quick=False, suffix="").questions(n_queries)
    news = [replace(a, id=f"bench-add/{i}", text=_reworded(a.text)) for i, a in enumerate(corpus[:5])]
    columns = {}
    for side, again in ((sqlite_side, reuse_sqlite), (pg_side, reuse_pg)):
        rows, lib = side_rows(side, articles, questions, news, reuse=again)
        lib.close()
        columns[side.name] = rows
    header = _header(f"newsqa dev bench, SQLite and PostgreSQL ({pg_home.root})", load_at_start, model)
    click.echo(render_side_by_side(columns, header=header))
    if json_path:
        payload = {
            "header": header,
            "stores": {n: [r.as_dict() for r in rows] for n, rows in columns.items()},
        }
        json_path.write_text(json.dumps(payload, indent=2))
    _plot(plot, columns)


class _Run:
    """One benchmark run: the indexes it built and the rows it measured, in table order."""

    def __init__(
        self,
        ctx: Wiring,
        articles: Path,
        work: Path,
        policy: Any,
        *,
        reuse: bool,
        quick: bool,
        suffix: str,
        against: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.articles = articles
        self.work = work
        self.policy = policy
        self.reuse = reuse
        self.quick = quick
        self.small_root = work / f"small{suffix}"
        self.big_root = work / f"large{suffix}"
        self.rows: list[Row] = []
        self.extra: dict[str, Any] = {}
        self.load_at_start = os.getloadavg()[0]
        # a fake embedder injected by a test cannot cross into a child process: no cold `ask` then
        self.cold_ask = ctx.injected_embedder is None
        self.against = against  # another index model, timed against this one (--against)

    def add(self, *args: Any, **kwargs: Any) -> None:
        from .report import Row

        self.rows.append(Row(*args, **kwargs))

    def all(self, scale: int, n_queries: int) -> list[Row]:
        from .process import newsqa_argv, wall_seconds

        small = self.build()
        questions = self.questions(n_queries)
        self.query_rows(small, questions, "small")
        if self.against:
            self.against_row(small, questions, self.against)
        help_s = wall_seconds(newsqa_argv("--help"), repeat=5)
        self.add("Start", "`newsqa --help`", f"{help_s:.2f} s", "<= 0.5 s", help_s <= 0.5)
        big = self.pad(small, scale)
        self.query_rows(big, questions, "large")
        self.recall_row(big, questions)
        self.add_rows(big)
        self.memory_rows(small, big)
        small.close()
        big.close()
        return self.rows

    # -- build -----------------------------------------------------------------------------------
    def build(self) -> Library:
        from newsqa.index.storage.library import Library

        from .build import measure_build
        from .report import Row

        factory, model = self.ctx.embedder_factory(), self.ctx.model_name()
        if self.reuse and (self.small_root / "manifest.json").exists():
            lib = Library(self.small_root, factory, model_name=model, vector_policy=self.policy)
            self.rows.append(Row("Build", "end to end", "reused an earlier build (not measured)"))
            return lib
        lib, r = measure_build(self.articles, self.small_root, factory, model, self.policy)
        self.extra["build"] = {f: getattr(r, f) for f in r.__dataclass_fields__}
        self.add(
            "Build",
            f"end to end, {r.sentences:,} sentences (load {r.load[0]:.1f})",
            f"{r.rate:.0f} sentences/s ({r.seconds:.0f} s)",
        )
        self.add(
            "Build",
            f"encoder alone, {r.distinct:,} distinct texts (load {r.load[1]:.1f})",
            f"{r.encoder_rate:.0f} sentences/s ({r.encoder_seconds:.0f} s)",
        )
        self.add(
            "Build", "end to end / encoder alone, wall time", f"{r.ratio:.2f}", ">= 0.85", r.ratio >= 0.85
        )
        self.add(
            "Build",
            "end to end / encoder alone, CPU time",
            f"{r.cpu_ratio:.2f} ({r.cpu_seconds:.0f} / {r.encoder_cpu_seconds:.0f} CPU s)",
        )
        return lib

    def pad(self, small: Library, scale: int) -> Library:
        from newsqa.index.storage.library import Library

        from .synthetic import pad_index

        factory, model = self.ctx.embedder_factory(), self.ctx.model_name()
        manifest = self.big_root / "manifest.json"
        if self.reuse and manifest.exists() and json.loads(manifest.read_text())["sentences"] >= scale:
            return Library(self.big_root, factory, model_name=model, vector_policy=self.policy)
        small.store.fold_wal()
        started = time.perf_counter()
        lib = pad_index(self.small_root, self.big_root, scale, factory, model, self.policy)
        self.add(
            "Build",
            f"large index, padded to {scale:,} (synthetic rows)",
            f"{time.perf_counter() - started:.0f} s",
        )
        return lib

    # -- queries ---------------------------------------------------------------------------------
    def questions(self, n: int) -> list[str]:
        """Headlines of the articles, a seeded sample: short, question-like, and not indexed sentences."""
        from newsqa.index.ingest.loaders import iter_articles

        titles = sorted({a.title for a in iter_articles([str(self.articles)]) if hasattr(a, "title")})
        random.Random(5).shuffle(titles)
        return titles[:n]

    def query_rows(self, lib: Library, questions: list[str], which: str) -> None:
        from .process import newsqa_argv, wall_seconds
        from .query import answer_latency
        from .report import ms

        _, n = lib.counts()
        goal_s = 0.025 if which == "small" else 0.040
        searcher = self.ctx.searcher(lib)
        lat, without_time = answer_latency(searcher, questions)
        layout = f"{lib.vectors.layout.describe()}" + (
            f", nprobe {lib.vectors.nprobe}" if lib.vectors.nprobe else ""
        )
        self.add(
            "Query",
            f"answer p50 / p95 / p99, {n:,} sentences ({layout}; load {os.getloadavg()[0]:.1f})",
            f"{ms(lat.p50)} / {ms(lat.p95)} / {ms(lat.p99)}",
            f"p50 <= {goal_s * 1000:.0f} ms",
            lat.p50 <= goal_s,
            latency=((f"answer, {n:,} sentences", lat.p50, lat.p95),),
        )
        ratio = lat.p50 / without_time.p50 if without_time.p50 else float("nan")
        self.add(
            "Query",
            f"  the same without time handling (as before), {n:,} sentences; p50 ratio with / without",
            f"{ms(without_time.p50)} / {ms(without_time.p95)} / {ms(without_time.p99)}; {ratio:.2f}",
            "ratio <= 1.10",
            ratio <= 1.10,
            latency=((f"answer without time handling, {n:,}", without_time.p50, without_time.p95),),
        )
        self.model_rows(lib, searcher, questions)
        if self.cold_ask:
            root = self.small_root if which == "small" else self.big_root
            argv = newsqa_argv(
                "--data-dir", str(root), "--model", self.ctx.settings.model, "ask", questions[0]
            )
            cold = wall_seconds(argv, repeat=3)
            self.add("Query", f"cold `newsqa ask`, {n:,} sentences", f"{cold:.2f} s")

    def model_rows(self, lib: Library, searcher: Searcher, questions: list[str]) -> None:
        """What newsqa's own models cost: answer time with each against without it, side by side."""
        from newsqa.index.search.ranking import Searcher

        from .query import paired_latency
        from .report import ms

        n = len(lib.vectors)
        pairs = []
        if searcher.questions is not None:
            pairs.append(
                (
                    f"question model ({searcher.questions.name}) / index model embedding the question",
                    Searcher(lib, searcher.options, questions=searcher.questions),
                    Searcher(lib, searcher.options),
                )
            )
        if searcher.answers is not None:
            pairs.append(
                (
                    f"answer model ({searcher.answers.name}) judging the first "
                    f"{searcher.options.answer_top} / not",
                    Searcher(lib, searcher.options, questions=searcher.questions, answers=searcher.answers),
                    Searcher(lib, searcher.options, questions=searcher.questions),
                )
            )
        if searcher.judge is not None:
            pairs.append(
                (
                    f"abstain judge ({searcher.judge.name}) reading the first candidates / the index "
                    "model's own cosines",
                    searcher,
                    Searcher(lib, searcher.options, questions=searcher.questions, answers=searcher.answers),
                )
            )
        if searcher.questions is not None and searcher.answers is not None:
            pairs.append(
                (
                    "newsqa's own models (question and answer) / neither (the product before them)",
                    searcher,
                    Searcher(lib, searcher.options),
                )
            )
        for label, with_, without in pairs:
            short = label.split(" (")[0]
            a, b = paired_latency(with_, without, questions)
            ratio = a.p50 / b.p50 if b.p50 else float("nan")
            self.add(
                "Query",
                f"  {label}, {n:,} sentences: p50 / p95 each; p50 ratio",
                f"{ms(a.p50)} / {ms(a.p95)} against {ms(b.p50)} / {ms(b.p95)}; {ratio:.2f}",
                "ratio <= 1.50",
                ratio <= 1.50,
                latency=((f"{short} on, {n:,}", a.p50, a.p95), (f"{short} off, {n:,}", b.p50, b.p95)),
            )

    def against_row(self, lib: Library, questions: list[str], spec: str) -> None:
        """Answer time from this model's index against one of the same articles built with `spec`, each
        searched as the front ends search it (its own question model and abstain judge), in turn."""
        import dataclasses

        from newsqa.evaluation.workspace import slug
        from newsqa.index.storage.library import Library

        from .build import build_index
        from .query import paired_latency
        from .report import ms

        other = dataclasses.replace(self.ctx, settings=dataclasses.replace(self.ctx.settings, model=spec))
        name = other.model_name()
        root = self.work / f"small-{slug(name)}"
        factory = other.embedder_factory()
        if self.reuse and (root / "manifest.json").exists():
            theirs = Library(root, factory, model_name=name, vector_policy=self.policy)
        else:
            theirs, _, _ = build_index(self.articles, root, factory, name, self.policy)
        a, b = paired_latency(self.ctx.searcher(lib), other.searcher(theirs), questions)
        ratio = a.p50 / b.p50 if b.p50 else float("nan")
        _, n = lib.counts()
        self.add(
            "Query",
            f"  this model / {name} (an index of the same articles), {n:,} sentences: p50 / p95 each; "
            "p50 ratio",
            f"{ms(a.p50)} / {ms(a.p95)} against {ms(b.p50)} / {ms(b.p95)}; {ratio:.2f}",
            "ratio <= 1.50",
            ratio <= 1.50,
            latency=((f"this model, {n:,}", a.p50, a.p95), (f"{name}, {n:,}", b.p50, b.p95)),
        )
        theirs.close()

    def query_vectors(self, lib: Library, questions: list[str]) -> np.ndarray:
        """The questions' embeddings, cached beside the indexes (keyed by model and questions)."""
        import hashlib

        import numpy as np

        key = hashlib.sha1("\n".join([self.ctx.model_name(), *questions]).encode()).hexdigest()[:12]
        path = self.work / f"queries-{key}.npy"
        if path.exists():
            return np.load(path)
        vecs = lib.embedder.embed(questions)
        np.save(path, vecs)
        return vecs

    def recall_row(self, lib: Library, questions: list[str]) -> None:
        from .query import recall_vs_exact

        _, n = lib.counts()
        recall = recall_vs_exact(lib, self.query_vectors(lib, questions))
        self.add(
            "Recall",
            f"recall@10 vs exact, {n:,} sentences ({lib.vectors.layout.describe()})",
            f"{recall:.3f}",
            ">= 0.98",
            recall >= 0.98,
        )

    def add_rows(self, lib: Library) -> None:
        from newsqa.index.ingest.loaders import iter_articles
        from newsqa.index.text.article import Article

        from .query import one_article_adds
        from .report import ms

        _, n = lib.counts()
        sample = [a for a in iter_articles([str(self.articles)]) if isinstance(a, Article)][:5]
        # new ids and new wording: copies of indexed text would skip the embedding an add really pays for
        news = [replace(a, id=f"bench-add/{i}", text=_reworded(a.text)) for i, a in enumerate(sample)]
        times = one_article_adds(lib, news)
        worst = max(times)
        self.add(
            "Incremental",
            f"add one article to {n:,} sentences (warm; median of {len(times)}, worst)",
            f"{ms(sorted(times)[len(times) // 2])}, {ms(worst)}",
            "<= 1 s",
            worst <= 1.0,
        )

    # -- memory and disk -------------------------------------------------------------------------
    def memory_rows(self, small: Library, big: Library) -> None:
        from .process import disk_bytes, resident_bytes
        from .report import mib

        sizes = []
        for lib, root in ((small, self.small_root), (big, self.big_root)):
            _, n = lib.counts()
            before, after = resident_bytes(root)
            disk = disk_bytes(root)
            sizes.append((n, after, disk))
            self.add(
                "Memory",
                f"resident, index of {n:,} sentences ({lib.vectors.layout.describe()})",
                f"{mib(after)} ({mib(after - before)} for the vectors)",
            )
            self.add("Disk", f"data directory, {n:,} sentences", mib(disk))
        (n0, rss0, disk0), (n1, rss1, disk1) = sizes
        if n1 > n0:
            per = 1e6 / (n1 - n0)
            self.add("Memory", "resident per million sentences (slope)", mib((rss1 - rss0) * per))
            self.add("Disk", "per million sentences (slope)", mib((disk1 - disk0) * per))


def _reworded(text: str) -> str:
    import re

    return re.sub(r"\b(the|The)\b", lambda m: "this" if m.group(0) == "the" else "This", text)
