"""After new articles were indexed: tell the chats following a topic they answer.

One function for every way articles arrive while the bot runs (the feed job, an admin's /add, an upload,
/reindex), so alerts behave the same whichever it was. Those writes mark each new article as owing its
alerts in the very transaction that adds it (the `alerts_due` table, Library.ingest), so the fact is
durable exactly when the article is: a pass reads the marks, works out and claims the alerts, then clears
them. A process killed (a deploy, a crash) or a database away between the commit and the pass leaves the
marks, and the next pass, in this process or another (at start-up, each feed tick), sends them.

`Follows` decides who gets what (never the same article twice to a chat, a per-chat hourly cap) and
records each alert as sent before it goes out (the claim: one replica of many sends it): a send that
fails is not retried, so nobody is ever alerted twice. A chat that blocked the bot (or removed it from a
group) answers 403; its topics are dropped so the next round does not try again, and the other chats'
alerts go on.
"""

from __future__ import annotations

import asyncio
import logging

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


async def alert_followers(bot: Bot, services: Services) -> int:
    """Send the alerts of every article marked as owing them (just added here, or left by an earlier
    pass or a dead process); returns how many went out. Never raises for one chat's or one search's
    trouble: the caller's work is already done. When the database is away the marks stay where they
    committed, and a later pass sends them, once (the claim is the database's, topics.py)."""
    try:
        alerts, due = await asyncio.to_thread(services.backend.due_alerts)
    except Exception as exc:
        if unavailable(exc):
            log.warning(
                "alerts wait for the database (%s); tried again next pass",
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            )
        else:
            log.exception("working out alerts failed; their articles stay due")
        return 0
    if not due:
        return 0
    sent = 0
    for alert in alerts:
        chat_id = chat_id_of(alert.follow.chat)
        if chat_id is None or not services.access.admits_chat(chat_id):
            continue  # another front end's chat, or one no longer allowed
        sent += await _send(bot, services, chat_id, alert)
    log.info("alerts: %d sent for %d new articles", sent, due)
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
