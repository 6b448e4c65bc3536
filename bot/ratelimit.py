"""Per-user question rate limit and once-per-window notices (pure, clock injected)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class QuestionLimiter:
    """At most `limit` questions per user in any `window` seconds; says how long to wait otherwise."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}

    def check(self, user_id: int) -> float:
        """0 when the question may go ahead (and it is counted), else the seconds until it may."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        recent = self._seen.setdefault(user_id, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.limit:
            return recent[0] + self.window - now
        recent.append(now)
        self._forget_idle(now)
        return 0.0

    def forget_last(self, user_id: int) -> None:
        """Take back the last event counted for `user_id` (it did not happen after all)."""
        recent = self._seen.get(user_id)
        if recent:
            recent.pop()

    def _forget_idle(self, now: float) -> None:
        """Drop users with no question in the window, so the table does not grow with every user ever."""
        if len(self._seen) < 1024:
            return
        for user in [u for u, q in self._seen.items() if not q or q[-1] <= now - self.window]:
            del self._seen[user]


class NoticeGate:
    """Whether to tell someone something again: once per `window` seconds per key, then silence.

    A refusal or a "please wait" costs a message, and a group takes 20 a minute: answering each of 40
    refused or over-limit messages would spend the group's allowance (and everyone's patience) on noise.
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
