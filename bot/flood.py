"""Telegram's flood limits as a pure send budget (clock injected): when may the next request go?

Telegram lets a bot send about 30 messages a second overall and 20 a minute into one group; beyond that it
answers 429 with `retry_after`. PTB's AIORateLimiter meters groups with a leaky bucket (20 at once, then
one every 3 s), which a strict per-minute count still refuses, and a 429 then halts every request of the
bot, so one busy group stalled all chats. Here each group gets a sliding window of exactly its allowance,
a 429 pauses only the chat it named, and what is not a message (chat actions, button answers, reads) is
never held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .ratelimit import QuestionLimiter

GROUP_MESSAGES = 20  # per group ...
GROUP_PERIOD = 60.0  # ... in this many seconds
OVERALL_MESSAGES = 30  # per second, all chats together
_ALL = 0  # the overall window's key (no chat has id 0)
_MESSAGE_PREFIXES = ("send", "edit", "copy", "forward")


def chat_of(data: Mapping[str, Any]) -> int | None:
    """The chat a request addresses (an int id), if any."""
    try:
        return int(data["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None


def is_message(endpoint: str) -> bool:
    """Whether a request posts or edits a message (what the flood limits count); chat actions do not."""
    name = endpoint.lower()
    return name.startswith(_MESSAGE_PREFIXES) and name != "sendchataction"


class SendBudget:
    """How long a request must wait: the group's window, the overall window, and any 429 pause."""

    def __init__(
        self,
        *,
        group_messages: int = GROUP_MESSAGES,
        group_period: float = GROUP_PERIOD,
        overall_messages: int = OVERALL_MESSAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._groups = QuestionLimiter(group_messages, group_period, clock=clock)
        self._overall = QuestionLimiter(overall_messages, 1.0, clock=clock)
        self._paused: dict[int, float] = {}  # chat (or _ALL) -> until when Telegram asked us to wait

    def wait(self, endpoint: str, chat: int | None) -> float:
        """0 when the request may go now (and it is counted), else the seconds to wait before asking again."""
        now = self._clock()
        key = _ALL if chat is None else chat
        paused = self._paused.get(key, 0.0) - now
        if paused > 0:
            return paused
        self._paused.pop(key, None)
        if not is_message(endpoint) or chat is None:
            return 0.0
        if chat < 0:
            group = self._groups.check(chat)
            if group > 0:
                return group
        overall = self._overall.check(_ALL)
        if overall > 0 and chat < 0:
            self._groups.forget_last(chat)  # not sent after all: give the group its turn back
        return overall

    def pause(self, chat: int | None, seconds: float) -> None:
        """Telegram said 429 for this chat (or for a request without one): hold only that back."""
        key = _ALL if chat is None else chat
        self._paused[key] = max(self._paused.get(key, 0.0), self._clock() + seconds)
        if len(self._paused) > 1024:
            now = self._clock()
            self._paused = {k: t for k, t in self._paused.items() if t > now}
