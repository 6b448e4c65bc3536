"""The /timeline picture: the chart of the entries the text lists, sent as a photo after the text.

The picture is extra: the text answer has gone out before it is drawn, and if drawing or sending it fails
the user still has the whole answer (the failure is logged as a warning, nothing is said in the chat).
matplotlib is imported in the worker thread that draws, on the first /timeline, not when the bot starts.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InputFile, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from newsqa.charts.timeline import TimelinePlot, timeline_plot
from newsqa.index.search.answer import Answer

from .formatting import Block, Span, block_html, block_plain, fit, squash
from .sending import Replier, is_entity_error

log = logging.getLogger(__name__)

MAX_CAPTION = 1024  # UTF-16 code units of the parsed caption (Telegram's limit)


def caption_block(plot: TimelinePlot) -> Block:
    """'Timeline: topic — 4 dated articles by day; 1 undated (in the text only)', cut to fit a caption."""
    n = len(plot.entries)
    count = f"{n} dated article{'s' if n != 1 else ''}, counted by {plot.bucket}"
    if plot.undated:
        count += f"; {plot.undated} undated (in the text only)"
    topic = squash(plot.topic).strip()
    block = (Span("Timeline", "b"), Span(": "), Span(topic, "i", trim=1), Span(f" — {count}"))
    return fit(block, MAX_CAPTION)


def draw(plot: TimelinePlot) -> bytes:
    """The PNG (in a worker thread: matplotlib's import and drawing take a second or more)."""
    from newsqa.charts.draw import timeline_png

    return timeline_png(plot)


async def send_timeline_chart(replier: Replier, answer: Answer) -> None:
    """Draw `answer`'s timeline and send it as a photo; nothing when no entry is dated or anything fails."""
    plot = timeline_plot(answer)
    if not answer.answered or not plot.entries:
        return
    try:
        await replier.bot.send_chat_action(
            replier.chat_id, ChatAction.UPLOAD_PHOTO, message_thread_id=replier.thread_id
        )
    except TelegramError as exc:  # cosmetic
        log.debug("upload_photo action failed: %s", exc)
    try:
        png = await asyncio.to_thread(draw, plot)
    except Exception:  # the text answer went out already; the picture is extra
        log.warning("could not draw the timeline chart", exc_info=True)
        return
    block = caption_block(plot)
    try:
        try:
            await _send(replier, png, block_html(block), ParseMode.HTML)
        except BadRequest as exc:
            if not is_entity_error(exc):
                raise
            await _send(replier, png, block_plain(block), None)  # as Replier.send does for text
    except TelegramError as exc:
        log.warning("could not send the timeline chart: %s", exc)


async def _send(replier: Replier, png: bytes, caption: str, parse_mode: str | None) -> None:
    await replier.bot.send_photo(
        replier.chat_id,
        InputFile(png, filename="timeline.png"),
        caption=caption,
        parse_mode=parse_mode,
        message_thread_id=replier.thread_id,
        reply_parameters=(
            ReplyParameters(replier.reply_to, allow_sending_without_reply=True) if replier.reply_to else None
        ),
    )
