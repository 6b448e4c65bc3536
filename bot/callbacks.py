"""The buttons under an answer: More (next passages), Context (wider excerpt), Source (the article).

Every tap is answered exactly once (Telegram keeps a spinner on the button until then): with a short note
when there is nothing to show (a stale button, no more passages) or the user is over the question limit
(taps count like questions, and the note costs no message to the chat), plainly after the reply was sent,
or with an apology when handling failed (the error handler then logs it). A tap dropped because its chat
is busy is answered by `app.on_dropped`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from newsqa.index.storage.pgconn import unavailable

from . import buttons, texts
from .handlers import send_answer
from .services import Services, chat_key, replier_for
from .views import context_blocks, source_blocks

log = logging.getLogger(__name__)


class ButtonHandlers:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        if not self.s.admits(update):
            user = update.effective_user
            await query.answer(texts.refused_text(user.id if user else None), show_alert=True)
            return
        action = buttons.decode(query.data)
        wait = await self.s.question_wait(update) if action is not None else 0.0
        if wait > 0:  # taps share the question allowance; the answer costs no message to the chat
            await query.answer(texts.slow_down_text(wait))
            return
        try:
            note = await self.dispatch(action, update, context)
        except Exception as exc:
            with contextlib.suppress(TelegramError):
                await query.answer(texts.UNAVAILABLE_SHORT if unavailable(exc) else texts.SORRY_SHORT)
            raise
        await query.answer(note)

    async def dispatch(
        self, action: buttons.Action | None, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> str | None:
        """Carry out a tap; returns the note to answer it with (None: the reply itself is the answer)."""
        replier = replier_for(update, context.bot)
        if replier is None:
            return None
        backend = self.s.backend
        match action:
            case buttons.More(number, offset):
                reply = await asyncio.to_thread(backend.more, chat_key(replier.chat_id), number, offset)
                if reply is None:
                    return texts.FORGOTTEN
                if not reply.answer.passages:
                    return texts.NO_MORE
                await self._drop_button(update.callback_query)
                await send_answer(replier, reply)
                return None
            case buttons.Context(sentence_id):
                passage = await asyncio.to_thread(backend.context, sentence_id)
                if passage is None:
                    return texts.STALE
                await replier.say(context_blocks(passage))
                return None
            case buttons.Source(rowid):
                info = await asyncio.to_thread(backend.source, rowid)
                if info is None:
                    return texts.STALE
                show_id = self.s.is_admin(update)
                await replier.say(
                    source_blocks(info.citation, lead=info.lead, sentences=info.sentences, show_id=show_id)
                )
                return None
            case _:
                return texts.UNKNOWN_BUTTON

    async def _drop_button(self, query: CallbackQuery | None) -> None:
        """Take the tapped More off its message: the new page carries its own, so it is not tapped twice."""
        message = query.message if query else None
        keyboard = getattr(message, "reply_markup", None)
        if query is None or message is None or not isinstance(keyboard, InlineKeyboardMarkup):
            return
        rows = [[b for b in row if b.callback_data != query.data] for row in keyboard.inline_keyboard]
        kept = InlineKeyboardMarkup([row for row in rows if row]) if any(rows) else None
        try:
            await query.edit_message_reply_markup(reply_markup=kept)
        except BadRequest as exc:  # e.g. the message is too old to edit: cosmetic only
            log.debug("could not drop the More button: %s", exc)
