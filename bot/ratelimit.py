"""Per-user question rate limit and once-per-window notices (the rules pure, the clock injected).

The rule is `admit`, a sliding window over the times of the questions a user was allowed. It keeps its
state either in memory (`QuestionLimiter`, one process: also the send budget in flood.py) or in the chat
tables (`SharedQuestionLimiter`), so that several replicas serving one bot on one PostgreSQL database
count a user's questions together: one read and, for an admitted question, one atomic upsert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .chatstore import QuestionTimes

log = logging.getLogger(__name__)

SWAP_ATTEMPTS = 5  # compare-and-swap rounds before a question is let through (see SharedQuestionLimiter)


def admit(times: tuple[float, ...], now: float, limit: int, window: float) -> tuple[tuple[float, ...], float]:
    """The sliding-window rule: at most `limit` events in any `window` seconds.

    `times`: the admitted events so far, oldest first. Returns the times to keep and the wait: 0 when
    this event is admitted (it is the last of the times returned), else the seconds until it would be.
    """
    recent = tuple(t for t in times if t > now - window)
    if limit <= 0:
        return recent, 0.0
    if len(recent) >= limit:
        oldest = recent[-limit]
        return recent, max(0.0, min(window, oldest + window - now))
    return (*recent, now), 0.0


class QuestionLimiter:
    """At most `limit` events per key in any `window` seconds, counted in this process's memory."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[Hashable, tuple[float, ...]] = {}

    def check(self, key: Hashable) -> float:
        """0 when the event may go ahead (and it is counted), else the seconds until it may."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        times, wait = admit(self._seen.get(key, ()), now, self.limit, self.window)
        self._seen[key] = times
        if wait == 0:
            self._forget_idle(now)
        return wait

    def forget_last(self, key: Hashable) -> None:
        """Take back the last event counted for `key` (it did not happen after all)."""
        times = self._seen.get(key)
        if times:
            self._seen[key] = times[:-1]

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event in the window, so the table does not grow with every user ever."""
        if len(self._seen) < 1024:
            return
        for key in [k for k, q in self._seen.items() if not q or q[-1] <= now - self.window]:
            del self._seen[key]


class QuestionBook(Protocol):
    """Where a shared limiter keeps each user's times (ChatStore): a read, and a compare-and-swap."""

    def question_times(self, who: str) -> QuestionTimes: ...

    def swap_question_times(self, who: str, seen: QuestionTimes, times: tuple[float, ...]) -> bool: ...


class SharedQuestionLimiter:
    """`QuestionLimiter`'s rule with its state in the database, so every replica counts the same questions.

    Blocking (a query, and an upsert for an admitted question): call it from a worker thread. The clock is
    the wall clock, which the processes share (each one's monotonic clock starts anywhere). A refused
    question writes nothing. Two replicas admitting one user's questions at once: the upsert of the one
    that read an older version does nothing, and that one reads and decides again; after SWAP_ATTEMPTS
    such losses (a user racing themself on many replicas) the question goes ahead, since a limit that
    refuses for a lost race would be worse than one question too many.
    """

    def __init__(
        self, book: QuestionBook, limit: int, window: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.book = book
        self.limit = limit
        self.window = window
        self._clock = clock

    def check(self, who: str) -> float:
        """0 when the question may go ahead (and it is counted for every replica), else the seconds until
        it may."""
        if self.limit <= 0:
            return 0.0
        for _ in range(SWAP_ATTEMPTS):
            seen = self.book.question_times(who)
            times, wait = admit(seen.times, self._clock(), self.limit, self.window)
            if wait > 0:
                return wait
            if self.book.swap_question_times(who, seen, times):
                return 0.0
        log.warning("rate limit of %s: lost %d writes in a row; the question goes ahead", who, SWAP_ATTEMPTS)
        return 0.0


class NoticeGate:
    """Whether to tell someone something again: once per `window` seconds per key, then silence.

    A refusal or a "please wait" costs a message, and a group takes 20 a minute: answering each of 40
    refused or over-limit messages would spend the group's allowance (and everyone's patience) on noise.

    Kept in each process's memory even when replicas share the rate limit: with N replicas a user may
    hear a notice up to N times a window (a few messages at most), which is not worth a database write
    per refused message; what must hold across replicas (the limit itself) is shared.
    """

    def __init__(self, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._told: dict[Hashable, float] = {}

    def first(self, key: Hashable) -> bool:
        """True (and remembered) when `key` was not told within the window; False: stay silent."""
        now = self._clock()
        told = self._told.get(key)
        if told is not None and now - told < self.window:
            return False
        self._told[key] = now
        if len(self._told) > 4096:
            self._told = {k: t for k, t in self._told.items() if now - t < self.window}
        return True
