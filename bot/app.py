"""The running bot: the PTB Application with its handlers, start-up, the error handler, and `run_bot`.

`newsqa serve` and the end-to-end tests start the bot through the same `run_bot`, so what is tested is
what runs. It drives the Application by hand (initialize, post_init, polling or webhook, start ... stop)
instead of `run_polling`, because it must run inside a loop it does not own (pytest's, or serve's with
its own signal handling).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
)

from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.changefollower import ChangeFollower
from newsqa.index.storage.library import Library
from newsqa.index.storage.pgconn import unavailable

from . import redact, routing, texts
from .admin import AdminHandlers
from .alerts import alert_followers
from .backend import Backend
from .callbacks import ButtonHandlers
from .chatqueue import ChatUpdateProcessor
from .feedjob import FeedJob
from .handlers import QuestionHandlers
from .inbox import Inbox, InboxKeeper
from .retry import RetryingRateLimiter
from .services import Services
from .settings import BotSettings
from .topic_commands import FollowHandlers
from .webhook import WebhookServer

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
App = Application[Any, Any, Any, Any, Any, Any]


def quiet_http_loggers() -> None:
    """httpx logs every request URL at INFO, and a Bot API URL contains the token."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_application(settings: BotSettings, services: Services, inbox: Inbox | None = None) -> App:
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.token)
        .rate_limiter(RetryingRateLimiter(retries=settings.retries, backoff=settings.retry_backoff))
        .concurrent_updates(
            ChatUpdateProcessor(
                settings.concurrency,
                settings.chat_backlog,
                on_drop=on_dropped,
                on_done=_marking_done(inbox) if inbox is not None else None,
            )
        )
        .connect_timeout(10.0)
        .read_timeout(20.0)
        .write_timeout(30.0)
        .pool_timeout(10.0)
        .post_init(_announce_commands(settings))
    )
    if not settings.feeds:
        builder = builder.job_queue(None)  # the job queue only runs the feed rounds
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(settings.base_file_url or "")
    app = builder.build()

    questions = QuestionHandlers(services)
    admin = AdminHandlers(services)
    follows = FollowHandlers(services)
    for name, callback in (
        ("start", questions.start),
        ("help", questions.help),
        ("sources", questions.sources),
        ("ask", questions.ask_command),
        ("timeline", questions.timeline),
        ("reset", questions.reset),
        ("follow", follows.follow),
        ("following", follows.following),
        ("unfollow", follows.unfollow),
        ("add", admin.add),
        ("remove", admin.remove),
        ("reindex", admin.reindex),
        ("stats", admin.stats),
    ):
        app.add_handler(CommandHandler(name, callback, filters=routing.NEW))
    # who a message is for is decided here, by filters (routing.py); group chatter matches none of them
    app.add_handler(MessageHandler(routing.UPLOAD, admin.document))
    app.add_handler(MessageHandler(routing.PRIVATE_QUESTION, questions.private_text))
    app.add_handler(MessageHandler(routing.MENTION, questions.mention))
    app.add_handler(MessageHandler(routing.REPLY_TO_BOT, questions.reply))
    app.add_handler(MessageHandler(routing.UNKNOWN_COMMAND, questions.unknown_command))
    app.add_handler(CallbackQueryHandler(ButtonHandlers(services).on_button))
    app.add_error_handler(on_error)
    return app


def _announce_commands(settings: BotSettings) -> Any:
    async def announce(app: App) -> None:
        """Commands in the clients' menu: everyone sees the public ones, each admin also the admin ones."""
        public = [BotCommand(c, d) for c, d in texts.PUBLIC_COMMANDS]
        await app.bot.set_my_commands(public)
        everything = public + [BotCommand(c, d) for c, d in texts.ADMIN_COMMANDS]
        for admin in sorted(settings.admins):
            try:
                await app.bot.set_my_commands(everything, scope=BotCommandScopeChat(admin))
            except (BadRequest, Forbidden) as exc:  # an admin who never opened a chat with the bot
                log.info("admin commands not shown to %s: %s", admin, exc)

    return announce


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with the traceback, tell the user briefly, keep serving."""
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    where = f"update {update.update_id}" if isinstance(update, Update) else "the bot"
    outage = error is not None and unavailable(error)
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("network trouble while handling %s (after retries): %s", where, error)
    elif outage:  # the database is down or restarting: one line, no traceback; it comes back by itself
        log.warning("the database is unavailable while handling %s: %s", where, _first_line(error))
    else:
        log.error("error while handling %s", where, exc_info=error)
    if chat is None or (isinstance(update, Update) and update.callback_query is not None):
        return  # a button tap was already answered with an apology
    try:
        await context.bot.send_message(chat.id, texts.UNAVAILABLE if outage else texts.SORRY)
    except TelegramError as exc:
        log.warning("could not tell chat %s about the error: %s", chat.id, exc)


def _first_line(exc: BaseException | None) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _marking_done(inbox: Inbox) -> Any:
    async def done(update: Update) -> None:
        """Handled: the inbox row is done, no other process takes it over. While the database is away
        there is no row (or it cannot be marked): another process answers it again later, logged once."""
        try:
            await asyncio.to_thread(inbox.done, update.update_id)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.info("update %s not marked done: the database is unavailable", update.update_id)

    return done


async def on_dropped(update: Update) -> None:
    """A busy chat's update beyond its backlog: a button tap still gets its (cheap) answer, else silence."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.BUSY)


