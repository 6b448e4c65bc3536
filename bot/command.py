"""`newsqa serve`, the Telegram bot. Only click loads here; telegram, torch and faiss load when it runs."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsqa.durations import DEFAULT_EVERY, parse_every
from newsqa.hostflag import allow_host_option
from newsqa.index.web.netguard import AllowList

from .settings import MB, BotSettings, parse_ids

if TYPE_CHECKING:
    from newsqa.frontdoor import Newsqa
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.storage.library import Library
    from newsqa.wiring import Wiring


def _every(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_every(value)  # the same durations as `index watch --every`
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _ids(ctx: click.Context, param: click.Parameter, value: str | None) -> frozenset[int]:
    try:
        return parse_ids(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--token", envvar="TELEGRAM_BOT_TOKEN", help="Bot token from @BotFather [env TELEGRAM_BOT_TOKEN]."
)
@click.option(
    "--base-url",
    envvar="NEWSQA_TELEGRAM_BASE_URL",
    help="A self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot [env NEWSQA_TELEGRAM_BASE_URL].",
)
@click.option(
    "--webhook-url",
    envvar="NEWSQA_WEBHOOK_URL",
    help="Public HTTPS URL Telegram posts updates to; else long polling [env NEWSQA_WEBHOOK_URL].",
)
@click.option(
    "--listen",
    envvar="NEWSQA_WEBHOOK_LISTEN",
    default="127.0.0.1",
    show_default=True,
    help="Webhook mode: address to listen on [env NEWSQA_WEBHOOK_LISTEN].",
)
@click.option(
    "--port",
    envvar="NEWSQA_WEBHOOK_PORT",
    type=click.IntRange(1, 65535),
    default=8443,
    show_default=True,
    help="Webhook mode: port to listen on [env NEWSQA_WEBHOOK_PORT].",
)
@click.option(
    "--webhook-secret",
    envvar="NEWSQA_WEBHOOK_SECRET",
    help="Secret Telegram sends with each update (default: derived from the token, the same in every "
    "replica) "
    "[env NEWSQA_WEBHOOK_SECRET].",
)
@click.option(
    "--admins",
    envvar="NEWSQA_ADMINS",
    callback=_ids,
    help="User ids allowed /add, /remove, /reindex, /stats [env NEWSQA_ADMINS].",
)
@click.option(
    "--allowed",
    envvar="NEWSQA_ALLOWED",
    callback=_ids,
    help="If set, only these user or chat ids may use the bot [env NEWSQA_ALLOWED].",
)
@click.option(
    "--folder",
    "folders",
    multiple=True,
    envvar="NEWSQA_FOLDERS",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder /reindex rescans; repeatable [env NEWSQA_FOLDERS, separated by ':'].",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    envvar="NEWSQA_FEEDS",
    help="RSS/Atom feed to poll while serving; repeatable [env NEWSQA_FEEDS, space-separated].",
)
@click.option(
    "--every",
    envvar="NEWSQA_FEED_EVERY",
    default=DEFAULT_EVERY,
    show_default=True,
    callback=_every,
    help="Time between feed polls: 30s, 10m, 1h [env NEWSQA_FEED_EVERY].",
)
@click.option(
    "-k", type=click.IntRange(1, 10), default=3, show_default=True, help="Passages per answer page."
)
@click.option(
    "--questions-per-minute",
    envvar="NEWSQA_QUESTIONS_PER_MINUTE",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Per user; 0 turns the limit off.",
)
@click.option(
    "--max-upload-mb",
    envvar="NEWSQA_MAX_UPLOAD_MB",
    type=click.FloatRange(0, 20),
    default=5,
    show_default=True,
    help="Largest file /add accepts (Telegram lets bots download 20 MB).",
)
@allow_host_option
@click.option(
    "--chat-backlog",
    envvar="NEWSQA_CHAT_BACKLOG",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Updates one busy chat may have waiting; more are dropped [env NEWSQA_CHAT_BACKLOG].",
)
@click.option("--drop-pending-updates", is_flag=True, help="Ignore what was sent while the bot was down.")
@click.option(
    "--inbox-lease",
    envvar="NEWSQA_INBOX_LEASE",
    type=click.FloatRange(1, 3600),
    default=20.0,
    show_default=True,
    help="Webhook: seconds after which an update a dead process accepted is finished by another "
    "[env NEWSQA_INBOX_LEASE].",
)
@click.option(
    "--compressed/--float32",
    default=None,
    help="This process's FAISS vectors as float16 / 8-bit codes (2-4x less memory, docs/bench.md), or "
    "float32; default: the layout of the index's snapshot (a file, or rows on PostgreSQL).",
)
@click.pass_obj
def serve(
    ctx: Wiring,
    token: str | None,
    base_url: str | None,
    webhook_url: str | None,
    listen: str,
    port: int,
    webhook_secret: str | None,
    admins: frozenset[int],
    allowed: frozenset[int],
    folders: tuple[Path, ...],
    feeds: tuple[str, ...],
    every: float,
    k: int,
    questions_per_minute: int,
    max_upload_mb: float,
    allow_hosts: AllowList,
    chat_backlog: int,
    drop_pending_updates: bool,
    inbox_lease: float,
    compressed: bool | None,
) -> None:
    """Run the Telegram bot: answers questions in chats, with buttons for more, context and sources.

    Long polling by default; --webhook-url for a deployment behind HTTPS. The index is loaded once; when
    it is empty, the --folder folders (or the seed articles) are indexed first. With --feed, the feeds
    are polled --every so often; new stories become answerable and alert the chats following them.
    """
    if not token:
        raise click.UsageError("no bot token: set TELEGRAM_BOT_TOKEN (from @BotFather) or pass --token")
    if webhook_url and not webhook_url.lower().startswith("https://"):
        raise click.BadParameter("Telegram only posts to https:// URLs", param_hint="--webhook-url")
    settings = BotSettings(
        token=token,
        base_url=base_url,
        webhook_url=webhook_url,
        listen=listen,
        port=port,
        webhook_secret=webhook_secret,
        admins=admins,
        allowed=allowed,
        folders=folders,
        feeds=tuple(dict.fromkeys(url for value in feeds for url in value.split())),
        feed_every=every,
        allow_hosts=allow_hosts,
        k=k,
        questions_per_window=questions_per_minute,
        window_seconds=60.0,
        max_upload_bytes=int(max_upload_mb * MB),
        chat_backlog=chat_backlog,
        drop_pending_updates=drop_pending_updates,
        inbox_lease=inbox_lease,
        compressed=compressed,
    )
    _serve(ctx, settings)


def _serve(ctx: Wiring, settings: BotSettings) -> None:
    from telegram.error import InvalidToken, NetworkError

    from newsqa.index.storage.datadir import IndexProblem
    from newsqa.index.storage.outage import wait_for

    from . import redact

    redact.install(settings.token)
    bot_log = logging.getLogger("newsqa.bot")
    if bot_log.getEffectiveLevel() > logging.INFO:
        bot_log.setLevel(logging.INFO)  # start-up and admin actions are worth seeing by default
    try:  # started while the database is away (a reboot, a restart): wait for it, do not exit
        n: Newsqa = wait_for(
            lambda: _open_ready(ctx, settings),
            where=str(ctx.home().root),
            say=lambda m: click.echo(m, err=True),
        )
    except IndexProblem as exc:
        raise click.ClickException(str(exc)) from None
    try:
        click.echo(f"newsqa bot starting ({settings.mode}); Ctrl-C stops it", err=True)
        if settings.allow_hosts:
            click.echo(f"fetching from public addresses and {settings.allow_hosts}", err=True)
        asyncio.run(_until_signalled(settings, n.library, n.answerer))
    except InvalidToken:
        raise click.ClickException("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN") from None
    except NetworkError as exc:
        where = settings.base_url or "api.telegram.org"
        raise click.ClickException(f"cannot reach the Telegram Bot API at {where}: {exc}") from None
    except IndexProblem as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        n.close()


def _open_ready(ctx: Wiring, settings: BotSettings) -> Newsqa:
    """The index opened, indexed first when empty, its vectors loaded: each step needs the database."""
    from newsqa.frontdoor import Newsqa

    n = Newsqa(ctx, k=settings.k, compressed=settings.compressed)
    try:
        _index_if_empty(n, settings, ctx.settings.seeds)
        n.refresh()
    except BaseException:
        n.close()
        raise
    return n


def _index_if_empty(n: Newsqa, settings: BotSettings, seeds: Path) -> None:
    """A fresh data directory gets the configured folders (or the seed articles) before serving."""
    if n.counts()[0]:
        return
    paths = list(settings.folders) or [seeds]
    click.echo(f"The index is empty: indexing {', '.join(map(str, paths))} first.", err=True)
    report = n.add(paths, lock_timeout=settings.lock_timeout)
    click.echo(report.summary(), err=True)


async def _until_signalled(settings: BotSettings, library: Library, answerer: QuestionAnswerer) -> None:
    from .app import run_bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_bot(settings, library, stop=stop, answerer=answerer)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    click.echo("newsqa bot stopped", err=True)
