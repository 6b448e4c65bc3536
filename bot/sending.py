"""Sending to Telegram (the I/O edge): HTML with a plain-text fallback, keyboards, the typing indicator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from .buttons import Button
from .formatting import Block, Rendered, pack

log = logging.getLogger(__name__)

TYPING_EVERY = 4.5  # Telegram shows "typing…" for 5 s per action


def markup(rows: Sequence[Sequence[Button]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def is_entity_error(exc: BadRequest) -> bool:
    return "can't parse entities" in str(exc).lower()


class Replier:
    """Sends into one chat (and forum topic), optionally as a reply to the user's message."""

    def __init__(
        self, bot: Bot, chat_id: int, *, reply_to: int | None = None, thread_id: int | None = None
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.reply_to = reply_to
        self.thread_id = thread_id

    async def send(self, rendered: Rendered, keyboard: Sequence[Sequence[Button]] | None = None) -> Message:
        """One message as HTML; if Telegram still cannot parse it, the same text plain, never nothing."""

        async def post(text: str, parse_mode: str | None) -> Message:
            return await self.bot.send_message(
                self.chat_id,
                text,
                parse_mode=parse_mode,
                reply_markup=markup(keyboard),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                message_thread_id=self.thread_id,
                reply_parameters=(
                    ReplyParameters(self.reply_to, allow_sending_without_reply=True)
                    if self.reply_to
                    else None
                ),
            )

        try:
            return await post(rendered.html, ParseMode.HTML)
        except BadRequest as exc:
            if not is_entity_error(exc):
                raise
            log.warning("Telegram refused the formatting (%s); sending it as plain text", exc)
            return await post(rendered.plain, None)

    async def say(self, blocks: Sequence[Block]) -> list[Message]:
        """Blocks as one or more messages (split between blocks, each within Telegram's limit)."""
        return [await self.send(r) for r in pack(blocks)]

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """Show "typing…" while the body runs (renewed every few seconds for a long search)."""

        async def action() -> None:
            try:
                await self.bot.send_chat_action(
                    self.chat_id, ChatAction.TYPING, message_thread_id=self.thread_id
                )
            except TelegramError as exc:  # cosmetic: never fail a question over it
                log.debug("typing action failed: %s", exc)

        async def renew() -> None:
            while True:
                await asyncio.sleep(TYPING_EVERY)
                await action()

        await action()
        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
