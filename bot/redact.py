"""Keeps the bot token out of every log line and traceback, whatever library wrote it."""

from __future__ import annotations

import logging

MASK = "<bot-token>"


class TokenRedactor(logging.Filter):
    """A handler filter: replaces the token in the message and in the formatted traceback."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, MASK), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, MASK)
        return True


def install(token: str, logger: logging.Logger | None = None) -> TokenRedactor:
    """Filter every handler of `logger` (the root logger by default), where all records end up."""
    redactor = TokenRedactor(token)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(redactor)
    return redactor
