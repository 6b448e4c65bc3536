"""Outgoing requests: Telegram's flood limits, 429s, timeouts and network errors, retried with backoff.

`AIORateLimiter` keeps the bot under Telegram's limits and retries a 429 after the `retry_after` Telegram
names. This adds retries with exponential backoff for network failures, but only where a retry cannot
post a message twice: the request never reached Telegram (no connection, a full pool, a 5xx answer), or
the method is harmless to repeat (reads, chat actions, settings).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_REPEATABLE_PREFIXES = ("get", "setMy", "setWebhook", "deleteWebhook", "deleteMyCommands", "sendChatAction")


def retryable(endpoint: str, exc: BaseException) -> bool:
    """Whether repeating the request after `exc` is safe (never a duplicate message) and may help."""
    if not isinstance(exc, NetworkError) or isinstance(exc, BadRequest):
        return False  # refusals (400, 403, 409, bad token) will not change by asking again
    cause = exc.__cause__
    if cause is None or isinstance(cause, _NOT_SENT):
        return True  # Telegram answered 5xx, or nothing was sent at all
    return endpoint.startswith(_REPEATABLE_PREFIXES)


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter with `retries` for 429s and the same number, with backoff, for network errors."""

    def __init__(self, *, retries: int, backoff: float) -> None:
        super().__init__(max_retries=retries)
        self.retries = retries
        self.backoff = backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        async def with_retries(*a: Any, **kw: Any) -> Any:
            delay = self.backoff
            for attempt in range(self.retries + 1):
                try:
                    return await callback(*a, **kw)
                except NetworkError as exc:
                    if attempt == self.retries or not retryable(endpoint, exc):
                        raise
                    log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, delay)
                    await asyncio.sleep(delay)
                    delay *= 2
            raise AssertionError("unreachable")

        return await super().process_request(with_retries, args, kwargs, endpoint, data, rate_limit_args)
