"""/follow, /following, /unfollow: a chat's topics, kept in the bot's tables (per chat, private or group).

The same people may follow as may ask (the allow-list applies); the alerts themselves go out from
`alerts.alert_followers` whenever new articles are indexed.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import ContextTypes

from . import texts
from .addressing import command_argument
from .handlers import admitted
from .sending import Replier
from .services import Services, chat_key, replier_for
from .topics import FollowError

log = logging.getLogger(__name__)


class FollowHandlers:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def _replier(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Replier | None:
        replier = replier_for(update, context.bot)
        if replier is None or not await admitted(self.s, update, replier):
            return None
        return replier

    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = await self._replier(update, context)
        message = update.effective_message
        if replier is None or message is None:
            return
        topic = command_argument(message.text or "")
        if not topic:
            await replier.say(texts.usage(texts.FOLLOW_USAGE))
            return
        if not self.s.access.admits_chat(replier.chat_id):
            await replier.say(texts.alerts_not_here(replier.chat_id))
            return
        try:
            follow = await asyncio.to_thread(self.s.backend.follow, chat_key(replier.chat_id), topic)
        except FollowError as exc:
            await replier.say(texts.follow_refused(str(exc)))
            return
        log.info("chat %s follows topic %d", replier.chat_id, follow.id)
        await replier.say(texts.followed_blocks(follow, per_hour=self.s.backend.follows.max_per_hour))

    async def following(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = await self._replier(update, context)
        if replier is None:
            return
        follows = await asyncio.to_thread(self.s.backend.following, chat_key(replier.chat_id))
        await replier.say(texts.following_blocks(follows))

    async def unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = await self._replier(update, context)
        message = update.effective_message
        if replier is None or message is None:
            return
        which = command_argument(message.text or "") or None
        gone = await asyncio.to_thread(self.s.backend.unfollow, chat_key(replier.chat_id), which)
        log.info("chat %s unfollowed %d topics", replier.chat_id, len(gone))
        await replier.say(texts.unfollowed_blocks(gone, which))
