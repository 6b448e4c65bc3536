"""No accepted update is lost: each webhook update is written to the database before Telegram hears 200,
and marked done once handled; another process finishes one whose handler died.

Telegram forgets an update once a webhook answered 200, so a replica killed between the 200 and its
reply lost the question for good (the user saw "typing", then nothing). Now:
- `accept` writes the update's row (one statement, committed) before the webhook answers; a database that
  cannot be written makes the webhook answer 503, and Telegram delivers the update again later. An update
  accepted before (Telegram's redelivery) is answered 200 and not handled twice.
- the accepting process holds a lease on the row and renews it while it lives (`renew` every
  `lease / 4`); the row is marked done when its handler returned (or the chat's backlog dropped it).
- every process looks for rows whose lease ran out (their process died) and takes each over with a
  compare-and-swap, so exactly one finishes it; after `MAX_ATTEMPTS` takeovers an update (one that kills
  whoever handles it) is given up, logged.
An update cut off by a graceful shutdown is not marked done either: another replica, or this one after
its restart, finishes it once the lease runs out. On a data directory the one process finds its own
unfinished updates again at its next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from typing import Any

from telegram import Bot, Update

from newsqa.index.storage.pgconn import unavailable

from .chatstore import ChatStore

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0  # an update whose process stopped renewing this long is taken over
MAX_ATTEMPTS = 3  # takeovers before an update is given up (it killed each process that took it)
BATCH = 20  # abandoned updates taken over per sweep


def process_name() -> str:
    """This process, unique across machines and restarts (an owner in the inbox)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Inbox:
    """The accepted updates of one serving process (blocking calls: run them in a worker thread)."""

    def __init__(self, chats: ChatStore, *, lease: float = LEASE_SECONDS, owner: str | None = None) -> None:
        self.chats = chats
        self.lease = lease
        self.owner = owner or process_name()
        self.taken_over = 0

    def accept(self, update_id: int, body: str) -> bool:
        """Durable when it returns; False: accepted before (a redelivery), not to be handled again."""
        return self.chats.accept_update(update_id, body, self.owner, time.time() + self.lease)

    def done(self, update_id: int) -> None:
        self.chats.finish_update(update_id, self.owner)

    def renew(self) -> None:
        self.chats.renew_updates(self.owner, time.time() + self.lease)

    def take_over(self) -> list[str]:
        """Bodies of abandoned updates this process now owns (each claimed by exactly one process)."""
        now = time.time()
        taken: list[str] = []
        for update_id, body, attempts, owner in self.chats.abandoned_updates(now, BATCH):
            if not self.chats.take_over_update(update_id, owner, self.owner, now, now + self.lease):
                continue  # another process was quicker
            if attempts >= MAX_ATTEMPTS:
                log.warning(
                    "update %s given up after %d attempts (its handler never finished)", update_id, attempts
                )
                self.done(update_id)
                continue
            log.info("update %s taken over from %s (its lease ran out)", update_id, owner)
            self.taken_over += 1
            taken.append(body)
        return taken


class InboxKeeper:
    """The inbox's upkeep while serving: renew this process's leases, take over abandoned updates and
    put them on the Application's update queue."""

    def __init__(self, inbox: Inbox, bot: Bot, queue: asyncio.Queue[Any]) -> None:
        self.inbox = inbox
        self.bot = bot
        self.queue = queue
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="newsqa-inbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(self.inbox.lease / 4)

    async def sweep(self) -> int:
        """One round of upkeep; returns the updates taken over. A database away is logged once."""
        try:
            await asyncio.to_thread(self.inbox.renew)
            bodies = await asyncio.to_thread(self.inbox.take_over)
        except Exception as exc:
            if not unavailable(exc):
                log.exception("inbox upkeep failed; trying again")
            elif not self._failing:
                log.warning("inbox upkeep waits for the database: %s", str(exc).strip().splitlines()[:1])
            self._failing = True
            return 0
        self._failing = False
        for body in bodies:
            update = Update.de_json(json.loads(body), self.bot)
            if update is not None:
                await self.queue.put(update)
        return len(bodies)
