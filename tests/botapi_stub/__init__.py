"""A strict local Telegram Bot API for end-to-end tests (see server.py), plus the PTB wiring to use it.

The wiring lives here so every end-to-end test starts and stops the real ``Application`` the same,
known-not-to-hang way.
"""

from __future__ import annotations

import datetime as dtm
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder, ContextTypes

from .entities import EntityParseError, parse_html, parse_markdown, parse_markdown_v2, parse_text, utf16_len
from .server import DEFAULT_TOKEN, ApiError, BotApiStub, CallbackQueryRecord, Outgoing

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiStub",
    "CallbackQueryRecord",
    "EntityParseError",
    "Outgoing",
    "application_builder",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "running_application",
    "utf16_len",
]


def application_builder(stub: BotApiStub) -> ApplicationBuilder:  # type: ignore[type-arg]
    """``Application.builder()`` aimed at the stub: its token, API URL and file URL."""
    return Application.builder().token(stub.token).base_url(stub.base_url).base_file_url(stub.base_file_url)


@asynccontextmanager
async def running_application(
    app: Application,  # type: ignore[type-arg]
    *,
    poll_timeout: int = 1,
    fail_on_handler_error: bool = True,
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run ``app`` (long-polling the stub) in the current event loop; stop it cleanly on exit.

    Same sequence as ``run_polling`` (initialize, post_init, start_polling, start ... updater.stop, stop,
    post_stop, shutdown, post_shutdown) minus signal handling and owning the loop, which a pytest-asyncio
    test cannot give away. Pending updates are kept (``drop_pending_updates=False``), so messages pushed
    before entering are answered. PTB only logs exceptions raised in handlers; with
    ``fail_on_handler_error`` they fail the test on exit instead.
    """
    handler_errors: list[BaseException] = []

    async def collect(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            handler_errors.append(context.error)

    if fail_on_handler_error:
        app.add_error_handler(collect)
    updater = app.updater
    if updater is None:
        raise ValueError("the Application has no Updater: build it without .updater(None)")
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await updater.start_polling(
            poll_interval=0.0, timeout=dtm.timedelta(seconds=poll_timeout), drop_pending_updates=False
        )
        await app.start()
        yield app
    finally:
        await _stop(app)
        if fail_on_handler_error:
            app.remove_error_handler(collect)
    if handler_errors:
        message = f"{len(handler_errors)} handler error(s): {handler_errors!r}"
        raise AssertionError(message) from handler_errors[0]


async def _stop(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)
