"""The `newsqa` command. Heavy libraries (torch, faiss, telegram) are imported inside commands only."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from newsqa import exits
from newsqa.benchmark.command import bench
from newsqa.bot.command import serve
from newsqa.charts.output import plot_option
from newsqa.durations import DEFAULT_EVERY, parse_every
from newsqa.evaluation.command import eval_group
from newsqa.hostflag import allow_host_option
from newsqa.index.models.answer_model import DEFAULT_NAME as ANSWER_MODEL_NAME
from newsqa.index.models.embedder import DEFAULT_MODEL
from newsqa.index.models.index_model import SHIPPED as SHIPPED_INDEX_MODEL
from newsqa.index.models.modelparts import DEFAULT_MODELS_DIR, InstallError
from newsqa.index.models.question_encoder import SHIPPED as SHIPPED_QUESTION_MODEL
from newsqa.index.web.netguard import AllowList
from newsqa.settings import DEFAULT_DATA_DIR, Settings
from newsqa.training.config import AnswerTrainConfig, IndexTrainConfig, TrainConfig
from newsqa.wiring import Wiring

if TYPE_CHECKING:
    from newsqa.frontdoor import Newsqa
    from newsqa.loading import ModelLoad

log = logging.getLogger("newsqa")


class NewsqaGroup(click.Group):
    """Every command's error path: an index problem, a damaged file or a full disk is one line, exit 1.

    Its options may also follow the subcommand (newsqa/globalopts.py).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from newsqa.globalopts import hoist

        return super().parse_args(ctx, hoist(self, ctx, args))

    def invoke(self, ctx: click.Context) -> Any:
        import sqlite3

        from newsqa.index.storage.damage import disk_problem, storage_problem
        from newsqa.index.storage.datadir import IndexProblem

        try:
            return super().invoke(ctx)
        except (IndexProblem, InstallError) as exc:  # InstallError: a model not installed or not loadable
            raise click.ClickException(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(str(storage_problem(exc, _data_dir(ctx)))) from None
        except OSError as exc:
            problem = disk_problem(exc, _data_dir(ctx))
            if problem is None:
                raise
            raise click.ClickException(str(problem)) from None
        except Exception as exc:
            from newsqa.index.storage.pgconn import SchemaNotOwned

            if isinstance(exc, SchemaNotOwned):
                raise click.ClickException(str(exc)) from None
            if not type(exc).__module__.startswith("psycopg"):
                raise
            from newsqa.index.storage.pgconn import scrubbed

            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            store = ctx.obj.settings.store if isinstance(ctx.obj, Wiring) else None
            raise click.ClickException(f"PostgreSQL: {scrubbed(first, store)}") from None


def _data_dir(ctx: click.Context) -> Path:
    return ctx.obj.settings.data_dir if isinstance(ctx.obj, Wiring) else Path(".")


@click.group(
    cls=NewsqaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="NEWSQA_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Where the index lives [env NEWSQA_DATA_DIR].",
)
@click.option(
    "--store",
    envvar="NEWSQA_STORE",
    default=None,
    metavar="postgresql://USER@HOST/DB",
    help="Keep the index and the bot's state in this PostgreSQL database instead of --data-dir, shared "
    "by every process that names it (docs/deploy.md) [env NEWSQA_STORE].",
)
@click.option(
    "--model",
    envvar="NEWSQA_MODEL",
    default=None,
    help="The model that embeds sentences and questions: all-MiniLM-L6-v2 (packaged); newsqa-minilm-qa,"
    " newsqa's own, trained here from it and shipped with newsqa (docs/model.md); or any"
    " sentence-transformers name or path. An index is rebuilt to change it. Default: the model the index"
    f" was built with; for a new index {DEFAULT_MODEL} [env NEWSQA_MODEL].",
)
@click.option(
    "--rerank-model",
    envvar="NEWSQA_RERANK_MODEL",
    default=None,
    help="A second, stronger model that re-orders each question's first 20 candidates:"
    " nomic-embed-text-v1.5 or all-mpnet-base-v2 after `newsqa model install NAME` (1-3 s a question"
    " on a small CPU; see docs/quality.md) [env NEWSQA_RERANK_MODEL].",
)
@click.option(
    "--question-model",
    envvar="NEWSQA_QUESTION_MODEL",
    default=SHIPPED_QUESTION_MODEL,
    show_default=True,
    help="The model that embeds questions for an index built with all-MiniLM-L6-v2 (the default): newsqa's"
    " own, trained to put a question next to the sentences that answer it (docs/model.md); 'none': the"
    " index model [env NEWSQA_QUESTION_MODEL].",
)
@click.option(
    "--answer-model",
    envvar="NEWSQA_ANSWER_MODEL",
    default="none",
    show_default=True,
    metavar="MANIFEST.json",
    help="A model that reads a question with each of its first candidates and judges whether it answers,"
    " made by `newsqa model train-answer`; off by default: the one trained here lost on every held-out"
    " set (docs/model.md) [env NEWSQA_ANSWER_MODEL].",
)
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="NEWSQA_MODELS_DIR",
    default=DEFAULT_MODELS_DIR,
    show_default=True,
    help="Where `newsqa model install` puts models [env NEWSQA_MODELS_DIR].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    envvar="NEWSQA_BATCH_SIZE",
    help="Sentences the model embeds at a time while indexing; smaller uses less memory"
    " [env NEWSQA_BATCH_SIZE].",
)
@click.option(
    "--min-confidence",
    type=float,
    default=None,
    envvar="NEWSQA_MIN_CONFIDENCE",
    help="Abstain below this similarity (default: the measured threshold).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(package_name="newsqa")
@click.pass_context
def main(
    ctx: click.Context,
    data_dir: Path,
    store: str | None,
    model: str | None,
    rerank_model: str | None,
    question_model: str,
    answer_model: str,
    models_dir: Path,
    batch_size: int,
    min_confidence: float | None,
    verbose: int,
) -> None:
    """newsqa: ask questions of your news articles and get cited sentences back.

    The options below may also be given after the command (`newsqa ask QUESTION --data-dir DIR`).
    """
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry the bot token
    if store is not None:
        from newsqa.index.storage.pgconn import url_problem

        problem = url_problem(store)  # says nothing of the password
        if problem is not None:
            raise click.BadParameter(problem, param_hint="--store")
        if urlsplit(store).scheme not in ("postgresql", "postgres"):
            raise click.BadParameter("takes a postgresql://user@host/database URL", param_hint="--store")
    settings = Settings(
        data_dir=data_dir,
        store=store,
        model=model or DEFAULT_MODEL,
        rerank_model=rerank_model or None,
        question_model=None if question_model.lower() in ("", "none", "off") else question_model,
        answer_model=None if answer_model.lower() in ("", "none", "off") else answer_model,
        models_dir=models_dir,
        batch_size=batch_size,
        min_confidence=min_confidence,
    )
    injected = ctx.obj.get("embedder_factory") if isinstance(ctx.obj, dict) else None
    wiring = Wiring(settings, injected)
    ctx.obj = wiring.keeping_index_model() if model is None else wiring


# ---- model ------------------------------------------------------------------------------------------
@main.group("model")
def model_group() -> None:
    """Models newsqa installs itself (from PyPI parts), for --model or --rerank-model."""


@model_group.command("install")
@click.argument("name", default="nomic-embed-text-v1.5")
@click.pass_obj
def model_install(ctx: Wiring, name: str) -> None:
    """Download NAME's parts from the package index, check their hashes, and unpack it into --models-dir.

    Two are known, both for `--rerank-model` (docs/quality.md says what each gains and costs):
    nomic-embed-text-v1.5, the default and the better (Apache-2.0, 270 MB kept of a 1.1 GB download: it
    ships inside the gpt4all application's parts), and all-mpnet-base-v2 (Apache-2.0, about 420 MB).
    """
    from newsqa.index.models.modelparts import KNOWN, install

    known = KNOWN.get(name)
    size = f"about {known.size_mb} MB to download" if known else "unknown model"
    click.echo(f"installing {name} into {ctx.settings.models_dir} ({size}) ...", err=True)
    try:
        path = install(name, ctx.settings.models_dir)
    except InstallError as e:
        raise click.ClickException(str(e)) from None
    click.echo(str(path))


@model_group.command("list")
@click.pass_obj
def model_list(ctx: Wiring) -> None:
    """The models newsqa can install, and where each is installed."""
    from newsqa.index.models.modelparts import KNOWN, installed_path

    for model in dict.fromkeys(KNOWN.values()):
        try:
            where = str(installed_path(model.name, ctx.settings.models_dir) or "not installed")
        except InstallError:
            where = f"damaged: run `newsqa model install {model.name}`"
        click.echo(f"{model.name}\t{where}\t{model.licence}")


TRAIN_DEFAULTS = TrainConfig()
ANSWER_DEFAULTS = AnswerTrainConfig()
INDEX_DEFAULTS = IndexTrainConfig()

_Decorated = TypeVar("_Decorated", bound=Callable[..., Any])


def _training_run_options(
    defaults: TrainConfig | AnswerTrainConfig | IndexTrainConfig, log: str
) -> Callable[[_Decorated], _Decorated]:
    """The options every `model train*` command takes (data, where things go, the run's length and seed),
    with each model's own defaults; `log` names its log in --work."""
    options = [
        click.option(
            "--reqa",
            "reqa_dir",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            required=True,
            help="A ReQA SQuAD pool (questions.jsonl, sentences.jsonl); only its tuning half is read.",
        ),
        click.option(
            "--realtimeqa",
            "realtimeqa_dir",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            required=True,
            help="RealTime QA training weeks (questions.jsonl, articles.jsonl.gz).",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Where the model goes [default: WORK/model]; index/models/weights replaces the shipped one.",
        ),
        click.option(
            "--work",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("/tmp/newsqa-train"),
            show_default=True,
            help=f"Cached vectors (shared by both models' runs) and {log} (one JSON line per epoch).",
        ),
        click.option(
            "--epochs",
            type=click.IntRange(1, 50),
            default=defaults.epochs,
            show_default=True,
            help="Passes over the training questions; the best on the held-out pools is kept.",
        ),
        click.option(
            "--learning-rate",
            type=float,
            default=defaults.learning_rate,
            show_default=True,
            help="AdamW's peak rate (10% warm-up, then linear decay).",
        ),
        click.option(
            "--max-minutes",
            type=float,
            default=defaults.max_minutes,
            show_default=True,
            help="Stop training past this, keeping the best epoch.",
        ),
        click.option(
            "--news-repeat",
            type=click.IntRange(1, 20),
            default=defaults.news_repeat,
            show_default=True,
            help="Times each RealTime QA question is seen per epoch.",
        ),
        click.option(
            "--seed",
            type=int,
            default=defaults.seed,
            show_default=True,
            help="Shuffling, sampling and weights.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(1, 64),
            default=defaults.threads,
            show_default=True,
            help="torch threads (the machine's cores).",
        ),
    ]

    def decorate(command: _Decorated) -> _Decorated:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@model_group.command("train")
@_training_run_options(TRAIN_DEFAULTS, "train.log")
@click.option(
    "--batch-size",
    "train_batch",
    type=click.IntRange(2, 1024),
    default=TRAIN_DEFAULTS.batch_size,
    show_default=True,
    help="Questions per training step (each scored against every candidate of the batch).",
)
@click.option(
    "--anchor-weight",
    type=float,
    default=TRAIN_DEFAULTS.anchor_weight,
    show_default=True,
    help="Pull toward the index model's question vectors.",
)
@click.option(
    "--teacher",
    default=None,
    metavar="MODEL",
    help="An installed retrieval model (a --rerank-model name) whose ranking of the candidates is learned "
    "too; its vectors are cached in --work.",
)
@click.option(
    "--teacher-weight",
    type=click.FloatRange(0, 100),
    default=TRAIN_DEFAULTS.teacher_weight,
    show_default=True,
    help="The teacher's loss beside the labels' (0 ignores the teacher).",
)
@click.pass_obj
def model_train(
    ctx: Wiring,
    reqa_dir: Path,
    realtimeqa_dir: Path,
    out: Path | None,
    work: Path,
    epochs: int,
    train_batch: int,
    learning_rate: float,
    anchor_weight: float,
    teacher: str | None,
    teacher_weight: float,
    max_minutes: float,
    news_repeat: int,
    seed: int,
    threads: int,
) -> None:
    """Train newsqa's question model from open data on this machine's CPU (docs/model.md).

    Reads the tuning half of ReQA SQuAD dev and RealTime QA's training weeks (never 2023 Q1), mines hard
    negatives with the index model, trains, and writes the epoch best on held-out pools with its sha256.
    Evaluate it with `newsqa --question-model OUT/newsqa-question-minilm.json dev eval ...` before shipping.
    """
    from newsqa.training.command import run_training

    config = TrainConfig(
        epochs=epochs,
        batch_size=train_batch,
        learning_rate=learning_rate,
        anchor_weight=anchor_weight,
        teacher_weight=teacher_weight if teacher else 0.0,
        max_minutes=max_minutes,
        news_repeat=news_repeat,
        seed=seed,
        threads=threads,
    )
    weights = run_training(
        reqa_dir,
        realtimeqa_dir,
        out or work / "model",
        work,
        config,
        name=SHIPPED_QUESTION_MODEL,
        say=lambda line: click.echo(line, err=True),
        teacher=teacher,
        models_dir=ctx.settings.models_dir,
    )
    click.echo(str(weights.with_suffix(".json")))


@model_group.command("train-index")
@_training_run_options(INDEX_DEFAULTS, "index-train.log")
@click.option(
    "--hard",
    type=click.IntRange(0, 15),
    default=INDEX_DEFAULTS.hard,
    show_default=True,
    help="Hard non-answers per question at each step (slower steps as it grows).",
)
@click.option(
    "--followup-share",
    type=click.FloatRange(0, 1),
    default=INDEX_DEFAULTS.followup_share,
    show_default=True,
    help="Share of each step's questions asked as a resolved follow-up after another of their pool.",
)
@click.pass_obj
def model_train_index(
    ctx: Wiring,
    reqa_dir: Path,
    realtimeqa_dir: Path,
    out: Path | None,
    work: Path,
    epochs: int,
    learning_rate: float,
    hard: int,
    followup_share: float,
    news_repeat: int,
    max_minutes: float,
    seed: int,
    threads: int,
) -> None:
    """Train newsqa's index model from open data on this machine's CPU (docs/model.md).

    The same data and mined hard negatives as `model train`, but both sides learn: the sentences the
    index holds and the questions. Writes the epoch best on held-out pools with its sha256; its manifest
    names all-MiniLM-L6-v2 as the abstain judge, as the shipped model's does (check the curve with
    `newsqa --model OUT/newsqa-minilm-qa.json dev eval abstain POOL`). Evaluate with `newsqa --model
    OUT/newsqa-minilm-qa.json dev eval ...` (each evaluation index is built with it).
    """
    from newsqa.training.command import run_index_training

    config = IndexTrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        hard=hard,
        followup_share=followup_share,
        news_repeat=news_repeat,
        max_minutes=max_minutes,
        seed=seed,
        threads=threads,
    )
    weights = run_index_training(
        reqa_dir,
        realtimeqa_dir,
        out or work / "model",
        work,
        config,
        name=SHIPPED_INDEX_MODEL,
        say=lambda line: click.echo(line, err=True),
    )
    click.echo(str(weights.with_suffix(".json")))


