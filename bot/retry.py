"""Outgoing requests: Telegram's flood limits, 429s, timeouts and network errors, retried with backoff.

Requests wait for their chat's share of Telegram's flood limits (`flood.SendBudget`), and a 429 is retried
after the `retry_after` Telegram names, holding back only the chat it concerned. Network failures are
retried with exponential backoff, but only where a retry cannot post a message twice: the request never
reached Telegram (no connection, a full pool, a 5xx answer), or the method is harmless to repeat (reads,
chat actions, settings).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from .flood import SendBudget, chat_of

log = logging.getLogger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Requests whose repeat posts nothing twice. answerCallbackQuery included: a second answer to one tap is
# refused by Telegram, never shown; an unanswered tap spins on the user's screen (a keep-alive connection
# the server closed as the request went out is a ReadError, seen in CI's tap-flood test).
_REPEATABLE_PREFIXES = (
    "get",
    "setMy",
    "setWebhook",
    "deleteWebhook",
    "deleteMyCommands",
    "sendChatAction",
    "answerCallbackQuery",
)


def retryable(endpoint: str, exc: BaseException) -> bool:
    """Whether repeating the request after `exc` is safe (never a duplicate message) and may help."""
    if not isinstance(exc, NetworkError) or isinstance(exc, BadRequest):
        return False  # refusals (400, 403, 409, bad token) will not change by asking again
    cause = exc.__cause__
    if cause is None or isinstance(cause, _NOT_SENT):
        return True  # Telegram answered 5xx, or nothing was sent at all
    return endpoint.startswith(_REPEATABLE_PREFIXES)


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class RetryingRateLimiter(BaseRateLimiter[int]):
    """Flood limits per chat (`flood.SendBudget`), `retries` for 429s, and as many with backoff for network
    errors. A request waits only for its own chat's allowance or pause, never for another chat's."""

    def __init__(self, *, retries: int, backoff: float, budget: SendBudget | None = None) -> None:
        self.retries = retries
        self.backoff = backoff
        self.budget = budget or SendBudget()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat = chat_of(data)
        for attempt in range(self.retries + 1):
            while (wait := self.budget.wait(endpoint, chat)) > 0:
                await asyncio.sleep(wait)
            try:
                return await self._with_network_retries(callback, args, kwargs, endpoint)
            except RetryAfter as exc:
                delay = _seconds(exc.retry_after)
                self.budget.pause(chat, delay)  # this chat only
                if attempt == self.retries or endpoint == "sendChatAction":  # typing is not worth a wait
                    raise
                log.info("Telegram asked to wait %.0f s before %s to chat %s", delay, endpoint, chat)
        raise AssertionError("unreachable")

    async def _with_network_retries(
        self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any, kwargs: Any, endpoint: str
    ) -> Any:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return await callback(*args, **kwargs)
            except NetworkError as exc:
                if attempt == self.retries or not retryable(endpoint, exc):
                    raise
                log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")
