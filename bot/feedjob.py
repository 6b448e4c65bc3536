"""Feeds while serving: a repeating job polls the feeds, indexes new stories and alerts their followers.

Each tick starts a round unless the last one is still running, so a slow round is never overlapped or
queued up behind; the tick after it ends starts the next. Fetching is async and the ingest and the alert
searches run in worker threads, so questions keep being answered meanwhile. A feed that fails is only
reported (`sync_feeds` backs off from it) and an exception in a round is logged: the next round runs.

On a PostgreSQL store several replicas may serve one bot: only the one holding the feeds lease (a
session advisory lock, FEEDS_KEY, index/storage/lease.py) runs rounds, so each feed is polled once an
interval and its new stories alerted once; the others skip their ticks quietly and take over within an
interval when the holder dies. On SQLite there is one bot per data directory and every tick runs.

A round's new articles are marked as owing alerts in the transaction that adds them; every tick of every
replica ends with an alert pass over all such marks (bot/alerts.py), so alerts a killed process or a
database outage left behind go out on the next tick, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot
from telegram.ext import ContextTypes, JobQueue

from newsqa.index.storage.datadir import IndexProblem
from newsqa.index.storage.pgconn import unavailable
from newsqa.index.web.feedsync import FeedRounds, FeedSync, sync_feeds
from newsqa.index.web.fetch import Fetcher, FetchOptions

from .alerts import alert_followers
from .services import Services

log = logging.getLogger(__name__)

FIRST_ROUND_AFTER = 1.0  # seconds after start-up (or the interval, if shorter)
STOP_GRACE = 10.0  # seconds shutdown waits for a running round before cancelling it


class FeedJob:
    """The feeds of one running bot and their state (what was seen, validators, backoff) in the index DB."""

    def __init__(self, services: Services, rounds: FeedRounds) -> None:
        self.s = services
        self.rounds = rounds  # its lease (None on a data directory: every round runs) and feed state
        self._round: asyncio.Task[FeedSync | None] | None = None
        self._stopping = False

    @classmethod
    async def open(cls, services: Services, urls: tuple[str, ...]) -> FeedJob:
        return cls(services, services.backend.newsqa.feeds(list(dict.fromkeys(urls))))

    def schedule(self, job_queue: JobQueue[Any], every: float) -> None:
        job_queue.run_repeating(
            self._tick,
            interval=every,
            first=min(every, FIRST_ROUND_AFTER),
            name="feeds",
            job_kwargs={"coalesce": True, "misfire_grace_time": None},  # a busy loop delays, never skips
        )
        log.info("polling %d feed(s) every %g s", len(self.rounds.urls), every)

    async def _tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self._stopping or (self._round is not None and not self._round.done()):
            return
        self._round = asyncio.create_task(self.run_round(context.bot), name="feed round")

    async def run_round(self, bot: Bot) -> FeedSync | None:
        """Poll the due feeds, index their new stories, then alert followers of every article owing
        alerts; None when the round did not run (another replica holds the feeds) or failed.

        The alert pass runs on every tick of every replica, not only the feeds holder's: it also sends
        what a dead process or an earlier outage left marked (bot/alerts.py), and claims keep it to one
        send. It is skipped only when the round found the database away (the marks wait for it)."""
        sync, away = await self._sync(bot)
        if not away:
            await alert_followers(bot, self.s)
        return sync

    async def _sync(self, bot: Bot) -> tuple[FeedSync | None, bool]:
        """The round itself, and whether it found the database away."""
        try:
            if not await asyncio.to_thread(self.rounds.ours):
                log.debug("feed round skipped: another process polls the feeds")
                return None, False
            async with Fetcher(FetchOptions.allowing(self.s.settings.allow_hosts)) as fetcher:
                rounds, wait = self.rounds, self.s.settings.lock_timeout
                sync = await sync_feeds(
                    rounds.library, rounds.state, fetcher, rounds.urls, lock_timeout=wait, alerts_due=True
                )
            summary, *problems = sync.summary().splitlines()
            log.info("%s", summary)
            for problem in problems:
                log.warning("feed problem: %s", problem.strip())
            return sync, False
        except IndexProblem as exc:  # e.g. another process holds the writer lock: nothing was marked seen
            log.warning("feed round not indexed: %s; its stories are fetched again next round", exc)
            return None, False
        except Exception as exc:
            if not unavailable(exc):
                log.exception("feed round failed; the next one runs as scheduled")
                return None, False
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning(
                "feed round skipped: the database is unavailable (%s); the next one tries again", first
            )
            return None, True

    async def stop(self) -> None:
        """Start no more rounds; let a running one finish (its ingest and alerts), within a grace period."""
        self._stopping = True
        task = self._round
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
        if not done:
            log.warning("a feed round was still running after %g s; cancelling it", STOP_GRACE)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        self.rounds.close()  # on a shared database another replica's next tick takes the feeds over
