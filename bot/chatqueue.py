"""One queue per chat for the Application's updates, so a flooded chat waits alone.

PTB's concurrent updates share one pool of slots: 40 questions in one group, each waiting for the group's
turn or for Telegram's 20-messages-a-minute group limit, filled every slot and a private chat waited 44 s.
This update processor hands each update to its chat's queue and returns at once (the slot is free again):
a chat's updates run one after another (a follow-up after its question, a More tap after its answer),
different chats run side by side, at most `max_running` chats at a time and never more than one job per
chat, so one chat can hold at most one of them. A chat's backlog is bounded: beyond it updates are dropped
(`on_drop` may still answer them cheaply, e.g. a button tap). `close` ends it all within a bound.

This is the bot's one ordering mechanism: handlers take no locks of their own.

Who gets the next free slot when chats wait for one (`Turns`): groups first, `GROUP_TURNS` of them for
each private chat while both wait. 500 strangers writing at once in private chats would otherwise put a
group's follow-up behind all 500 first questions (about 17 s at Telegram's 30 messages a second); a
group's answer serves everyone in it, and its conversation is under way. A private chat still gets every
fourth turn, so a busy set of groups cannot starve the private chats. Each user's questions are bounded
apart from this (ratelimit.py), and each chat's backlog here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

OnDrop = Callable[[Update], Awaitable[None]]
OnDone = Callable[[Update], Awaitable[None]]

#: While both wait, this many groups get a turn for each private chat.
GROUP_TURNS = 3


class TurnRefused(Exception):
    """The processor is closing: a chat waiting for its turn gets none."""


class Turns:
    """At most `slots` chats at work at once; when one finishes, the slot goes to the next waiting chat:
    a group before a private chat, except that after `group_turns` groups in a row a private chat goes.
    Within a lane, first come first served."""

    def __init__(self, slots: int, *, group_turns: int = GROUP_TURNS) -> None:
        self.free = slots
        self.group_turns = group_turns
        self._groups: deque[asyncio.Future[None]] = deque()
        self._privates: deque[asyncio.Future[None]] = deque()
        self._groups_in_a_row = 0

    @contextlib.asynccontextmanager
    async def turn(self, group: bool) -> AsyncIterator[None]:
        await self._acquire(group)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, group: bool) -> None:
        if self.free > 0 and not self._groups and not self._privates:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._groups if group else self._privates).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as this was cancelled: pass it on
            raise

    def close(self) -> None:
        """Every chat still waiting for a turn is refused one (its update is dropped)."""
        for waiter in (*self._groups, *self._privates):
            if not waiter.done():
                waiter.set_exception(TurnRefused())
        self._groups.clear()
        self._privates.clear()

    def _release(self) -> None:
        while True:
            waiter = self._next()
            if waiter is None:
                self.free += 1
                return
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(None)
                return

    def _next(self) -> asyncio.Future[None] | None:
        if self._groups and (not self._privates or self._groups_in_a_row < self.group_turns):
            self._groups_in_a_row += 1
            return self._groups.popleft()
        if self._privates:
            self._groups_in_a_row = 0
            return self._privates.popleft()
        return None


def is_group(chat: int) -> bool:
    """Telegram gives groups (and channels) negative ids; a private chat's id is its user's."""
    return chat < 0


def chat_of(update: object) -> int | None:
    """The queue an update belongs to: its chat, or for a tap on an inline message its user."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class ChatUpdateProcessor(BaseUpdateProcessor):
    """Per-chat serial queues with a bounded backlog, behind PTB's `concurrent_updates`."""

    def __init__(
        self, max_running: int, backlog: int, *, on_drop: OnDrop | None = None, on_done: OnDone | None = None
    ) -> None:
        super().__init__(max_concurrent_updates=max(max_running, 2))  # > 1: PTB hands updates over at once
        self.backlog = backlog
        self.on_drop = on_drop
        self.on_done = on_done  # an update handled, or dropped from a busy chat's backlog (not at close)
        self._running = Turns(max_running) if max_running > 0 else None
        self._queues: dict[int, deque[tuple[object, Awaitable[Any]]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._closed = False
        self.dropped = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = chat_of(update)
        if chat is None:  # nothing to order it by: run it as PTB would
            await coroutine
            await self._done(update)
            return
        queue = self._queues.setdefault(chat, deque())
        if self._closed or len(queue) >= self.backlog:
            self._drop(chat, update, coroutine)
            if self.on_drop is not None and isinstance(update, Update) and not self._closed:
                try:
                    await self.on_drop(update)
                except Exception:  # cosmetic: a dropped update's courtesy answer
                    log.warning("could not answer a dropped update in chat %s", chat, exc_info=True)
            if not self._closed:  # dropped on purpose; at close it is left for another process
                await self._done(update)
            return
        queue.append((update, coroutine))
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._work(chat), name=f"newsqa-chat-{chat}")

    async def _done(self, update: object) -> None:
        if self.on_done is not None and isinstance(update, Update):
            try:
                await self.on_done(update)
            except Exception:  # its lease runs out and another process handles it again: logged
                log.warning("update %s handled but not marked done", update.update_id, exc_info=True)

    def _drop(self, chat: int, update: object, coroutine: Awaitable[Any]) -> None:
        if asyncio.iscoroutine(coroutine):
            coroutine.close()  # never awaited, on purpose
        self.dropped += 1
        update_id = update.update_id if isinstance(update, Update) else None
        log.info("chat %s is busy (%d waiting): dropped update %s", chat, self.backlog, update_id)

    async def _work(self, chat: int) -> None:
        queue = self._queues[chat]
        try:
            while queue:
                update, coroutine = queue.popleft()
                if self._running is None:
                    await coroutine
                    await self._done(update)
                    continue
                try:
                    async with self._running.turn(is_group(chat)):
                        await coroutine  # PTB's process_update: handlers and the error handler
                except TurnRefused:  # closing: it never started, and is left for another process
                    self._drop(chat, update, coroutine)
                    continue
                await self._done(update)
        finally:
            del self._workers[chat]
            if not queue:
                self._queues.pop(chat, None)

    async def close(self, grace: float) -> None:
        """Take no more; drop what waits; give what runs `grace` seconds, then cancel it."""
        self._closed = True
        for chat, queue in list(self._queues.items()):
            while queue:
                update, coroutine = queue.popleft()
                self._drop(chat, update, coroutine)
        if self._running is not None:
            self._running.close()  # the chats waiting for a turn end now; only work under way gets `grace`
        workers = list(self._workers.values())
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("stopped %d chat(s) still working after %.1f s", len(pending), grace)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pending, timeout=grace)

    async def initialize(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        await self.close(0.0)
