"""Feeds into the index: poll, ingest through the single writer, then mark the items seen.

The order is what makes a crash harmless: an item is marked seen only after its article is committed,
so a crash in between fetches it again next time instead of losing the story (and re-ingesting an
unchanged article costs nothing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..storage.library import IngestReport, Library
from ..storage.pgconn import FEEDS_KEY
from ..text.article import Article
from .feeds import FeedStateStore, PollReport, poll_feeds
from .fetch import Fetcher


@dataclass(frozen=True, slots=True)
class FeedSync:
    poll: PollReport
    ingest: IngestReport | None

    def summary(self) -> str:
        p = self.poll
        line = (
            f"feeds: {p.feeds_ok} ok, {p.feeds_failed} failed, {p.not_modified} unchanged, "
            f"{p.not_due} backing off"
        )
        if self.ingest is not None:
            line += f"; {self.ingest.summary()}"
        for problem in p.problems:
            line += f"\n  {problem}"
        return line


def ingest_locked(library: Library, articles: list[Article], lock_timeout: float) -> IngestReport:
    """Ingest holding the data directory's writer lock (blocking: run it in a thread from async code)."""
    with library.dir.writer_lock(timeout=lock_timeout):
        return library.ingest(articles)


async def sync_feeds(
    library: Library, state: FeedStateStore, fetcher: Fetcher, urls: list[str], *, lock_timeout: float = 120.0
) -> FeedSync:
    """One poll of every due feed, its new stories indexed; searches keep running meanwhile."""
    poll = await poll_feeds(urls, state, fetcher)
    ingest = None
    if poll.articles:
        ingest = await asyncio.to_thread(ingest_locked, library, poll.articles, lock_timeout)
    poll.mark_indexed(state)  # every article handled: indexed, unchanged or recognised as a copy
    return FeedSync(poll, ingest)


class FeedRounds:
    """The feeds one process polls into one index: their state in the index's database and, where several
    processes share it, the lease that lets one of them poll (the index's home decides: lease())."""

    def __init__(self, library: Library, urls: list[str]) -> None:
        self.library = library
        self.urls = urls
        self.state = FeedStateStore(library.store)
        self.lease = library.dir.lease(FEEDS_KEY)

    def ours(self) -> bool:
        """Whether this process polls the feeds now (blocking: one short query on a shared database)."""
        return self.lease is None or self.lease.held()

    async def run(self, fetcher: Fetcher, *, lock_timeout: float = 120.0) -> FeedSync:
        """One round: the due feeds polled, their new stories indexed, then marked seen."""
        return await sync_feeds(self.library, self.state, fetcher, self.urls, lock_timeout=lock_timeout)

    def close(self) -> None:
        self.state.close()
        if self.lease is not None:
            self.lease.close()  # another process's next round takes the feeds over
