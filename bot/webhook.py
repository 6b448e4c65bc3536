"""The webhook server: Telegram's updates in, anything else refused before its body is read.

PTB's own server reads a whole request body (tornado allows 100 MB) before it looks at the secret, so
one large POST with a wrong secret cost a replica twice its size in memory, and a few at once took it
down; it also used the URL path as a regular expression (`/hook.*` matched `/hookANYTHING`). Here:
- the secret header is compared (in constant time) as soon as the headers arrive; a request without
  it gets 403 and its body is never read;
- a body may be at most `MAX_BODY` bytes (Telegram's updates are a few KB), and all bodies being read
  at once together at most `MAX_BUFFERED`: past that a request gets 503 and Telegram retries it later;
- the path is matched literally (with or without a trailing slash);
- with an inbox (bot/inbox.py), an update is written to the database before the 200.
Updates go onto the Application's update queue, as PTB's Updater would put them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Bot, Update
from telegram.ext import ExtBot
from tornado.httpserver import HTTPServer

from newsqa.index.storage.pgconn import unavailable

from .inbox import Inbox

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # bytes in one update; Telegram's are a few KB (a long message, its entities)
MAX_BUFFERED = 8 * 1024 * 1024  # bytes of bodies held across every connection at once
BODY_TIMEOUT = 30.0  # seconds to send a body: a trickling sender does not hold the budget for long
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class BodyBudget:
    """Bytes of request bodies held now, across connections, against a total."""

    def __init__(self, limit: int = MAX_BUFFERED) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held = max(0, self.held - size)


def route(path: str) -> str:
    """The handler's pattern for the webhook URL's path: the path itself, not a regular expression."""
    return "/" + re.escape(path.strip("/")) + "/?"


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """POSTs from Telegram: secret first, then a bounded body, then the update onto the queue."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(
        self, bot: Bot, queue: asyncio.Queue[Any], secret: str, budget: BodyBudget, inbox: Inbox | None
    ) -> None:
        self.bot = bot
        self.inbox = inbox
        self.queue = queue
        self.secret = secret.encode()
        self.budget = budget
        self.chunks: list[bytes] = []
        self.size = 0
        self.refused: HTTPStatus | None = None

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", 'application/json; charset="utf-8"')

    def prepare(self) -> None:
        """Runs on the headers alone: a refusal here means the body is never read."""
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.secret):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        declared = self.request.headers.get("Content-Length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        """Kept only within both caps; past one, the rest is read and dropped, and `post` refuses it (a
        chunked body past MAX_BODY is cut off by tornado itself, closing the connection)."""
        if self.refused:
            return
        if self.size + len(chunk) > MAX_BODY:
            self.refused = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        elif not self.budget.take(len(chunk)):
            log.warning("webhook: %d bytes of bodies held already; a request is refused", self.budget.held)
            self.refused = HTTPStatus.SERVICE_UNAVAILABLE
        else:
            self.size += len(chunk)
            self.chunks.append(chunk)
            return
        self._release()

    async def post(self) -> None:
        body = b"".join(self.chunks)
        self._release()
        if self.refused:
            raise tornado.web.HTTPError(self.refused)
        try:
            update = Update.de_json(json.loads(body), self.bot)
        except Exception as exc:  # not JSON, or not an update: the sender's problem, one line
            log.warning("webhook: a request that is not an update (%s)", type(exc).__name__)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        if update is not None:
            if self.inbox is not None and not await self._accepted(update.update_id, body):
                self.set_status(HTTPStatus.OK)  # Telegram delivering it again: handled (or being) already
                return
            if isinstance(self.bot, ExtBot):
                self.bot.insert_callback_data(update)
            await self.queue.put(update)
        self.set_status(HTTPStatus.OK)

    async def _accepted(self, update_id: int, body: bytes) -> bool:
        """Written to the inbox before the 200 (bot/inbox.py). While the database is away the update is
        handled anyway: its handler tells the user the archive is unavailable, so nothing is silently lost
        (a 503 would leave them waiting for Telegram's redelivery). Any other failure to write it is a
        503, and Telegram delivers the update again later."""
        assert self.inbox is not None
        try:
            return await asyncio.to_thread(self.inbox.accept, update_id, body.decode("utf-8", "replace"))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if unavailable(exc):  # the database is away: handled at once, and the user is told so
                log.warning("webhook: update %s handled without the inbox (%s)", update_id, first)
                return True
            log.warning("webhook: update %s not accepted (%s); Telegram sends it again", update_id, first)
            raise tornado.web.HTTPError(HTTPStatus.SERVICE_UNAVAILABLE) from None

    def _release(self) -> None:
        self.budget.give_back(self.size)
        self.size = 0
        self.chunks = []

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        self._release()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Refusals are the point, not errors: no traceback for an HTTPError (tornado logs one)."""
        if not isinstance(value, tornado.web.HTTPError):
            log.error("webhook: %s", value, exc_info=(typ, value, tb))


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: the bot logs what it answers."""


class WebhookServer:
    """Listens on `listen`:`port` and serves `path` until stopped."""

    def __init__(
        self,
        bot: Bot,
        queue: asyncio.Queue[Any],
        *,
        path: str,
        secret: str,
        budget: BodyBudget | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        handler_args = {
            "bot": bot,
            "queue": queue,
            "secret": secret,
            "budget": budget or BodyBudget(),
            "inbox": inbox,
        }
        self._app = _App([(route(path), UpdateHandler, handler_args)])
        self._server: HTTPServer | None = None

    def start(self, listen: str, port: int) -> None:
        self._server = HTTPServer(
            self._app,
            max_body_size=MAX_BODY,
            max_buffer_size=MAX_BODY + 64 * 1024,
            body_timeout=BODY_TIMEOUT,
            idle_connection_timeout=60.0,
        )
        self._server.listen(port, address=listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
