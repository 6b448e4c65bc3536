"""The `newsqa dev eval` group: retrieval quality, abstaining and follow-ups, measured through the bot's
search.

Indexes are built under --work (default /tmp/newsqa-eval) and reused by later runs; see docs/quality.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsqa.charts import tables as chart_data
from newsqa.charts.output import plot_option

if TYPE_CHECKING:
    from newsqa.frontdoor import Newsqa
    from newsqa.index.search.ranking import Searcher
    from newsqa.wiring import Wiring

#: Tune only on questions about the first this-many articles in file order (SQuAD dev has no tuning split).
TUNING_ARTICLES = 24


def _work_option(f: Any) -> Any:
    return click.option(
        "--work",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("/tmp/newsqa-eval"),
        show_default=True,
        help="Where evaluation indexes are built and reused (never your --data-dir).",
    )(f)


def _common(f: Any) -> Any:
    f = _plot_option(f)
    f = click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")(f)
    f = click.option("--limit", type=int, default=None, help="Only N questions, evenly spread (quick).")(f)
    f = click.option("--rebuild", is_flag=True, help="Index again from scratch (vectors stay cached).")(f)
    return _work_option(_set_option(f))


def _set_option(f: Any) -> Any:
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a SearchOptions field for this run, e.g. --set per_article=3 (repeatable).",
    )(f)


_plot_option = plot_option("the table")


def _plot(path: Path | None, chart: Callable[[], Any]) -> None:
    """--plot: the table just printed, drawn by newsqa.charts (`chart` builds its data)."""
    if path is not None:
        from newsqa.charts.draw import chart_png
        from newsqa.charts.output import save_chart

        save_chart(path, lambda: chart_png(chart()))


@click.group("eval")
def eval_group() -> None:
    """Measure retrieval, abstaining, follow-ups, paraphrases and unanswerable questions (docs/quality.md)."""


def searcher_for(ctx: Wiring, index: Newsqa, overrides: tuple[str, ...]) -> Searcher:
    """The bot's searcher, with the global --min-confidence and any --set overrides applied."""
    from newsqa.index.search.ranking import SearchOptions

    opts = ctx.search_options()
    fields = {f.name for f in dataclasses.fields(SearchOptions)}
    for item in overrides:
        name, _, raw = item.partition("=")
        if name not in fields or not raw:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        kind = type(getattr(opts, name))
        opts = dataclasses.replace(opts, **{name: kind(raw)})
    try:
        return index.searcher(opts)
    except ValueError as exc:  # a stage in `skip` that is not one, or cannot be left out
        raise click.BadParameter(str(exc)) from exc


def _ask_and_report(
    ctx: Wiring,
    what: str,
    index: Newsqa,
    asked: Sequence[Any],
    gold: Mapping[str, Collection[int]],
    tuning_docs: Collection[str],
    overrides: tuple[str, ...],
    as_json: bool,
    plot: Path | None = None,
) -> None:
    """Ask `asked` (items with qid, question, doc) through the bot's answer path; print the split figures."""
    from .report import split_figures
    from .runner import run_questions

    searcher = searcher_for(ctx, index, overrides)
    outcomes = run_questions(searcher, [(q.qid, q.question) for q in asked], gold)
    tuning = {q.qid for q in asked if q.doc in tuning_docs}
    figures = split_figures(outcomes, tuning)
    _emit(ctx, what, searcher, figures, as_json)
    _plot(plot, lambda: chart_data.retrieval_chart(figures, _chart_title(ctx, what)))


def _chart_title(ctx: Wiring, what: str) -> str:
    return f"newsqa eval {what}: model {ctx.model_name()}"


def _header(ctx: Wiring, what: str, searcher: Searcher) -> str:
    load = os.getloadavg()[0]
    return (
        f"newsqa dev eval {what}, {time.strftime('%Y-%m-%d %H:%M')}: model {ctx.model_name()}"
        f"{f', reranker {searcher.reranker.name}' if searcher.reranker else ''}, "
        f"{os.cpu_count()} cores, load average {load:.2f}; options {dataclasses.asdict(searcher.options)}"
    )


def _emit(ctx: Wiring, what: str, searcher: Searcher, figures: dict[str, Any], as_json: bool) -> None:
    from .report import render

    header = _header(ctx, what, searcher)
    if as_json:
        payload = {"header": header, "options": dataclasses.asdict(searcher.options)}
        payload |= {name: f.to_dict() for name, f in figures.items()}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(render(figures, header))