@model_group.command("train-answer")
@_training_run_options(ANSWER_DEFAULTS, "answer-train.log")
@click.option(
    "--layers",
    type=click.IntRange(1, 6),
    default=ANSWER_DEFAULTS.layers,
    show_default=True,
    help="all-MiniLM-L6-v2's first layers kept (answer time grows with them).",
)
@click.option(
    "--squad-per-epoch",
    type=click.IntRange(0, 100_000),
    default=ANSWER_DEFAULTS.squad_per_epoch,
    show_default=True,
    help="ReQA tuning-half questions drawn afresh each epoch.",
)
@click.pass_obj
def model_train_answer(
    ctx: Wiring,
    reqa_dir: Path,
    realtimeqa_dir: Path,
    out: Path | None,
    work: Path,
    layers: int,
    epochs: int,
    learning_rate: float,
    squad_per_epoch: int,
    news_repeat: int,
    max_minutes: float,
    seed: int,
    threads: int,
) -> None:
    """Train newsqa's answer model (a cross-encoder) from open data on this machine's CPU (docs/model.md).

    The same data and mined hard negatives as `model train`; the model reads a question and a candidate
    sentence together and says how likely the sentence answers it. Writes the epoch best on held-out
    pools with its sha256. Evaluate it with
    `newsqa --answer-model OUT/newsqa-answer-minilm.json dev eval ...`.
    """
    from newsqa.training.command import run_answer_training

    config = AnswerTrainConfig(
        layers=layers,
        epochs=epochs,
        learning_rate=learning_rate,
        squad_per_epoch=squad_per_epoch,
        news_repeat=news_repeat,
        max_minutes=max_minutes,
        seed=seed,
        threads=threads,
    )
    weights = run_answer_training(
        reqa_dir,
        realtimeqa_dir,
        out or work / "model",
        work,
        config,
        name=ANSWER_MODEL_NAME,
        say=lambda line: click.echo(line, err=True),
    )
    click.echo(str(weights.with_suffix(".json")))


