"""After new articles were indexed: tell the chats following a topic they answer.

One function for every way articles arrive while the bot runs (the feed job, an admin's /add, an upload,
/reindex), so alerts behave the same whichever it was. `Follows` decides who gets what (never the same
article twice to a chat, a per-chat hourly cap) and records each alert as sent before it goes out: a
send that fails is not retried, so nobody is ever alerted twice. A chat that blocked the bot (or removed
it from a group) answers 403; its topics are dropped so the next round does not try again, and the
other chats' alerts go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from telegram import Bot
from telegram.error import Forbidden, TelegramError

from newsqa.index.storage.pgconn import unavailable

from .buttons import alert_keyboard
from .formatting import pack
from .sending import Replier
from .services import Services, chat_id_of
from .topics import Alert
from .views import alert_block

log = logging.getLogger(__name__)


async def alert_followers(bot: Bot, services: Services, article_ids: Collection[str]) -> int:
    """Send the alerts due for `article_ids` (articles just added, not copies or updates) and for those
    an earlier pass could not work out; returns how many went out. Never raises for one chat's or one
    search's trouble: the caller's work is already done. When the database is away, the articles are
    kept (`Services.unalerted`) and the next pass tries them again: an article that committed is
    alerted, once (the claim is the database's, follows.py)."""
    new = set(article_ids) | services.unalerted
    if not new:
        return 0
    try:
        alerts = await asyncio.to_thread(services.backend.alerts_for, new)
    except Exception as exc:
        if unavailable(exc):
            services.unalerted |= new
            log.warning(
                "alerts for %d new articles wait for the database (%s); tried again next round",
                len(new),
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
        else:
            log.exception("working out alerts for %d new articles failed", len(new))
        return 0
    services.unalerted -= new
    article_ids = new
    sent = 0
    for alert in alerts:
        chat_id = chat_id_of(alert.follow.chat)
        if chat_id is None or not services.access.admits_chat(chat_id):
            continue  # another front end's chat, or one no longer allowed
        sent += await _send(bot, services, chat_id, alert)
    log.info("alerts: %d sent for %d new articles", sent, len(article_ids))
    return sent


async def _send(bot: Bot, services: Services, chat_id: int, alert: Alert) -> int:
    (message,) = pack([alert_block(alert.follow.topic, alert.passage)])  # one block: one message
    try:
        await Replier(bot, chat_id).send(message, alert_keyboard(alert.passage))
    except Forbidden as exc:
        gone = await asyncio.to_thread(services.backend.unfollow, alert.follow.chat, None)
        log.info("chat %s refuses messages (%s): dropped its %d followed topics", chat_id, exc, len(gone))
        return 0
    except TelegramError as exc:
        log.warning("alert to chat %s not sent: %s", chat_id, exc)
        return 0
    return 1