@eval_group.command("reqa")
@click.argument("pool", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_common
@click.pass_obj
def reqa(
    ctx: Wiring,
    pool: Path,
    work: Path,
    limit: int | None,
    as_json: bool,
    rebuild: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
) -> None:
    """ReQA: every question of POOL (a folder like ../shared/data/reqa-squad-dev) against its sentences.

    The pool is indexed as given (its own sentences, no re-splitting); each question is asked through
    the bot's search; a hit is a returned sentence among the gold ids (identical text included).
    """
    from .reqa import load_pool
    from .runner import spread, store_ids
    from .workspace import open_index

    data, questions = load_pool(pool)
    index = open_index(
        ctx,
        work,
        f"reqa-{pool.name}",
        data.articles,
        splitter=data.splitter,
        rebuild=rebuild,
    )
    try:
        to_pool = store_ids(index.library, data.ids)
        from_pool: dict[int, list[int]] = {}
        for sid, pid in to_pool.items():
            from_pool.setdefault(pid, []).append(sid)
        asked = spread(questions, limit)
        gold = {q.qid: {s for pid in q.gold for s in from_pool.get(pid, [])} for q in asked}
        _ask_and_report(
            ctx,
            f"reqa {pool}",
            index,
            asked,
            gold,
            set(data.docs[:TUNING_ARTICLES]),
            overrides,
            as_json,
            plot,
        )
    finally:
        index.close()


@eval_group.command("squad")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_common
@click.pass_obj
def squad(
    ctx: Wiring,
    path: Path,
    work: Path,
    limit: int | None,
    as_json: bool,
    rebuild: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
) -> None:
    """SQuAD: paragraphs of PATH (e.g. ../shared/data/squad/dev-v1.1.json) as articles, our own splitter.

    A hit is a returned sentence that contains an answer span whole, so the splitter is measured too.
    """
    from .runner import spread
    from .squad import holds_answer, load_squad
    from .workspace import open_index

    data = load_squad(path)
    index = open_index(
        ctx,
        work,
        f"squad-{path.stem}",
        data.articles,
        rebuild=rebuild,
    )
    try:
        asked = spread(data.questions, limit)
        sentences = {}
        for aid in {q.article_id for q in asked}:
            stored = index.find(aid)
            sentences[aid] = index.library.store.article_sentences(stored.rowid) if stored else []
        gold = {
            q.qid: {s.id for s in sentences[q.article_id] if holds_answer(s.start, s.end, q.answers)}
            for q in asked
        }
        _ask_and_report(
            ctx,
            f"squad {path}",
            index,
            asked,
            gold,
            set(data.docs[:TUNING_ARTICLES]),
            overrides,
            as_json,
            plot,
        )
    finally:
        index.close()


@eval_group.command("followups")
@click.argument("dialogues", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("articles", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-k", type=int, default=5, show_default=True, help="Hit when the answer is in the top k.")
@_work_option
@_set_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
@click.option("--rebuild", is_flag=True, help="Index again from scratch (vectors stay cached).")
@_plot_option
@click.pass_obj
def followups(
    ctx: Wiring,
    dialogues: Path,
    articles: tuple[Path, ...],
    k: int,
    work: Path,
    overrides: tuple[str, ...],
    as_json: bool,
    rebuild: bool,
    plot: Path | None,
) -> None:
    """Follow-ups: hit@1 and hit@k of each DIALOGUES second turn, with and without the first turn as context.

    DIALOGUES is e.g. tests/data/followups.jsonl or tests/data/followups-hard.jsonl (figures per kind of
    follow-up when its lines give one). ARTICLES are the files or folders the dialogues refer to, e.g.
    seeds/ and ../shared/data/bbc-news/articles.jsonl (the set names articles by id only).
    """
    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.text.article import Article

    from .followups import by_kind, evaluate, load_dialogues, render_table
    from .workspace import open_index, slug

    dialogues_list = load_dialogues(dialogues)
    items = [a for a in iter_articles([str(p) for p in articles]) if isinstance(a, Article)]
    name = "followups-" + slug("+".join(p.name for p in articles))

    index = open_index(ctx, work, name, items, rebuild=rebuild)
    try:
        searcher = searcher_for(ctx, index, overrides)
        outcomes = evaluate(QuestionAnswerer(searcher, k=k), dialogues_list, k=k)
    finally:
        index.close()
    rows = by_kind(outcomes, k)
    header = _header(ctx, f"followups {dialogues}", searcher)
    chart = partial(chart_data.followups_chart, rows, _chart_title(ctx, f"followups {dialogues}"))
    if as_json:
        payload = {"header": header} | rows["all"].to_dict()
        payload["by_kind"] = {kind: f.to_dict() for kind, f in rows.items() if kind != "all"}
        payload["each"] = [dataclasses.asdict(o) for o in outcomes]
        click.echo(json.dumps(payload, indent=2))
        _plot(plot, chart)
        return
    click.echo(header + "\n")
    click.echo("| dialogue | with context | alone | follow-up resolved to |\n|---|---|---|---|")
    for o in outcomes:
        marks = [_mark(r) for r in (o.rank_with_context, o.rank_alone)]
        click.echo(f"| {o.id} | {marks[0]} | {marks[1]} | {o.query} |")
    click.echo(
        f"\nSecond turns of {rows['all'].dialogues} dialogues: a hit is the answer sentence (or its identical"
        f" copy) among the first 1 or {k} passages; an abstention is a miss.\n"
    )
    click.echo(render_table(rows))
    _plot(plot, chart)


def _mark(rank: int | None) -> str:
    """A follow-up's result in the per-dialogue table: the answer's rank ("rank 3") or "miss"."""
    return f"rank {rank}" if rank is not None else "miss"


@eval_group.command("paraphrases")
@click.argument("questions", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("articles", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-k", type=int, default=5, show_default=True, help="Hit when the answer is in the top k.")
@_common
@click.pass_obj
def paraphrases(
    ctx: Wiring,
    questions: Path,
    articles: tuple[Path, ...],
    k: int,
    work: Path,
    limit: int | None,
    as_json: bool,
    rebuild: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
) -> None:
    """Paraphrases: QUESTIONS in people's own words, each alone and all in one chat, in file order.

    ARTICLES are the files or folders the set names articles from, e.g.
    ../shared/data/bbc-news/articles.jsonl. Reports hit@1, hit@k of the answer sentence, article@k,
    the share abstained and how many questions the chat rewrote as follow-ups.
    """
    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.text.article import Article

    from .paraphrases import SetError, changes, evaluate, figures, load_paraphrases, render, resolve_gold
    from .runner import spread
    from .workspace import open_index, slug

    try:
        asked = spread(load_paraphrases(questions), limit)
    except SetError as e:
        raise click.ClickException(str(e)) from None
    items = [a for a in iter_articles([str(p) for p in articles]) if isinstance(a, Article)]
    name = "paraphrases-" + slug("+".join(p.name for p in articles))
    index = open_index(ctx, work, name, items, rebuild=rebuild)
    try:
        try:
            gold = resolve_gold(index.library, asked)
        except SetError as e:
            raise click.ClickException(str(e)) from None
        searcher = searcher_for(ctx, index, overrides)
        outcomes = evaluate(QuestionAnswerer(searcher, k=k), asked, gold, k=k)
    finally:
        index.close()
    results = {mode: figures(o, k) for mode, o in outcomes.items()}
    header = _header(ctx, f"paraphrases {questions}", searcher)
    chart = partial(chart_data.paraphrases_chart, results, _chart_title(ctx, f"paraphrases {questions}"))
    if as_json:
        payload: dict[str, Any] = {"header": header, "options": dataclasses.asdict(searcher.options)}
        payload |= {mode: f.to_dict() for mode, f in results.items()}
        payload["each"] = {mode: [dataclasses.asdict(x) for x in o] for mode, o in outcomes.items()}
        click.echo(json.dumps(payload, indent=2))
        _plot(plot, chart)
        return
    click.echo(render(results, header))
    lines = changes(asked, outcomes, k)
    if lines:
        click.echo("\nRewritten in the chat, or a different result in the two modes:\n" + "\n".join(lines))
    _plot(plot, chart)


@eval_group.command("unanswerable")
@click.argument("questions", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("articles", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-k", type=int, default=5, show_default=True, help="Passages asked for per question.")
@_common
@click.pass_obj
def unanswerable(
    ctx: Wiring,
    questions: Path,
    articles: tuple[Path, ...],
    k: int,
    work: Path,
    limit: int | None,
    as_json: bool,
    rebuild: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
) -> None:
    """Unanswerable: QUESTIONS that no article answers, each asked alone; how often the bot abstains.

    QUESTIONS is e.g. tests/data/unanswerable.jsonl; ARTICLES the files or folders of the collection,
    e.g. ../shared/data/bbc-news/articles.jsonl (indexed as for `paraphrases`, so the index is shared).
    Reports the share abstained at the current threshold, per kind ("near": the subject is covered, the
    fact is not; "off": the subject is absent) and over all, and at a few other thresholds from each
    ranking's confidence.
    """
    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.text.article import Article

    from .paraphrases import SetError
    from .runner import spread
    from .unanswerable import THRESHOLDS, answered_lines, by_kind, evaluate, load_unanswerable, render
    from .workspace import open_index, slug

    try:
        asked = spread(load_unanswerable(questions), limit)
    except SetError as e:
        raise click.ClickException(str(e)) from None
    items = [a for a in iter_articles([str(p) for p in articles]) if isinstance(a, Article)]
    name = "paraphrases-" + slug("+".join(p.name for p in articles))  # the paraphrases command's index
    index = open_index(ctx, work, name, items, rebuild=rebuild)
    try:
        searcher = searcher_for(ctx, index, overrides)
        outcomes = evaluate(QuestionAnswerer(searcher, k=k), asked, k=k)
    finally:
        index.close()
    current = searcher.options.min_confidence
    rows = by_kind(outcomes, sorted({*THRESHOLDS, current}))
    header = _header(ctx, f"unanswerable {questions}", searcher)
    chart = partial(
        chart_data.unanswerable_chart, rows, current, _chart_title(ctx, f"unanswerable {questions}")
    )
    if as_json:
        payload: dict[str, Any] = {
            "header": header,
            "options": dataclasses.asdict(searcher.options),
            "current_min_confidence": current,
        }
        payload |= {kind: f.to_dict() for kind, f in rows.items()}
        payload["each"] = [dataclasses.asdict(o) for o in outcomes]
        click.echo(json.dumps(payload, indent=2))
        _plot(plot, chart)
        return
    click.echo(render(rows, current, header))
    lines = answered_lines(asked, outcomes)
    if lines:
        click.echo("\nAnswered (should have abstained):\n" + "\n".join(lines))
    _plot(plot, chart)


@eval_group.command("abstain")
@click.argument("pool", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--limit", type=int, default=2000, show_default=True, help="Questions per half, evenly spread.")
@click.option("--answer-share", type=float, default=0.95, show_default=True, help="Answerable to answer.")
@click.option(
    "--tune-questions",
    type=click.Choice(["all", "untrained"]),
    default="all",
    show_default=True,
    help="The tuning half's questions the threshold is chosen on: all, or only those of the articles "
    "`newsqa model train*` holds out (every tenth), for a model trained on the rest.",
)
@_work_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
@_set_option
@_plot_option
@click.pass_obj
def abstain(
    ctx: Wiring,
    pool: Path,
    limit: int,
    answer_share: float,
    tune_questions: str,
    work: Path,
    as_json: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
) -> None:
    """Abstaining: POOL's questions with their article indexed (answer) and without it (abstain).

    The pool's articles are indexed in two halves (the first 24 in file order, the tuning half, and the
    rest). A question is asked of its own half (answerable) and of the other (unanswerable). The
    threshold is chosen on the tuning half and checked on the other. A model trained on the tuning half
    (newsqa's own index model) is surer of the questions it read than of new ones, so its threshold is
    chosen with `--tune-questions untrained`.
    """
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.training.trainer import untrained_docs

    from .abstain import choose_threshold, curve, point
    from .reqa import load_pool
    from .runner import never_abstaining, spread
    from .workspace import open_index

    data, questions = load_pool(pool)
    halves = {"tune": data.docs[:TUNING_ARTICLES], "other": data.docs[TUNING_ARTICLES:]}
    confidences: dict[str, dict[str, list[float]]] = {}
    answerers: dict[str, QuestionAnswerer] = {}
    indexes = []
    try:
        for half, docs in halves.items():
            wanted = set(docs)
            index = open_index(
                ctx,
                work,
                f"abstain-{pool.name}-{half}",
                [a for a in data.articles if a.id in wanted],
                splitter=data.splitter,
                in_store=False,
            )
            indexes.append(index)
            answerers[half] = never_abstaining(searcher_for(ctx, index, overrides))
        for half, docs in halves.items():
            wanted = set(docs)
            if half == "tune" and tune_questions == "untrained":
                wanted = set(untrained_docs(docs))
            asked = spread([q for q in questions if q.doc in wanted], limit)
            other = "other" if half == "tune" else "tune"
            confidences[half] = {
                "answerable": [answerers[half].rank(q.question).confidence for q in asked],
                "unanswerable": [answerers[other].rank(q.question).confidence for q in asked],
            }
    finally:
        for index in indexes:
            index.close()
    current = ctx.search_options().min_confidence
    chosen = choose_threshold(confidences["tune"]["answerable"], answer_share=answer_share)
    thresholds = sorted({round(0.05 * i, 2) for i in range(21)} | {round(chosen, 3), current})
    result: dict[str, Any] = {"chosen_on_tune": chosen, "current_min_confidence": current}
    for half, c in confidences.items():
        result[half] = {
            "questions": len(c["answerable"]),
            "at_chosen": dataclasses.asdict(point(chosen, c["answerable"], c["unanswerable"])),
            "at_current": dataclasses.asdict(point(current, c["answerable"], c["unanswerable"])),
            "curve": [dataclasses.asdict(p) for p in curve(c["answerable"], c["unanswerable"], thresholds)],
        }
    chart = partial(chart_data.abstain_chart, result, _chart_title(ctx, f"abstain {pool}"))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        _plot(plot, chart)
        return
    click.echo(f"newsqa dev eval abstain {pool}: model {ctx.model_name()}\n")
    click.echo("| threshold | tune: answered | tune: abstained | other: answered | other: abstained |")
    click.echo("|---|---|---|---|---|")
    for t, a, b in zip(thresholds, result["tune"]["curve"], result["other"]["curve"], strict=True):
        mark = " (chosen)" if t == round(chosen, 3) else " (current)" if t == current else ""
        click.echo(
            f"| {t:.3f}{mark} | {a['answered']:.3f} | {a['abstained']:.3f} | {b['answered']:.3f} | "
            f"{b['abstained']:.3f} |"
        )
    click.echo(
        f"\nchosen on the tuning half to answer {answer_share:.0%} of the answerable: {chosen:.3f}"
        f" (current default {current})"
    )
    _plot(plot, chart)


@eval_group.command("realtimeqa")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_common
@click.option(
    "--time",
    "time_mode",
    type=click.Choice(["both", "on", "off"]),
    default="both",
    show_default=True,
    help="Time handling: as of each question's date (on), ignoring dates (off), or both side by side.",
)
@click.option("-k", type=int, default=5, show_default=True, help="Passages quoted per question.")
@click.pass_obj
def realtimeqa(
    ctx: Wiring,
    folder: Path,
    work: Path,
    limit: int | None,
    as_json: bool,
    rebuild: bool,
    overrides: tuple[str, ...],
    plot: Path | None,
    time_mode: str,
    k: int,
) -> None:
    """Dated news questions: FOLDER's articles indexed, each question asked as of its date.

    FOLDER is e.g. ../shared/data/realtimeqa-2023q1 (questions.jsonl, articles.jsonl; see its SOURCE.md).
    Reports answer@1 and @5 in the quoted sentences and excerpts, quotes dated after their question
    (must be 0 with time on), by split: the first 7 weeks (tune) and the rest (other).
    """
    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.text.article import Article

    from .realtimeqa import evaluate, load_questions, render, split, tuning_weeks
    from .runner import spread
    from .workspace import open_index, slug

    questions = load_questions(folder)
    items = [a for a in iter_articles([str(folder / "articles.jsonl")]) if isinstance(a, Article)]
    index = open_index(
        ctx,
        work,
        "realtimeqa-" + slug(folder.name),
        items,
        rebuild=rebuild,
    )
    try:
        searcher = searcher_for(ctx, index, overrides)
        qa = QuestionAnswerer(searcher, k=k)
        asked = spread(questions, limit)
        tuning = tuning_weeks(questions)
        modes = ["on", "off"] if time_mode == "both" else [time_mode]
        rows = {}
        for mode in modes:
            if mode == "on":
                outcomes = evaluate(lambda q: qa.ask(q.question, k=k, as_of=q.date), asked)
            else:
                outcomes = evaluate(lambda q: qa.ask(q.question, k=k, as_of=None), asked)
            rows[mode] = split(outcomes, tuning)
    finally:
        index.close()
    header = _header(ctx, f"realtimeqa {folder}", searcher)
    if as_json:
        payload = {"header": header, "options": dataclasses.asdict(searcher.options)}
        payload |= {mode: {name: f.to_dict() for name, f in figs.items()} for mode, figs in rows.items()}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(render(rows, header))
    _plot(plot, lambda: chart_data.realtimeqa_chart(rows, _chart_title(ctx, f"realtimeqa {folder}")))