# ---- index ------------------------------------------------------------------------------------------
@main.group("index")
def index_group() -> None:
    """Build and maintain the index of articles."""


def _ingest(
    ctx: Wiring,
    paths: list[str],
    *,
    quiet: bool = False,
    compressed: bool | None = None,
    follow_links: bool = False,
) -> int:
    """Index `paths`; returns how many inputs were skipped (each already reported in one line)."""
    from tqdm import tqdm

    from newsqa.frontdoor import Newsqa
    from newsqa.terminal import terminal_safe

    ctx, load = _loading(ctx, show=not quiet and _on_terminal())
    # counts sentences embedded, per embedder call: a long article moves the bar while it is embedded
    with (
        Newsqa(ctx, compressed=compressed) as n,
        n.writing(),
        tqdm(unit=" sentences", disable=quiet, desc="indexing") as bar,
    ):
        _bar_around(load, bar)
        if n.library.store.dialect == "postgresql":
            from newsqa.bot.chatstore import ChatStore

            # the bot's tables too: a new database is whole before any replica starts (docs/deploy.md
            # copies the follows of the old one into it then)
            ChatStore(n.library.store)
        articles = 0

        def articles_done(count: int) -> None:
            nonlocal articles
            articles += count
            bar.set_postfix_str(f"{articles} articles")

        shown: set[int] = set()
        report = n.add(
            paths,
            follow_links=follow_links,
            on_problem=_shown_above(bar, shown),
            progress=articles_done,
            on_embedded=bar.update,
        )
        _report_rest(report.skipped, shown, bar)
    click.echo(terminal_safe(report.summary()), err=quiet)  # quiet: stdout belongs to the answer that follows
    return len(report.skipped)


