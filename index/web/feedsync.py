"""Feeds into the index: poll, ingest through the single writer, then mark the items seen.

The order is what makes a crash harmless: an item is marked seen only after its article is committed,
so a crash in between fetches it again next time instead of losing the story (and re-ingesting an
unchanged article costs nothing).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..storage.library import IngestReport, Library
from ..storage.pgconn import FEEDS_KEY, unavailable
from ..text.article import Article
from .feeds import FeedStateStore, PollReport, poll_feeds
from .fetch import Fetcher

log = logging.getLogger(__name__)


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


def ingest_locked(
    library: Library,
    articles: list[Article],
    lock_timeout: float,
    report: IngestReport | None = None,
    alerts_due: bool = False,
) -> IngestReport:
    """Ingest holding the data directory's writer lock (blocking: run it in a thread from async code)."""
    with library.dir.writer_lock(timeout=lock_timeout):
        return library.ingest(articles, report=report, alerts_due=alerts_due)


async def sync_feeds(
    library: Library,
    state: FeedStateStore,
    fetcher: Fetcher,
    urls: list[str],
    *,
    lock_timeout: float = 120.0,
    alerts_due: bool = False,
) -> FeedSync:
    """One poll of every due feed, its new stories indexed; searches keep running meanwhile.
    `alerts_due`: the new articles are marked as owing alerts in their own transactions (the bot's
    rounds, Library.ingest)."""
    poll = await poll_feeds(urls, state, fetcher)
    ingest = None
    if poll.articles:
        ingest = IngestReport()
        try:
            await asyncio.to_thread(ingest_locked, library, poll.articles, lock_timeout, ingest, alerts_due)
        except Exception as exc:
            if not (unavailable(exc) and ingest.added_ids):
                raise
            # some articles committed before the database went away: they are reported (their alert
            # marks committed with them); nothing is marked seen, so the rest are fetched again next round
            log.warning(
                "feed ingest cut short by the database (%s) after %d added", type(exc).__name__, ingest.added
            )
            return FeedSync(poll, ingest)
    try:
        poll.mark_indexed(state)  # every article handled: indexed, unchanged or recognised as a copy
    except Exception as exc:
        if ingest is None or not unavailable(exc):
            raise
        # the database went away after the ingest committed: the round's report (and its alerts) still
        # stand, and the items, not marked, are fetched again next round and found unchanged
        log.warning("feed items not marked seen (%s); they are fetched again next round", type(exc).__name__)
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