def _polling_error(exc: TelegramError) -> None:
    """PTB keeps polling (with backoff) after this; a network blip needs no traceback."""
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        log.warning("polling Telegram failed: %s; retrying", exc)
    else:
        log.error("polling Telegram failed", exc_info=exc)


async def run_bot(
    settings: BotSettings,
    library: Library,
    *,
    stop: asyncio.Event,
    answerer: QuestionAnswerer | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Serve until `stop` is set: load the index, connect, announce commands, poll or take webhooks.

    `answerer` carries the search options (the CLI's --min-confidence); `started` is set once updates flow.
    With `settings.feeds`, a repeating job polls them, indexes new stories and alerts followers.
    The token is masked in every log record while it runs, whoever calls it (not only `newsqa serve`).
    """
    with redact.redacting(settings.token):
        await _serve(settings, library, stop=stop, answerer=answerer, started=started)


async def _serve(
    settings: BotSettings,
    library: Library,
    *,
    stop: asyncio.Event,
    answerer: QuestionAnswerer | None,
    started: asyncio.Event | None,
) -> None:
    quiet_http_loggers()
    answerer = answerer or QuestionAnswerer(Searcher(library), k=settings.k)
    backend = Backend(library, answerer, k=settings.k, lock_timeout=settings.lock_timeout)
    articles, sentences = await asyncio.to_thread(backend.warm_up)
    log.info("index loaded: %d articles, %d sentences", articles, sentences)
    services = Services.create(settings, backend)
    # webhook updates are written down before Telegram hears 200 (inbox.py); long polling needs none
    inbox = Inbox(backend.chats, lease=settings.inbox_lease) if settings.webhook_url else None
    app = build_application(settings, services, inbox)
    feeds: FeedJob | None = None
    webhook: WebhookServer | None = None
    keeper: InboxKeeper | None = None
    # articles other processes add (an ingest worker, another replica's /add) become answerable here
    # while idle, not on the next question: NOTIFY on PostgreSQL, polling on a data directory
    follower = ChangeFollower(library, poll_seconds=settings.follow_seconds).start()
    try:
        if settings.feeds:
            feeds = await FeedJob.open(services, settings.feeds)
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        updater = app.updater
        assert updater is not None
        if settings.webhook_url:  # our own server: the secret is checked before a body is read
            webhook = WebhookServer(
                app.bot,
                app.update_queue,
                path=settings.webhook_path,
                secret=settings.secret_token,
                inbox=inbox,
            )
            webhook.start(settings.listen, settings.port)
            await app.bot.set_webhook(  # retried on network errors by the rate limiter (retry.py)
                url=settings.webhook_url,
                secret_token=settings.secret_token,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=settings.drop_pending_updates,
            )
        else:
            await updater.start_polling(
                poll_interval=0.0,
                timeout=dt.timedelta(seconds=settings.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=settings.drop_pending_updates,
                bootstrap_retries=settings.retries,
                error_callback=_polling_error,
            )
        await app.start()
        # alerts a process killed before its alert pass left marked (bot/alerts.py): sent now, once
        await alert_followers(app.bot, services)
        if inbox is not None:  # renews this process's leases, finishes what a dead process accepted
            keeper = InboxKeeper(inbox, app.bot, app.update_queue)
            keeper.start()
        if feeds is not None:
            assert app.job_queue is not None
            feeds.schedule(app.job_queue, settings.feed_every)
        where = f"webhook on {settings.listen}:{settings.port}" if settings.webhook_url else "long polling"
        log.info("serving as @%s (%s)", app.bot.username, where)
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        if feeds is not None:
            await feeds.stop()
        if webhook is not None:
            await webhook.stop()
        if keeper is not None:
            await keeper.stop()
        await _shut_down(app, settings.shutdown_grace)
        await asyncio.to_thread(follower.stop)
        if feeds is not None:
            feeds.close()


async def _shut_down(app: App, grace: float) -> None:
    """Bounded: no new updates, queued ones dropped, work in progress gets `grace` seconds."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    processor = app.update_processor
    if isinstance(processor, ChatUpdateProcessor):
        await processor.close(grace)
    if app.running:
        await app.stop()
    await app.shutdown()