def _loading(ctx: Wiring, *, show: bool, start: bool = False) -> tuple[Wiring, ModelLoad | None]:
    """`ctx` making its embedder through a ModelLoad (newsqa/loading.py): the spinner while the model
    loads (`show`: on a terminal, not for --json), in the background from now on with `start`. None: the
    embedder was already wrapped by the command that called this one (`ask` indexing the seeds)."""
    from newsqa.loading import ModelLoad

    if isinstance(getattr(ctx.injected_embedder, "__self__", None), ModelLoad):
        return ctx, None
    load = ModelLoad(ctx.embedder_factory(), ctx.model_name(), show=show)
    if start:
        load.start()
    return dataclasses.replace(ctx, injected_embedder=load.pending), load


def _on_terminal() -> bool:
    """Whether a person watches stderr: the spinner is for them, never for a log file or a pipe."""
    return sys.stderr.isatty()


def _bar_around(load: ModelLoad | None, bar: Any) -> None:
    """The progress bar steps aside while the model loads and starts afresh after it, so its rate counts
    the work, not the load."""

    def restart() -> None:
        bar.reset()
        bar.refresh()

    if load is not None:
        load.before, load.after = bar.clear, restart


def _report_rest(skipped: list[Any], shown: set[int], bar: Any) -> None:
    """The problems found while indexing (an article with no text), printed as the loaders' ones are."""
    from newsqa.terminal import terminal_safe

    for problem in skipped:
        if id(problem) not in shown:
            bar.write(f"skipped {terminal_safe(str(problem))}", file=sys.stderr)


