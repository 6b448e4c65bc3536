"""A per-user question rate limit (pure, clock injected): a sliding window of recent questions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


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

    def _forget_idle(self, now: float) -> None:
        """Drop users with no question in the window, so the table does not grow with every user ever."""
        if len(self._seen) < 1024:
            return
        for user in [u for u, q in self._seen.items() if not q or q[-1] <= now - self.window]:
            del self._seen[user]
