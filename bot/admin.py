"""Admin commands: /add (text, a reply, a file, a URL), /remove, /reindex, /stats, and uploaded files.

A refused command changes nothing and says why. Writes run in a worker thread under the data directory's
writer lock; the bot's own Library answers from the new articles as soon as the write returns, and chats
following a topic a new article answers are alerted (the same path as the feed job's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from telegram import Document, Update
from telegram.ext import ContextTypes

from newsqa.index.storage.datadir import IndexProblem
from newsqa.index.storage.library import IngestReport
from newsqa.index.text.article import Article, LoadProblem
from newsqa.index.web.fetch import Fetcher, FetchOptions, human_size, looks_like_url

from . import texts
from .addressing import command_argument
from .alerts import alert_followers
from .formatting import Span
from .sending import Replier
from .services import Services, replier_for
from .uploads import load_text, load_upload, supported, supported_types

log = logging.getLogger(__name__)


class AdminHandlers:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def _admin(self, update: Update, replier: Replier, what: str) -> bool:
        if self.s.is_admin(update):
            return True
        user = update.effective_user
        log.info("refused %s to user %s", what, user.id if user else None)
        await replier.say(texts.admin_only(what))
        return False

    # -- /add and uploads ---------------------------------------------------------------------------
    async def add(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        replier = replier_for(update, context.bot)
        if message is None or replier is None or not await self._admin(update, replier, "add articles"):
            return
        argument = command_argument(message.text or "")
        replied = message.reply_to_message
        items: Sequence[Article | LoadProblem] | None
        if looks_like_url(argument):  # fetched, or refused with the reason (file://, ftp://, ...)
            async with replier.typing():
                items = [await self._fetch(argument)]
        elif argument:
            items = await asyncio.to_thread(load_text, argument)
        elif replied is not None and replied.document is not None:
            items = await self._download(replied.document, replier)
        elif replied is not None and (replied.text or replied.caption):
            items = await asyncio.to_thread(load_text, replied.text or replied.caption or "")
        else:
            await replier.say(
                texts.usage(
                    "Send /add with the article (headline on the first line, then the text), "
                    "/add with a web address, /add as a reply to a message or file, or just send me a "
                    f"file ({supported_types()})."
                )
            )
            return
        if items is not None:
            await self._ingest(replier, items)

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A file sent to the bot: indexed for admins (in groups only with the caption /add: app.py)."""
        message = update.effective_message
        replier = replier_for(update, context.bot)
        if message is None or replier is None or message.document is None:
            return  # routed here only in a private chat or with the caption /add (routing.UPLOAD)
        if not await self._admin(update, replier, "add articles"):
            return
        items = await self._download(message.document, replier)
        if items is not None:
            await self._ingest(replier, items)

    async def _download(self, document: Document, replier: Replier) -> list[Article | LoadProblem] | None:
        """The articles in an uploaded file; type and size are checked before anything is downloaded."""
        name = document.file_name or "upload"
        limit = self.s.settings.max_upload_bytes
        if not supported(name):
            await replier.say(texts.usage(f"I can't index {name}: send one of {supported_types()}."))
            return None
        if document.file_size is not None and document.file_size > limit:
            size = human_size(document.file_size)
            await replier.say(texts.usage(f"{name} is too large ({size}); the limit is {human_size(limit)}."))
            return None
        async with replier.typing():
            file = await document.get_file()
            data = bytes(await file.download_as_bytearray())
        if len(data) > limit:
            await replier.say(texts.usage(f"{name} is too large; the limit is {human_size(limit)}."))
            return None
        return await asyncio.to_thread(load_upload, name, data)

    async def _fetch(self, url: str) -> Article | LoadProblem:
        async with Fetcher(FetchOptions.allowing(self.s.settings.allow_hosts)) as fetcher:
            return await fetcher.fetch_article(url)

    async def _ingest(self, replier: Replier, items: Sequence[Article | LoadProblem]) -> None:
        if not any(isinstance(i, Article) for i in items):
            problems = [i for i in items if isinstance(i, LoadProblem)]
            await replier.say([(Span("Nothing to add.", "b"),), texts.problem_block(problems)])
            return
        await self._index(replier, "add", lambda: self.s.backend.ingest(items))

    async def _index(self, replier: Replier, command: str, write: Callable[[], IngestReport]) -> None:
        """The one sequence of every admin write that indexes (/add, uploads, /reindex): the write in a
        worker thread while typing shows, a refusal in one line, the report, then followers' alerts."""
        try:
            async with replier.typing():
                report = await asyncio.to_thread(write)
        except IndexProblem as exc:
            await replier.say(texts.usage(str(exc)))
            return
        log.info("admin %s: %s", command, report.summary())
        await replier.say(texts.ingest_blocks(report, what="Reindexed" if command == "reindex" else "Added"))
        await alert_followers(replier.bot, self.s)  # the new articles were marked in their commit

    # -- /remove, /reindex, /stats --------------------------------------------------------------------
    async def remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        replier = replier_for(update, context.bot)
        if message is None or replier is None or not await self._admin(update, replier, "remove articles"):
            return
        ids = await asyncio.to_thread(self._ids_to_remove, command_argument(message.text or ""))
        if not ids:
            await replier.say(
                texts.usage("Say which: /remove ID (the ids are in /sources and under Source).")
            )
            return
        try:
            removed, missing = await asyncio.to_thread(self.s.backend.remove, ids)
        except IndexProblem as exc:
            await replier.say(texts.usage(str(exc)))
            return
        log.info("admin remove: %d removed, %d not found", len(removed), len(missing))
        await replier.say(texts.removed_blocks(removed, missing))

    def _ids_to_remove(self, argument: str) -> list[str]:
        """One id per line or separated by spaces; a whole line that is an id (it may hold spaces) wins."""
        ids: list[str] = []
        for line in argument.splitlines():
            line = line.strip()
            if not line:
                continue
            if self.s.backend.find(line) is not None:
                ids.append(line)
            else:
                ids.extend(line.split())
        return ids

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self._admin(update, replier, "reindex"):
            return
        folders = self.s.settings.folders
        if not folders:
            await replier.say(
                texts.usage("No folders are configured: start the bot with --folder DIR (or NEWSQA_FOLDERS).")
            )
            return
        await replier.say(texts.usage(f"Rescanning {len(folders)} folder{'s' if len(folders) != 1 else ''}…"))
        await self._index(replier, "reindex", lambda: self.s.backend.reindex(folders))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replier = replier_for(update, context.bot)
        if replier is None or not await self._admin(update, replier, "see the statistics"):
            return
        stats = await asyncio.to_thread(self.s.backend.stats)
        await replier.say(
            texts.stats_blocks(
                stats,
                questions=self.s.backend.questions,
                started=self.s.started,
                folders=[str(f) for f in self.s.settings.folders],
                mode=self.s.settings.mode,
            )
        )