def _skip_bad_option(f: Any) -> Any:
    return click.option(
        "--skip-bad",
        is_flag=True,
        help=f"Exit 0 even when some input was skipped (default: exit {exits.SKIPPED}, for scripts).",
    )(f)


def _exit_for(skipped: int, skip_bad: bool) -> None:
    """Exit non-zero when something asked for was not indexed, unless the user said that is fine."""
    if skipped and not skip_bad:
        sys.exit(exits.SKIPPED)


def _follow_links_option(f: Any) -> Any:
    return click.option(
        "--follow-links",
        is_flag=True,
        help="Also index files that links in a folder lead to outside it (by default they are skipped).",
    )(f)


@index_group.command("build")
@click.argument("paths", nargs=-1)
@click.option("--rebuild", is_flag=True, help="Start from an empty index (e.g. after changing --model).")
@_follow_links_option
@click.option(
    "--compressed/--float32",
    default=None,
    help="Store the FAISS vectors as float16 / 8-bit codes (2-4x smaller, see docs/bench.md), or back as "
    "float32. Once chosen it sticks; default: keep what the index has.",
)
@_skip_bad_option
@click.pass_obj
def index_build(
    ctx: Wiring,
    paths: tuple[str, ...],
    rebuild: bool,
    follow_links: bool,
    compressed: bool | None,
    skip_bad: bool,
) -> None:
    """Index PATHS (files or folders; default: the seed articles). Unchanged articles are skipped.

    With --rebuild the new index is built beside the old one, which keeps answering until it is swapped in
    at once; conversations, follows and feed state are kept.
    """
    sources = list(paths) or [str(ctx.settings.seeds)]
    if rebuild:
        skipped = _rebuild(ctx, sources, compressed=compressed, follow_links=follow_links)
    else:
        skipped = _ingest(ctx, sources, compressed=compressed, follow_links=follow_links)
    _exit_for(skipped, skip_bad)


