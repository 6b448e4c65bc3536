"""Questions and the public commands: /start, /help, /sources, /ask, /reset, and plain text questions.

Handlers are thin: check access, run the index call in a worker thread (`asyncio.to_thread`) while
"typing…" shows, then send what `views`/`texts` rendered. Who a message is for was decided before they
run (app.py routes with routing.py's filters), and a chat's updates reach them one at a time, in order
(chatqueue.py), so a follow-up never overtakes its question.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from telegram import Update
from telegram.ext import ContextTypes

from . import texts
from .addressing import command_argument, without_mention
from .backend import Reply
from .buttons import More, answer_keyboard
from .formatting import Span
from .sending import Replier
from .services import Services, chat_key, replier_for
from .timeline_chart import send_timeline_chart
from .views import answer_messages, sources_blocks, timeline_blocks

log = logging.getLogger(__name__)

SOURCES_SHOWN = 10
TIMELINE_ENTRIES = 10


def asked_on(update: Update) -> dt.date:
    """The moment of asking: the message's own date (UTC), so a delayed update answers as of when it
    was sent; the clock when the update carries none."""
    message = update.effective_message
    when = message.date if message is not None and message.date else dt.datetime.now(dt.UTC)
    return when.date()


async def send_answer(replier: Replier, reply: Reply) -> None:
    """An answer page as messages; each carries its passages' buttons, the last one More if there is more."""
    messages = answer_messages(reply.answer)
    passages = reply.answer.passages
    more = More(reply.number, passages[-1].rank) if reply.has_more and passages else None
    for i, message in enumerate(messages):
        last = i == len(messages) - 1
        await replier.send(message.rendered, answer_keyboard(message.passages, more if last else None))


async def admitted(services: Services, update: Update, replier: Replier) -> bool:
    """Allowed to use the bot; if not, say so politely (once a window: a flood gets one refusal)."""
    if services.admits(update):
        return True
    user = update.effective_user
    log.info("refused user %s in chat %s", user.id if user else None, replier.chat_id)
    if services.tell_once("refused", update):
        await replier.say(texts.refused_blocks(user.id if user else None))
    return False


class QuestionHandlers:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def admitted(self, update: Update, replier: Replier) -> bool:
        return await admitted(self.s, update, replier)

    # -- commands ---------------------------------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        latest, total = await asyncio.to_thread(self.s.backend.latest, 1)
        example = latest[0].title if latest else None
        await replier.say(texts.start_blocks(total, example, admin=self.s.is_admin(update)))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        group = update.effective_chat is not None and update.effective_chat.type != "private"
        await replier.say(texts.help_blocks(admin=self.s.is_admin(update), group=group))

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        latest, total = await asyncio.to_thread(self.s.backend.latest, SOURCES_SHOWN)
        await replier.say(sources_blocks(latest, total, show_ids=self.s.is_admin(update)))

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        await asyncio.to_thread(self.s.backend.reset, chat_key(replier.chat_id))
        await replier.say(
            [(Span("Done: I forgot this chat's conversation. The next question starts afresh."),)]
        )

    async def timeline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/timeline topic: the story's matching sentences in date order (date, outlet, quote)."""
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        message = update.effective_message
        topic = command_argument(message.text or "") if message else ""
        if not topic:
            await replier.say(texts.usage("Say which story, e.g. /timeline drone attacks in Iraq"))
            return
        wait = await self.s.question_wait(update)
        if wait > 0:
            if self.s.tell_once("slow down", update):  # then silence until the window has passed
                await replier.say(texts.slow_down(wait))
            return
        async with replier.typing():
            answer = await asyncio.to_thread(
                self.s.backend.timeline, topic, asked_on(update), TIMELINE_ENTRIES
            )
        await replier.say(timeline_blocks(answer))
        await send_timeline_chart(replier, answer)

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        question = command_argument(message.text or "") if message else ""
        if not question:
            replier = replier_for(update, context.bot)
            if replier is not None and await self.admitted(update, replier):
                await replier.say(
                    texts.usage("Put your question after the command, e.g. /ask Who was elected?")
                )
            return
        await self.answer(update, context, question)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In a private chat (or addressed to this bot in a group) an unknown command gets a pointer."""
        message = update.effective_message
        if message is None or not message.text:
            return
        command = message.text.split(None, 1)[0]
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        await replier.say(
            [(Span("I don't know "), Span(command, "code"), Span("; /help lists my commands."))]
        )

    # -- questions --------------------------------------------------------------------------------
    async def private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any text in a private chat is a question."""
        message = update.effective_message
        if message is not None and message.text:
            await self.question(update, context, message.text.strip())

    async def mention(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group message naming the bot: the question is the rest of it."""
        message = update.effective_message
        if message is not None and message.text:
            await self.question(update, context, without_mention(message.text, context.bot.username))

    async def reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group message replying to one of the bot's: a question (often a follow-up)."""
        message = update.effective_message
        if message is not None and message.text:
            await self.question(update, context, message.text.strip())

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        if not question:  # addressed to the bot, asking nothing (a bare mention)
            replier = replier_for(update, context.bot)
            if replier is not None and await self.admitted(update, replier):
                await replier.say(texts.usage("Yes? Ask me a question about the articles."))
            return
        await self.answer(update, context, question)

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self.admitted(update, replier):
            return
        wait = await self.s.question_wait(update)
        if wait > 0:
            if self.s.tell_once("slow down", update):  # then silence until the window has passed
                await replier.say(texts.slow_down(wait))
            return
        began = time.perf_counter()
        async with replier.typing():
            reply = await asyncio.to_thread(
                self.s.backend.ask, chat_key(replier.chat_id), question, asked_on(update)
            )
        log.info(
            "chat %s: %s in %.2f s",
            replier.chat_id,
            f"{len(reply.answer.passages)} passages" if reply.answer.answered else "not found",
            time.perf_counter() - began,
        )
        await send_answer(replier, reply)
