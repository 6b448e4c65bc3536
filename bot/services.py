"""What every handler shares: settings, the index backend, access policy, rate limit.

Built once per running bot and handed to the handler classes; nothing here is global. A chat's order is
kept by the update processor (chatqueue.py), the one place that orders updates.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from telegram import Bot, Update

from .access import AccessPolicy
from .backend import Backend
from .ratelimit import NoticeGate, SharedQuestionLimiter
from .sending import Replier
from .settings import BotSettings


@dataclass
class Services:
    settings: BotSettings
    backend: Backend
    access: AccessPolicy
    limiter: SharedQuestionLimiter  # in the chat tables: replicas on one database share it
    notices: NoticeGate  # refusals and "please wait": once per window per user and chat, per process
    started: float = field(default_factory=time.time)

    @classmethod
    def create(cls, settings: BotSettings, backend: Backend) -> Services:
        return cls(
            settings=settings,
            backend=backend,
            access=AccessPolicy(settings.admins, settings.allowed),
            limiter=SharedQuestionLimiter(
                backend.chats, settings.questions_per_window, settings.window_seconds
            ),
            notices=NoticeGate(settings.window_seconds),
        )

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return self.access.is_admin(user.id if user else None)

    async def question_wait(self, update: Update) -> float:
        """0 when this user may ask now (the question is counted), else the seconds to wait. Every
        question and button tap counts, in the database (a worker thread: it is a query)."""
        user = update.effective_user
        if user is None or self.limiter.limit <= 0:
            return 0.0
        return await asyncio.to_thread(self.limiter.check, chat_key(user.id))

    def tell_once(self, what: str, update: Update) -> bool:
        """Whether this user in this chat should hear `what` (a refusal, a "please wait") now: the first
        time in a window yes, then silence, so a flood of refused or over-limit messages costs no sends."""
        user, chat = update.effective_user, update.effective_chat
        return self.notices.first((what, user.id if user else None, chat.id if chat else None))

    def admits(self, update: Update) -> bool:
        user, chat = update.effective_user, update.effective_chat
        return self.access.admits(user.id if user else None, chat.id if chat else None)


CHAT_PREFIX = "telegram:"


def chat_key(chat_id: int) -> str:
    """The key a chat's state (conversation, follows) is stored under."""
    return f"{CHAT_PREFIX}{chat_id}"


def chat_id_of(key: str) -> int | None:
    """The chat id back from its key; None for a key that is not one of this bot's chats."""
    if not key.startswith(CHAT_PREFIX):
        return None
    try:
        return int(key[len(CHAT_PREFIX) :])
    except ValueError:
        return None


def replier_for(update: Update, bot: Bot) -> Replier | None:
    """Where replies to this update go: its chat (and topic); in groups, quoting the message replied to
    (the question, or for a button the answer it sits under)."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    in_group = chat.type != "private"
    reply_to = message.message_id if message is not None and in_group else None
    thread = message.message_thread_id if message is not None and message.is_topic_message else None
    return Replier(bot, chat.id, reply_to=reply_to, thread_id=thread)