def _rebuild(ctx: Wiring, paths: list[str], *, compressed: bool | None, follow_links: bool = False) -> int:
    from tqdm import tqdm

    from newsqa.frontdoor import REBUILD_NEEDS_DATA_DIR, Newsqa
    from newsqa.terminal import terminal_safe

    if ctx.settings.store is not None:  # said before any model loads
        raise click.ClickException(REBUILD_NEEDS_DATA_DIR)
    ctx, load = _loading(ctx, show=_on_terminal())
    with Newsqa(ctx, compressed=compressed) as n, tqdm(unit=" articles", desc="rebuilding") as bar:
        _bar_around(load, bar)
        shown: set[int] = set()
        report = n.rebuild(
            paths,
            follow_links=follow_links,
            on_problem=_shown_above(bar, shown),
            progress=bar.update,
            notice=lambda line: bar.write(line, file=sys.stderr),
        )
        _report_rest(report.skipped, shown, bar)
    click.echo(terminal_safe(report.summary()))
    return len(report.skipped)


def _shown_above(bar: Any, shown: set[int]) -> Callable[[Any], None]:
    """Each problem written above the progress bar as it is met.

    tqdm's `write` clears the bar's line first and redraws it after, so a problem is never overwritten by
    the bar's carriage-return redraw. `shown` collects the problems printed.
    """
    from newsqa.terminal import terminal_safe

    def show(problem: Any) -> None:
        bar.write(f"skipped {terminal_safe(str(problem))}", file=sys.stderr)
        shown.add(id(problem))

    return show


@index_group.command("add")
@click.argument("paths", nargs=-1, required=True)
@allow_host_option
@_skip_bad_option
@_follow_links_option
@click.pass_obj
def index_add(
    ctx: Wiring, paths: tuple[str, ...], allow_hosts: AllowList, skip_bad: bool, follow_links: bool
) -> None:
    """Add or update articles from PATHS (files, folders or https:// pages) without rebuilding.

    Exits 3 when any of them could not be indexed (each is named on stderr), unless --skip-bad.
    """
    _exit_for(_ingest(ctx.allowing(allow_hosts), list(paths), follow_links=follow_links), skip_bad)


@index_group.command("remove")
@click.argument("ids", nargs=-1, required=True)
@click.pass_obj
def index_remove(ctx: Wiring, ids: tuple[str, ...]) -> None:
    """Remove articles by id (see `newsqa index stats --list`)."""
    with _open_existing(ctx) as n:
        removal = n.remove(ids)
    for m in removal.missing:
        click.echo(f"not found: {m}", err=True)
    click.echo(f"{len(removal.removed)} removed")
    if removal.missing and not removal.removed:
        sys.exit(1)


def _open_existing(ctx: Wiring) -> Newsqa:
    """The index, opened at once (a damaged one says so now, in one line); none built: one line too."""
    from newsqa.frontdoor import Newsqa

    n = Newsqa(ctx, create=False)
    _ = n.library
    return n


@index_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (for scripts), the same facts.")
@click.option("--list", "list_articles", is_flag=True, help="Also list the articles (id and headline).")
@click.pass_obj
def index_stats(ctx: Wiring, as_json: bool, list_articles: bool) -> None:
    """What the index holds: articles, sentences, newest date and size first, then the internals (model,
    snapshot). Counts come from the database, the source of truth."""
    from newsqa.frontdoor import Newsqa
    from newsqa.terminal import terminal_safe

    facts = Newsqa(ctx).stats(list_articles=list_articles)  # no index, no manifest: one line (NewsqaGroup)
    if as_json:
        click.echo(json.dumps(facts.to_dict(), indent=2))
        return
    shown = {
        "articles": facts.articles,
        "sentences": facts.sentences,
        "newest": facts.newest or "no dated article",
        "size": _human_size(facts.size),
        **facts.where,
        **facts.internals,
    }
    for key, value in shown.items():
        click.echo(f"{key:>16}: {value}")
    for aid, title, day in facts.listed or []:
        click.echo(terminal_safe(f"{aid}\t{day or 'undated'}\t{title}"))


