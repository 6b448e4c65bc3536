"""Keeps the bot token out of every log line and traceback, whatever library wrote it.

PTB logs the Bot API URL (which holds the token) at DEBUG when it builds its Bot, and httpx logs request
URLs; handler filters only cover the handlers that exist when they are installed. So `redacting`, which
`run_bot` holds for as long as the bot runs, masks the token as each record is made (a log record
factory), before any handler, filter or capture can see it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

MASK = "<bot-token>"


class TokenRedactor(logging.Filter):
    """A handler filter: replaces the token in the message and in the formatted traceback."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, (self.token,))
        return True


def redact_record(record: logging.LogRecord, tokens: tuple[str, ...], *, freeze: bool = False) -> None:
    """Mask each of `tokens` in the record's message and traceback text (in place).

    `freeze` formats the message now even without a token in it: PTB logs a getFile result dict that it
    then extends with the download URL (token included), so a lazily formatted record would leak later.
    """
    tokens = tuple(t for t in tokens if t)
    if not tokens:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format: logging reports it when the record is emitted
        return
    if any(t in message for t in tokens):
        for token in tokens:
            message = message.replace(token, MASK)
        record.msg, record.args = message, None
    elif freeze and record.args:
        record.msg, record.args = message, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text and any(t in record.exc_text for t in tokens):
        for token in tokens:
            record.exc_text = record.exc_text.replace(token, MASK)


def install(token: str, logger: logging.Logger | None = None) -> TokenRedactor:
    """Filter every handler of `logger` (the root logger by default), where all records end up."""
    redactor = TokenRedactor(token)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor


_active: Counter[str] = Counter()  # tokens of the bots running in this process
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    if _active:
        redact_record(record, tuple(_active), freeze=True)
    return record


@contextlib.contextmanager
def redacting(token: str) -> Iterator[None]:
    """While inside, no log record made anywhere in the process contains `token`.

    The factory goes in once and stays (inert with no bot running): taking it out again could unhook a
    factory someone stacked on top of it meanwhile. Nested use and several bots share it.
    """
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_factory)
    _active[token] += 1
    try:
        yield
    finally:
        _active[token] -= 1
        if _active[token] <= 0:
            del _active[token]