def _human_size(n: int) -> str:
    """Bytes as people read them: 377 kB, 1.2 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


@index_group.command("repair")
@click.pass_obj
def index_repair(ctx: Wiring) -> None:
    """Check newsqa.sqlite and rewrite the FAISS snapshot and manifest from it (nothing is re-embedded)."""
    with _open_existing(ctx) as n:
        repair = n.repair()
    for line in repair.mended:
        click.echo(f"mended: {line}")
    click.echo(f"repaired from newsqa.sqlite: {repair.articles} articles, {repair.sentences} sentences")


@index_group.command("watch")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    envvar="NEWSQA_FEEDS",
    help="RSS/Atom feed URL (repeatable) [env NEWSQA_FEEDS, space-separated].",
)
@click.option(
    "--every",
    default=DEFAULT_EVERY,
    show_default=True,
    help="Time between rounds: 30s, 10m, 1h (the same default as `serve --every`).",
)
@click.option("--once", is_flag=True, help="One round, then exit (for cron).")
@allow_host_option
@_follow_links_option
@click.pass_obj
def index_watch(
    ctx: Wiring,
    folder: Path | None,
    feeds: tuple[str, ...],
    every: str,
    once: bool,
    allow_hosts: AllowList,
    follow_links: bool,
) -> None:
    """Index files as they land in FOLDER and new stories from --feed URLs, until stopped.

    New and changed files are indexed once they stop changing; deleted files are removed. Feed items are
    fetched, their main text extracted, copies of stories already indexed recognised, and marked seen
    only once indexed. A feed or page that fails is reported and retried later; the others go on.
    """
    import asyncio

    from newsqa.frontdoor import Newsqa
    from newsqa.index.storage import outage
    from newsqa.index.storage.outage import first_line, wait_for
    from newsqa.index.storage.pgconn import unavailable
    from newsqa.index.web.fetch import Fetcher

    if folder is None and not feeds:
        raise click.UsageError("give a FOLDER, one or more --feed URLs, or both")
    try:
        pause = parse_every(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    ctx = ctx.allowing(allow_hosts)
    feed_urls = [u for f in feeds for u in f.split()]
    where = str(ctx.home().root)

    def opened() -> Newsqa:
        n = Newsqa(ctx)
        _ = n.library  # the database now: while it is away, wait_for retries
        return n

    n = opened() if once else wait_for(opened, where=where, say=lambda m: click.echo(m, err=True))
    watcher = n.folder_watcher(folder, follow_links=follow_links) if folder else None
    rounds = n.feeds(feed_urls) if feed_urls else None
    what = [str(folder)] if folder else []
    if feed_urls:
        what.append(f"{len(feed_urls)} feed(s)")
    if not once:
        click.echo(f"watching {' and '.join(what)} every {pause:g} s (Ctrl-C to stop)", err=True)

    async def feed_round() -> str:
        assert rounds is not None
        async with Fetcher(ctx.fetch_options()) as fetcher:
            return (await rounds.run(fetcher)).summary()

    def one_round() -> None:
        if watcher is not None:
            with n.writing(lock_timeout=120):
                report = watcher.scan()
            if report:
                click.echo(str(report))
            if report.waiting:
                later = "run again to index them" if once else "the next round takes them"
                click.echo(
                    f"{report.waiting} file(s) changed less than {watcher.settle_seconds:g} s ago, "
                    f"perhaps still being written: left for now ({later})",
                    err=True,
                )
        if rounds is not None and not rounds.ours():
            click.echo("feeds: another process polls them (a bot or watcher on this database)")
        elif rounds is not None:
            click.echo(asyncio.run(feed_round()))

    down = False  # the database was unavailable at the last round: said once, not every round
    try:
        while True:
            try:
                one_round()
                if down:
                    click.echo(f"the database at {where} is back", err=True)
                down = False
            except Exception as exc:
                if once or not unavailable(exc):
                    raise
                if not down:  # files not indexed stay unseen, feed items unmarked: the next round takes them
                    click.echo(
                        f"the database at {where} is unavailable ({first_line(exc)}); retrying", err=True
                    )
                down = True
            if once:
                return
            time.sleep(min(pause, outage.BACKOFF[1]) if down else pause)
    except KeyboardInterrupt:
        pass
    finally:
        if rounds is not None:
            rounds.close()
        n.close()


# ---- asking -----------------------------------------------------------------------------------------
def _ready(ctx: Wiring, *, show: bool) -> Newsqa:
    """The index, built from the seed articles first when there is none yet; the model starts loading
    at once, in the background, behind a spinner when `show` (a person watches, no --json)."""
    home = ctx.home()
    missing = not home.exists()
    if missing:
        click.echo(f"No index in {home.root} yet: indexing the seed articles first.", err=True)
    ctx, _ = _loading(ctx, show=show, start=True)
    if missing:
        _ingest(ctx, [str(ctx.settings.seeds)], quiet=True)
    return _open_existing(ctx)


def _parse_as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    from newsqa.index.search.timerank import as_of_problem

    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2023-03-12") from None
    problem = as_of_problem(day)
    if problem is not None:
        raise click.BadParameter(problem)
    return day


def _as_of_option(f: Any) -> Any:
    return click.option(
        "--as-of",
        callback=_parse_as_of,
        metavar="YYYY-MM-DD",
        help="Answer as if it were this day: nothing published later is quoted [default: today].",
    )(f)


def _print(answer: Any, as_json: bool, text: Callable[..., str]) -> None:
    """One answer on stdout: a JSON line, or `text`'s terminal rendering (bold on a terminal)."""
    from newsqa.terminal import json_line

    click.echo(json_line(answer.to_dict()) if as_json else text(answer, color=sys.stdout.isatty()))


def _require_text(value: str, what: str) -> None:
    """Refuse an empty question at once: there is nothing to search, so no model is worth loading."""
    if not value.strip():
        raise click.UsageError(f"the {what} is empty: there is nothing to search for")


def today() -> dt.date:
    """The moment of asking in the terminal: the local calendar day."""
    return dt.date.today()


@main.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages per answer.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (see README for the fields).")
@_as_of_option
@click.pass_obj
def ask(ctx: Wiring, question: str, k: int, as_json: bool, as_of: dt.date | None) -> None:
    """Answer QUESTION with cited sentences from the articles."""
    from newsqa.terminal import format_answer

    _require_text(question, "question")
    with _ready(ctx, show=not as_json and _on_terminal()) as n:
        answer = n.ask(question, k=k, as_of=as_of or today())
    _print(answer, as_json, format_answer)


@main.command()
@click.argument("topic")
@click.option("-n", type=click.IntRange(1, 50), default=10, show_default=True, help="Articles at most.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (the answer format, oldest first).")
@_as_of_option
@plot_option("the timeline (a marker per dated article, counts per day or week)")
@click.pass_obj
def timeline(
    ctx: Wiring, topic: str, n: int, as_json: bool, as_of: dt.date | None, plot: Path | None
) -> None:
    """How a story developed: TOPIC's matching sentences in date order (date, outlet, quote)."""
    from newsqa.terminal import format_timeline

    _require_text(topic, "topic")
    with _ready(ctx, show=not as_json and _on_terminal()) as opened:
        answer = opened.timeline(topic, limit=n, as_of=as_of or today())
    _print(answer, as_json, format_timeline)
    if plot is not None:
        from newsqa.charts.output import save_timeline

        save_timeline(answer, plot)


@main.command()
@click.option("-k", type=click.IntRange(1, 50), default=3, show_default=True, help="Passages per answer.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line (for scripts).")
@_as_of_option
@click.pass_obj
def chat(ctx: Wiring, k: int, as_json: bool, as_of: dt.date | None) -> None:
    """A conversation: follow-up questions ("and in April?") build on earlier ones.

    On a terminal it prompts; otherwise it reads one question a line from standard input.
    """
    from newsqa.terminal import format_answer, json_line

    _tolerate_undecodable_input()
    interactive = sys.stdin.isatty()
    n = _ready(ctx, show=not as_json and _on_terminal())
    conversation = n.conversation()
    if interactive:
        click.echo("Ask about the articles. /reset forgets the conversation; Ctrl-D quits.", err=True)
    follower = n.follow_changes()  # articles added meanwhile by other processes are answered too
    try:
        while True:
            try:
                line = input("? ") if interactive else sys.stdin.readline()
            except EOFError:
                break
            except UnicodeDecodeError:  # a stream we could not reconfigure: this line only
                click.echo("That line was not readable text (not UTF-8); please ask again.", err=True)
                continue
            if not interactive and line == "":
                break
            question = line.strip()
            if not question:
                continue
            if question == "/reset":
                conversation = n.conversation()
                continue
            answer = n.ask(question, conversation=conversation, k=k, as_of=as_of or today())
            conversation = conversation.then(answer.turn)
            if as_json:
                click.echo(json_line(answer.to_dict()))
            else:
                click.echo(format_answer(answer, color=interactive and sys.stdout.isatty()) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        follower.stop()
        n.close()


def _tolerate_undecodable_input() -> None:
    """Read bytes that are not UTF-8 on stdin as U+FFFD: one odd byte must not end a conversation."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        # closed, or not reconfigurable: the UnicodeDecodeError fallback in `chat` still holds
        with contextlib.suppress(ValueError, OSError):
            sys.stdin.reconfigure(errors="replace")


def run() -> None:
    """Entry point that keeps a broken pipe (`newsqa ask ... | head`) quiet."""
    try:
        main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


@main.group("dev")
def dev_group() -> None:
    """Developer tools: measure answers (eval) and speed (bench) on datasets; see docs/quality.md and
    docs/bench.md."""


main.add_command(serve)
dev_group.add_command(eval_group)
dev_group.add_command(bench)
