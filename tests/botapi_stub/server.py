"""A strict local stand-in for the Telegram Bot API, served over HTTP on 127.0.0.1.

The real python-telegram-bot ``Application`` talks to it exactly as it would to api.telegram.org, so
end-to-end tests exercise the bot's real request building, HTML and keyboards. It rejects what Telegram
rejects (with Telegram's error JSON), so a bot that passes here does not break in production. Tests drive
it from Python: push user messages/button taps/documents, then read what the bot sent.

Runs stdlib ``ThreadingHTTPServer`` in a background thread, so it works whether the bot under test runs in
the test's event loop or in another thread. All control methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from .entities import (
    MAX_CAPTION_UTF16,
    MAX_MESSAGE_UTF16,
    EntityParseError,
    parse_text,
    utf16_len,
)

T = TypeVar("T")

DEFAULT_TOKEN = "123456789:AAStub-token-for-newsqa-tests_0123456"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files ("file is too big")
SEND_METHODS = ("sendMessage", "sendDocument", "sendPhoto")
# What Telegram's per-group flood limit counts: messages posted or edited (not chat actions or reads).
FLOOD_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)
# sendPhoto's limits (Bot API docs): at most 10 MB, width + height at most 10000, aspect ratio at most 20
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
MAX_PHOTO_RATIO = 20
GROUP_LIMIT = (20, 60.0)  # Telegram: "no more than 20 messages per minute in the same group"

_METHOD_NAMES = (
    "getMe getUpdates deleteWebhook setWebhook getWebhookInfo setMyCommands getMyCommands deleteMyCommands "
    "setMyDescription setMyShortDescription setMyName sendMessage editMessageText editMessageReplyMarkup "
    "deleteMessage answerCallbackQuery sendChatAction sendDocument sendPhoto getFile"
).split()
CANONICAL_METHODS = {name.lower(): name for name in _METHOD_NAMES}

_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)
_INT_FIELDS = frozenset(
    {"message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id", "cache_time"}
    | {"message_thread_id", "max_connections"}
)
_BOOL_FIELDS = frozenset(
    {"disable_web_page_preview", "disable_notification", "protect_content", "drop_pending_updates"}
    | {"show_alert", "allow_sending_without_reply", "disable_content_type_detection"}
)
_JSON_FIELDS = frozenset(
    {"reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters"}
    | {"commands", "scope", "allowed_updates"}
)
_BUTTON_ACTIONS = (
    "callback_data url switch_inline_query switch_inline_query_current_chat switch_inline_query_chosen_chat "
    "web_app login_url callback_game pay copy_text"
).split()
_BUTTON_URL = re.compile(r"^(https?|tg)://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_API_PATH = re.compile(r"^/bot([^/]*)/([^/]*)$")
_FILE_PATH = re.compile(r"^/file/bot([^/]*)/(.+)$")
_AUTO_ENTITIES = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")),
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_TEXT_BUTTON = "Text buttons are unallowed in the inline keyboard"
_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class _ApiFailure(Exception):
    """Raised inside a method to answer with Telegram's error JSON."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


class _Throttled(_ApiFailure):
    """A 429 for Telegram's flood limits: recorded in ``throttled``, not in ``errors``."""


class _ClientGone(Exception):
    """The HTTP client hung up during a long poll: answer nothing, like a dropped connection."""


def _bad(description: str) -> _ApiFailure:
    return _ApiFailure(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Outgoing:
    """One call by the bot that sends, edits or deletes a message, as recorded by the stub."""

    method: str
    chat_id: int
    message_id: int
    text: str  # plain text after entity parsing (the caption for sendDocument and sendPhoto)
    entities: list[dict[str, Any]]
    params: dict[str, Any]  # parameters as received (decoded), incl. parse_mode and reply_markup
    document: dict[str, Any] | None = None
    content: bytes | None = None
    photo: list[dict[str, Any]] | None = None  # sendPhoto: the PhotoSize list Telegram answered

    @property
    def parse_mode(self) -> str | None:
        return self.params.get("parse_mode")

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.params.get("reply_markup")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass(frozen=True)
class ApiError:
    """An error the stub answered (tests assert ``errors`` stays empty), or a ``fail_next`` injection."""

    method: str
    error_code: int
    description: str
    params: dict[str, Any]


@dataclass
class CallbackQueryRecord:
    """A button tap pushed by a test, and the bot's answers to it (exactly one is correct)."""

    id: str
    chat_id: int
    message_id: int
    data: str
    user_id: int
    answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Injection:
    error_code: int | None
    description: str
    parameters: dict[str, Any] | None
    delay: float


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    content: bytes | None
    file_size: int
    file_path: str | None = None
    size: tuple[int, int] | None = None  # (width, height) when it was sent as a photo


@dataclass
class _Upload:
    filename: str
    mime_type: str
    content: bytes


_Params = dict[str, Any]
_Files = dict[str, _Upload]
_Alive = Callable[[], bool]  # is the HTTP client still connected?


class BotApiStub:
    """The fake Telegram: one bot token, its chats, users, messages, updates and files."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "newsqa_test_bot",
        bot_first_name: str = "NewsQA Test Bot",
        group_limit: tuple[int, float] | None = GROUP_LIMIT,
    ) -> None:
        """``group_limit`` (messages, seconds) is enforced per group as Telegram does: a sliding window,
        then 429 with ``retry_after`` (whole seconds until the oldest message leaves it). None: off."""
        self.token = token
        self.group_limit = group_limit
        prefix = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(prefix) if prefix.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._cond = threading.Condition()  # guards everything below; RLock, so predicates may re-enter
        self._closing = False
        self._stopped = threading.Event()
        self._httpd: _StubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._next_update_id = 10_000
        self._updates: list[dict[str, Any]] = []
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._last_message_id: dict[int, int] = {}
        self._last_sender: dict[int, int] = {}  # chat -> the user who last wrote there (taps buttons)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._sent: list[Outgoing] = []
        self._callbacks: dict[str, CallbackQueryRecord] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, str] = {}
        self._errors: list[ApiError] = []
        self._injected: list[ApiError] = []
        self._throttled: list[ApiError] = []  # 429s for the group flood limit (kept apart from errors)
        self._group_sends: dict[int, list[float]] = {}  # group -> when its recent messages were sent
        self._injections: dict[str, list[_Injection]] = {}
        self._chat_actions: list[tuple[int, str]] = []
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.profile: dict[str, dict[str, Any]] = {}  # setMyDescription/setMyShortDescription/setMyName
        self.calls: list[str] = []  # every method called, in order (canonical names)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> BotApiStub:
        if self._httpd is not None or self._closing:
            raise RuntimeError("a BotApiStub starts once: make a new one per test")
        self._httpd = _StubHTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="botapi-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wakes long polls, closes open connections, joins the server thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._stopped.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> BotApiStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("BotApiStub not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------ test control: users act

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        chat_title: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """A user sends ``text``; commands and URLs get entities as Telegram adds them. Returns the update.

        ``date`` (Unix time) is when the message was sent; now when not given.
        """
        with self._cond:
            message = self._user_message(
                chat_id, user_id, chat_type, username, first_name, chat_title, reply_to_message_id
            )
            message["text"] = text
            if date is not None:
                message["date"] = date
            found = entities if entities is not None else _auto_entities(text)
            if found:
                message["entities"] = found
            return self._store_and_enqueue(message)

    def push_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        user_id: int | None = None,
        file_size: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str | None = None,
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A user uploads a file; getFile + download then serve ``content``.

        ``file_size`` overrides the reported size, to test the 20 MB limit without allocating 20 MB.
        """
        with self._cond:
            message = self._user_message(chat_id, user_id, chat_type, username, first_name, chat_title, None)
            stored = self._store_file(filename, mime_type, content, file_size)
            message["document"] = _document_json(stored)
            if caption:
                message["caption"] = caption
                found = _auto_entities(caption)
                if found:
                    message["caption_entities"] = found
            return self._store_and_enqueue(message)

    def push_callback(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None) -> str:
        """A user taps the inline button carrying ``data`` under a bot message; returns the query id.

        Refuses (ValueError) to tap a button the message does not currently show, as a real client can't.
        """
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            offered = [b.get("callback_data") for row in rows for b in row if "callback_data" in b]
            if data not in offered:
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}: {offered}")
            uid = user_id if user_id is not None else self._last_sender.get(chat_id)
            if uid is None or uid not in self._users:
                raise ValueError(f"unknown user {uid}: let that user push a message first")
            query_id = str(4_000_000_000_000 + next(self._ids))
            self._callbacks[query_id] = CallbackQueryRecord(query_id, chat_id, message_id, data, uid)
            query = {
                "id": query_id,
                "from": copy.deepcopy(self._users[uid]),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(hash((chat_id, self.bot_user["id"])))),
                "data": data,
            }
            self._enqueue({"callback_query": query})
            return query_id

    def push_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update JSON as is (an update_id is added if missing)."""
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
                self._updates.append(update)
                self._cond.notify_all()
                return copy.deepcopy(update)
            return self._enqueue(update)

    def block_chat(self, chat_id: int) -> None:
        """The user blocks the bot: sends to this chat fail with 403 like Telegram's."""
        with self._cond:
            self._blocked.add(chat_id)

    # ------------------------------------------------------------ test control: inspect

    def sent(self, chat_id: int | None = None, *, methods: tuple[str, ...] | None = None) -> list[Outgoing]:
        """Everything the bot sent/edited/deleted (optionally for one chat or some methods), in order."""
        with self._cond:
            return [
                o
                for o in self._sent
                if (chat_id is None or o.chat_id == chat_id) and (methods is None or o.method in methods)
            ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message's current JSON (after edits), or None if it never existed or was deleted."""
        with self._cond:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    @property
    def errors(self) -> list[ApiError]:
        """Every error answered (4xx like Telegram's, or 500 if the stub itself crashed), in order."""
        with self._cond:
            return list(self._errors)

    @property
    def throttled(self) -> list[ApiError]:
        """429s answered because a group's flood limit was reached (a well-paced bot never sees one)."""
        with self._cond:
            return list(self._throttled)

    @property
    def injected(self) -> list[ApiError]:
        """Failures delivered by ``fail_next`` (kept apart from ``errors``)."""
        with self._cond:
            return list(self._injected)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(a) for q in self._callbacks.values() for a in q.answers]

    @property
    def callback_queries(self) -> list[CallbackQueryRecord]:
        with self._cond:
            return [copy.deepcopy(q) for q in self._callbacks.values()]

    def unanswered_callbacks(self) -> list[str]:
        with self._cond:
            return [q.id for q in self._callbacks.values() if not q.answers]

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        with self._cond:
            return list(self._chat_actions)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The commands set for the default scope and no language."""
        with self._cond:
            return copy.deepcopy(self._commands.get(('{"type": "default"}', ""), []))

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates the bot has not confirmed yet (via getUpdates' offset)."""
        with self._cond:
            return copy.deepcopy(self._updates)

    def assert_no_errors(self) -> None:
        errors = self.errors
        if errors:
            raise AssertionError("the stub answered errors:\n" + "\n".join(map(repr, errors)))

    def fail_next(
        self,
        method: str,
        *,
        error_code: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (after ``delay`` s).

        429 carries ``parameters.retry_after`` (default 1) so PTB raises RetryAfter; 5xx, 4xx likewise.
        ``error_code=None`` with a delay only delays: the call then succeeds, as when Telegram is slow
        and the client has already timed out (the message may still get sent!).
        """
        canonical = CANONICAL_METHODS.get(method.lower())
        if canonical is None:
            raise ValueError(f"unknown method {method!r}")
        parameters = None
        if error_code == 429:
            retry_after = 1 if retry_after is None else retry_after
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif error_code is not None:
            if retry_after is not None:
                parameters = {"retry_after": retry_after}
            defaults = {400: "Bad Request: injected failure", 403: "Forbidden: bot was blocked by the user"}
            try:
                phrase = HTTPStatus(error_code).phrase
            except ValueError:
                phrase = "Error"
            description = description or defaults.get(error_code, phrase)
        injection = _Injection(error_code, description or "", parameters, delay)
        with self._cond:
            self._injections.setdefault(canonical, []).extend([injection] * times)

    # ------------------------------------------------------------ test control: wait

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0, *, what: str = "condition") -> T:
        """Block until ``predicate()`` is truthy and return its value; TimeoutError tells what was sent.

        Not for use inside a running event loop (it would block the bot): use ``await_for`` there.
        """
        _refuse_inside_event_loop()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._report(f"timed out after {timeout}s waiting for {what}"))
                self._cond.wait(remaining)

    def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Outgoing]:
        """Block until the bot has sent ``count`` new messages (SEND_METHODS) to ``chat_id``."""
        return self.wait_for(
            lambda: self._sends_if(chat_id, count), timeout, what=f"{count} message(s) to chat {chat_id}"
        )

    async def await_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, *, what: str = "condition"
    ) -> T:
        """``wait_for`` for async tests: polls without blocking the event loop the bot runs in."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self._report(f"timed out after {timeout}s waiting for {what}"))
            await asyncio.sleep(0.01)

    async def await_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Outgoing]:
        """``wait_for_messages`` for async tests."""
        return await self.await_for(
            lambda: self._sends_if(chat_id, count), timeout, what=f"{count} message(s) to chat {chat_id}"
        )

    def _sends_if(self, chat_id: int, count: int) -> list[Outgoing]:
        """The new messages in ``chat_id`` once there are ``count`` of them, else [] (falsy: keep waiting)."""
        if count < 1:
            raise ValueError("count must be >= 1")
        sends = self.sent(chat_id, methods=SEND_METHODS)
        return sends if len(sends) >= count else []

    def _report(self, headline: str) -> str:
        with self._cond:
            lines = [headline, f"calls: {self.calls}", "sent:"]
            lines += [f"  {o.method} chat={o.chat_id} id={o.message_id} {o.text[:100]!r}" for o in self._sent]
            lines += ["errors:"] + [f"  {e!r}" for e in self._errors]
            lines.append(f"unconfirmed updates: {len(self._updates)}")
        return "\n".join(lines)

    # ------------------------------------------------------------ users, chats, messages, updates

    def _user_message(
        self,
        chat_id: int,
        user_id: int | None,
        chat_type: str,
        username: str | None,
        first_name: str | None,
        chat_title: str | None,
        reply_to_message_id: int | None,
    ) -> dict[str, Any]:
        if chat_type not in ("private", "group", "supergroup"):
            raise ValueError(f"chat_type must be private, group or supergroup, not {chat_type!r}")
        if chat_type == "private":
            if user_id is not None and user_id != chat_id:
                raise ValueError("in a private chat, chat_id is the user's id: leave user_id out")
            if chat_id <= 0:
                raise ValueError("private chat ids (= user ids) are positive")
            user_id = chat_id
        elif chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups look like -100...)")
        uid = user_id if user_id is not None else 1000
        user = self._users.setdefault(uid, {"id": uid, "is_bot": False, "first_name": f"User{uid}"})
        if first_name is not None:
            user["first_name"] = first_name
        user["username"] = username if username is not None else user.get("username", f"user{uid}")
        chat = self._chats.get(chat_id)
        if chat is not None and chat["type"] != chat_type:
            raise ValueError(f"chat {chat_id} is a {chat['type']} chat, not {chat_type}")
        if chat is None or chat_type == "private":
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
                chat["username"] = user["username"]
            else:
                chat = {"id": chat_id, "type": chat_type, "title": chat_title or f"Test group {-chat_id}"}
            self._chats[chat_id] = chat
        self._last_sender[chat_id] = uid
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": copy.deepcopy(user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if reply_to_message_id is not None:
            replied = self._messages.get((chat_id, reply_to_message_id))
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id} to reply to")
            message["reply_to_message"] = _without_reply(replied)
        return message

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store_and_enqueue(self, message: dict[str, Any]) -> dict[str, Any]:
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        return self._enqueue({"message": copy.deepcopy(message)})

    def _enqueue(self, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    def _store_file(
        self, filename: str, mime_type: str, content: bytes | None, size: int | None
    ) -> _StoredFile:
        n = next(self._ids)
        stored = _StoredFile(
            file_id=f"BQACAgIAAxkBAAI{n:08d}stubfile",
            file_unique_id=f"AgAD{n:06d}",
            file_name=filename,
            mime_type=mime_type,
            content=content,
            file_size=size if size is not None else len(content or b""),
        )
        self._files[stored.file_id] = stored
        return stored

    def _record(self, outgoing: Outgoing) -> None:
        self._sent.append(outgoing)
        self._cond.notify_all()

    # ------------------------------------------------------------ HTTP entry points

    def handle_api(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, _Upload],
        client_alive: Callable[[], bool],
    ) -> tuple[int, dict[str, Any]] | None:
        """One Bot API call -> (HTTP status, JSON body); None when the client hung up mid long poll."""
        canonical = CANONICAL_METHODS.get(method.lower())
        name = canonical or method
        if token != self.token:
            return self._failure(name, params, _ApiFailure(401, "Unauthorized"))
        if canonical is None:
            return self._failure(name, params, _ApiFailure(404, "Not Found"))
        with self._cond:
            self.calls.append(canonical)
            queue = self._injections.get(canonical)
            injection = queue.pop(0) if queue else None
        if injection is not None:
            if injection.delay:
                self._stopped.wait(injection.delay)
            if injection.error_code is not None:
                failure = _ApiFailure(injection.error_code, injection.description, injection.parameters)
                return self._failure(canonical, params, failure, injected=True)
        try:
            decoded = _decode_params(params)
            with self._cond:
                self._check_flood(canonical, decoded)
            result = getattr(self, f"_api_{canonical.lower()}")(decoded, files, client_alive)
        except _Throttled as failure:
            return self._failure(canonical, params, failure, throttled=True)
        except _ApiFailure as failure:
            return self._failure(canonical, params, failure)
        except _ClientGone:
            return None
        except Exception as exc:  # a bug in the stub: answer like a Telegram outage, and make it visible
            return self._failure(
                canonical, params, _ApiFailure(500, f"Internal Server Error (stub: {exc!r})")
            )
        return 200, {"ok": True, "result": result}

    def handle_file(self, token: str, file_path: str) -> tuple[int, bytes | None]:
        """A download from ``/file/bot<token>/<file_path>``; only paths handed out by getFile exist."""
        with self._cond:
            if token != self.token:
                return 401, None
            file_id = self._file_paths.get(file_path)
            stored = self._files.get(file_id) if file_id else None
            if stored is None or stored.content is None:
                return 404, None
            return 200, stored.content

    def _check_flood(self, method: str, p: dict[str, Any]) -> None:
        """Count a message to a group in its sliding window, or refuse it with 429 when the window is full."""
        if self.group_limit is None or method not in FLOOD_METHODS:
            return
        chat_id = p.get("chat_id")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or chat["type"] == "private":
            return
        limit, period = self.group_limit
        now = time.monotonic()
        recent = [t for t in self._group_sends.get(chat_id, []) if t > now - period]
        if len(recent) >= limit:
            self._group_sends[chat_id] = recent
            retry_after = max(1, math.ceil(recent[0] + period - now))
            raise _Throttled(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        self._group_sends[chat_id] = [*recent, now]

    def _failure(
        self,
        method: str,
        params: dict[str, Any],
        failure: _ApiFailure,
        *,
        injected: bool = False,
        throttled: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"ok": False, "error_code": failure.error_code}
        body["description"] = failure.description
        if failure.parameters:
            body["parameters"] = failure.parameters
        record = ApiError(method, failure.error_code, failure.description, dict(params))
        with self._cond:
            if injected:
                self._injected.append(record)
            elif throttled:
                self._throttled.append(record)
            else:
                self._errors.append(record)
            self._cond.notify_all()
        return failure.error_code, body

    # ------------------------------------------------------------ methods: bot & updates

    def _api_getme(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getupdates(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        limit = min(max(p.get("limit", 100), 1), 100)
        timeout = max(p.get("timeout", 0), 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook is not None:
                raise _ApiFailure(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            self._confirm(p.get("offset"))
            if "allowed_updates" in p:
                self._allowed_updates = p["allowed_updates"] or None
            while True:
                ready = self._deliverable(limit)
                if ready or self._closing:
                    return ready
                if generation != self._poll_generation:
                    self._conflict(alive)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(min(remaining, 0.2))
                if not alive():
                    raise _ClientGone

    def _conflict(self, alive: Callable[[], bool]) -> None:
        """A newer getUpdates arrived: Telegram ends the older one with 409, unless its client left."""
        for _ in range(10):  # a cancelled PTB poll closes its socket a moment after the next poll starts
            if not alive():
                raise _ClientGone
            self._cond.wait(0.03)
        raise _ApiFailure(409, _TERMINATED)

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        if allowed is not None:  # Telegram does not keep updates of types the bot did not ask for
            self._updates = [u for u in self._updates if _update_type(u) in allowed]
        return copy.deepcopy(self._updates[:limit])

    def _api_setwebhook(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        url = p.get("url", "")
        with self._cond:
            if not url:
                self.webhook = None
            elif not str(url).lower().startswith("https://"):
                raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
            else:
                self.webhook = dict(p)
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_deletewebhook(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            self.webhook = None
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_getwebhookinfo(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            info: dict[str, Any] = {
                "url": (self.webhook or {}).get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._allowed_updates is not None:
                info["allowed_updates"] = list(self._allowed_updates)
            return info

    # ------------------------------------------------------------ methods: commands & profile

    def _api_setmycommands(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND.match(command):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        with self._cond:
            self._commands[(_scope_key(p.get("scope")), p.get("language_code") or "")] = cleaned
        return True

    def _api_getmycommands(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        return self.commands_for(p.get("scope"), p.get("language_code") or "")

    def _api_deletemycommands(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            self._commands.pop((_scope_key(p.get("scope")), p.get("language_code") or ""), None)
        return True

    def _set_profile(self, field_name: str, limit: int, p: dict[str, Any]) -> bool:
        value = p.get(field_name) or ""
        if len(value) > limit:
            raise _bad(f"{field_name} is too long")
        with self._cond:
            self.profile.setdefault(field_name, {})[p.get("language_code") or ""] = value
        return True

    def _api_setmydescription(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        return self._set_profile("description", 512, p)

    def _api_setmyshortdescription(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        return self._set_profile("short_description", 120, p)

    def _api_setmyname(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        return self._set_profile("name", 64, p)

    # ------------------------------------------------------------ methods: messages

    def _chat_id(self, p: dict[str, Any]) -> int:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, str):
            found = [cid for cid, chat in self._chats.items() if "@" + str(chat.get("username")) == raw]
            if not found:
                raise _bad("chat not found")
            raw = found[0]
        if raw not in self._chats:
            raise _bad("chat not found")
        if raw in self._blocked:
            raise _ApiFailure(403, "Forbidden: bot was blocked by the user")
        return int(raw)

    def _parsed(
        self, p: dict[str, Any], text_field: str, entities_field: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        text = p.get(text_field)
        text = "" if text is None else str(text)
        mode = p.get("parse_mode") or None
        modes = {"html": "HTML", "markdownv2": "MarkdownV2", "markdown": "Markdown"}
        if mode is not None and str(mode).lower() not in modes:
            raise _bad("unsupported parse_mode")
        explicit = p.get(entities_field)
        if explicit is not None and not isinstance(explicit, list):
            raise _bad(f"can't parse {entities_field} JSON object")
        try:
            plain, entities = parse_text(text, modes[str(mode).lower()] if mode else None, explicit)
        except EntityParseError as err:
            raise _bad(f"can't parse entities: {err}") from None
        if utf16_len(plain) > limit:
            raise _bad("message is too long" if text_field == "text" else "message caption is too long")
        return plain, [e.to_json() for e in entities]

    def _reply_to(self, chat_id: int, p: dict[str, Any]) -> dict[str, Any] | None:
        params = p.get("reply_parameters")
        if params is None and p.get("reply_to_message_id") is not None:
            params = {"message_id": p["reply_to_message_id"]}
        if params is None:
            return None
        if not isinstance(params, dict) or not isinstance(params.get("message_id"), int):
            raise _bad("can't parse reply parameters JSON object")
        target_chat = params.get("chat_id", chat_id)
        replied = self._messages.get((target_chat, params["message_id"]))
        if replied is not None:
            return _without_reply(replied)
        if params.get("allow_sending_without_reply") or p.get("allow_sending_without_reply"):
            return None
        raise _bad("message to be replied not found")

    def _bot_message(self, chat_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": copy.deepcopy(self._chats[chat_id]),
            "date": int(time.time()),
            **body,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _api_sendmessage(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id = self._chat_id(p)
            text, entities = self._parsed(p, "text", "entities", MAX_MESSAGE_UTF16)
            if not text:
                raise _bad("message text is empty")
            markup = _validate_markup(p.get("reply_markup"), inline_only=False)
            _validate_link_preview(p)
            body: dict[str, Any] = {"text": text}
            if entities:
                body["entities"] = entities
            replied = self._reply_to(chat_id, p)
            if replied is not None:
                body["reply_to_message"] = replied
            if markup is not None and markup.get("inline_keyboard"):
                body["reply_markup"] = markup
            message = self._bot_message(chat_id, body)
            self._record(Outgoing("sendMessage", chat_id, message["message_id"], text, entities, p))
            return copy.deepcopy(message)

    def _editable(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if p.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID (the stub does not support inline messages)")
        chat_id = self._chat_id(p)
        message_id = p.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return chat_id, message

    def _api_editmessagetext(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id, message = self._editable(p)
            if "text" not in message:
                raise _bad("there is no text in the message to edit")
            text, entities = self._parsed(p, "text", "entities", MAX_MESSAGE_UTF16)
            if not text:
                raise _bad("message text is empty")
            markup = _validate_markup(p.get("reply_markup"), inline_only=True)
            _validate_link_preview(p)
            new_markup = markup if markup and markup.get("inline_keyboard") else None
            old = (message["text"], message.get("entities", []), message.get("reply_markup"))
            if old == (text, entities, new_markup):
                raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
            message["text"] = text
            _set_or_drop(message, "entities", entities or None)
            # Like Telegram: editing the text without reply_markup removes the inline keyboard.
            _set_or_drop(message, "reply_markup", new_markup)
            message["edit_date"] = int(time.time())
            self._record(Outgoing("editMessageText", chat_id, message["message_id"], text, entities, p))
            return copy.deepcopy(message)

    def _api_editmessagereplymarkup(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id, message = self._editable(p)
            markup = _validate_markup(p.get("reply_markup"), inline_only=True)
            new_markup = markup if markup and markup.get("inline_keyboard") else None
            if message.get("reply_markup") == new_markup:
                raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
            _set_or_drop(message, "reply_markup", new_markup)
            message["edit_date"] = int(time.time())
            text = message.get("text", message.get("caption", ""))
            entities = message.get("entities", message.get("caption_entities", []))
            outgoing = Outgoing("editMessageReplyMarkup", chat_id, message["message_id"], text, entities, p)
            self._record(outgoing)
            return copy.deepcopy(message)

    def _api_deletemessage(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id = self._chat_id(p)
            message = self._messages.get((chat_id, p.get("message_id") or 0))
            if message is None:
                raise _bad("message to delete not found")
            if message["from"]["id"] != self.bot_user["id"] and self._chats[chat_id]["type"] != "private":
                raise _bad("message can't be deleted")
            del self._messages[(chat_id, message["message_id"])]
            text = message.get("text", message.get("caption", ""))
            self._record(Outgoing("deleteMessage", chat_id, message["message_id"], text, [], p))
            return True

    def _api_answercallbackquery(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            query = self._callbacks.get(str(p.get("callback_query_id") or ""))
            if query is None or query.answers:
                raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
            text = p.get("text")
            if text is not None and len(str(text)) > 200:
                raise _bad("MESSAGE_TOO_LONG")
            query.answers.append(
                {
                    "callback_query_id": query.id,
                    "text": text,
                    "show_alert": bool(p.get("show_alert", False)),
                    "url": p.get("url"),
                    "cache_time": p.get("cache_time"),
                }
            )
            self._cond.notify_all()
            return True

    def _api_sendchataction(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id = self._chat_id(p)
            action = p.get("action")
            if action not in _CHAT_ACTIONS:
                raise _bad("wrong parameter action in request")
            self._chat_actions.append((chat_id, str(action)))
            self._cond.notify_all()
            return True

    # ------------------------------------------------------------ methods: files

    def _api_senddocument(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            chat_id = self._chat_id(p)
            stored, content = self._incoming_document(p.get("document"), files)
            caption, entities = self._parsed(p, "caption", "caption_entities", MAX_CAPTION_UTF16)
            markup = _validate_markup(p.get("reply_markup"), inline_only=False)
            body: dict[str, Any] = {"document": _document_json(stored)}
            if caption:
                body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
            replied = self._reply_to(chat_id, p)
            if replied is not None:
                body["reply_to_message"] = replied
            if markup is not None and markup.get("inline_keyboard"):
                body["reply_markup"] = markup
            message = self._bot_message(chat_id, body)
            self._record(
                Outgoing(
                    "sendDocument",
                    chat_id,
                    message["message_id"],
                    caption,
                    entities,
                    p,
                    document=copy.deepcopy(body["document"]),
                    content=content,
                )
            )
            return copy.deepcopy(message)

    def _api_sendphoto(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        """A photo: an upload (multipart, as the bot sends one) that must be a readable PNG or JPEG within
        Telegram's size, dimension and ratio limits, or a photo's file_id sent before; caption as
        sendDocument's (at most 1024 units after entity parsing)."""
        with self._cond:
            chat_id = self._chat_id(p)
            value = p.get("photo")
            upload = None
            if isinstance(value, str) and value.startswith("attach://"):
                upload = files.get(value.removeprefix("attach://"))
            elif value is None or value == "":
                upload = files.get("photo")
            if upload is not None:
                if not upload.content:
                    raise _bad("file must be non-empty")
                if len(upload.content) > MAX_PHOTO_BYTES:
                    raise _ApiFailure(413, "Request Entity Too Large")
                size = _image_size(upload.content)
                if size is None:
                    raise _bad("IMAGE_PROCESS_FAILED")
                short, long = sorted(size)
                if short + long > MAX_PHOTO_SIDES or long > MAX_PHOTO_RATIO * short:
                    raise _bad("PHOTO_INVALID_DIMENSIONS")
                stored = self._store_file(upload.filename, upload.mime_type, upload.content, None)
                stored.size = size
                content: bytes | None = upload.content
            elif isinstance(value, str) and value in self._files and self._files[value].size is not None:
                stored = self._files[value]
                content = stored.content
            elif value is None or value == "":
                raise _bad("there is no photo in the request")
            else:
                raise _bad("wrong file identifier/HTTP URL specified")
            caption, entities = self._parsed(p, "caption", "caption_entities", MAX_CAPTION_UTF16)
            markup = _validate_markup(p.get("reply_markup"), inline_only=False)
            assert stored.size is not None
            photo = [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.file_size,
                    "width": stored.size[0],
                    "height": stored.size[1],
                }
            ]
            body: dict[str, Any] = {"photo": photo}
            if caption:
                body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
            replied = self._reply_to(chat_id, p)
            if replied is not None:
                body["reply_to_message"] = replied
            if markup is not None and markup.get("inline_keyboard"):
                body["reply_markup"] = markup
            message = self._bot_message(chat_id, body)
            self._record(
                Outgoing(
                    "sendPhoto",
                    chat_id,
                    message["message_id"],
                    caption,
                    entities,
                    p,
                    content=content,
                    photo=copy.deepcopy(photo),
                )
            )
            return copy.deepcopy(message)

    def _incoming_document(self, value: Any, files: dict[str, _Upload]) -> tuple[_StoredFile, bytes | None]:
        upload = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        elif value is None or value == "":
            upload = files.get("document")
        if upload is not None:
            if not upload.content:
                raise _bad("file must be non-empty")
            stored = self._store_file(upload.filename, upload.mime_type, upload.content, None)
            return stored, upload.content
        if isinstance(value, str) and value in self._files:
            return self._files[value], self._files[value].content
        if isinstance(value, str) and re.match(r"^https?://\S+$", value):
            name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self._store_file(name, "application/octet-stream", None, 0), None
        if value is None or value == "":
            raise _bad("there is no document in the request")
        raise _bad("wrong file identifier/HTTP URL specified")

    def _api_getfile(self, p: _Params, files: _Files, alive: _Alive) -> Any:
        with self._cond:
            stored = self._files.get(str(p.get("file_id") or ""))
            if stored is None:
                raise _bad("invalid file_id")
            if stored.file_size > MAX_DOWNLOAD_BYTES:
                raise _bad("file is too big")
            if stored.file_path is None:
                suffix = stored.file_name.rsplit(".", 1)[-1] if "." in stored.file_name else ""
                stored.file_path = f"documents/file_{len(self._file_paths)}{'.' + suffix if suffix else ''}"
                self._file_paths[stored.file_path] = stored.file_id
            return {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
                "file_path": stored.file_path,
            }


# ---------------------------------------------------------------- validation helpers


def _validate_markup(raw: Any, *, inline_only: bool) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        _validate_inline_keyboard(raw["inline_keyboard"])
        return {"inline_keyboard": raw["inline_keyboard"]}
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" must be an Array of Arrays')
        for button in (b for r in rows for b in r):
            text = button.get("text") if isinstance(button, dict) else button
            if not text:
                raise _bad("can't parse keyboard button: Text must be non-empty")
        return dict(raw)
    if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
        return dict(raw)
    raise _bad("can't parse reply keyboard markup JSON object")


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad('field "inline_keyboard" must be an Array of Arrays')
    buttons = [b for r in rows for b in r]
    if len(buttons) > 100:
        raise _bad("reply markup is too long")
    for button in buttons:
        if not isinstance(button, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("can't parse inline keyboard button: Text must be non-empty")
        actions = [a for a in _BUTTON_ACTIONS if a in button]
        if not actions:
            raise _bad(f"can't parse inline keyboard button: {_TEXT_BUTTON}")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not _BUTTON_URL.match(url):
                raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _validate_link_preview(p: dict[str, Any]) -> None:
    options = p.get("link_preview_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("can't parse link preview options JSON object")


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Form fields arrive as strings (PTB JSON-encodes non-strings); give them Telegram's types."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {key} JSON object") from None
        elif key == "chat_id" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        elif key in _INT_FIELDS and isinstance(value, str | float):
            try:
                value = int(float(value))
            except ValueError:
                raise _bad(f"invalid {key} specified") from None
        elif key in _BOOL_FIELDS and isinstance(value, str):
            value = value.lower() in ("true", "1")
        out[key] = value
    return out


# ---------------------------------------------------------------- JSON shapes


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """What Telegram's server adds to incoming messages: bot_command and url entities."""
    found = []
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            offset = utf16_len(text[: match.start()])
            found.append({"type": kind, "offset": offset, "length": utf16_len(match.group(0))})
    return sorted(found, key=lambda e: e["offset"])


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or baseline/progressive JPEG; None for anything else (Telegram refuses
    what it cannot decode)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return (width, height) if width and height else None
            i += 2 + length
    return None


def _document_json(stored: _StoredFile) -> dict[str, Any]:
    return {
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.file_size,
    }


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Telegram nests replied-to messages only one level deep."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _set_or_drop(message: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        message.pop(key, None)
    else:
        message[key] = value


def _update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _scope_key(scope: Any) -> str:
    return json.dumps(scope if isinstance(scope, dict) else {"type": "default"}, sort_keys=True)


def _refuse_inside_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "blocking wait inside a running event loop would freeze the bot under test: "
        "use `await stub.await_for(...)` / `await stub.await_messages(...)`"
    )


# ---------------------------------------------------------------- HTTP layer


class _StubHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server that remembers its open connections so ``stop()`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: BotApiStub) -> None:
        self.stub = stub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like PTB's httpx pool expects
    server: _StubHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the stub's records, not its access log."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)  # httpx percent-encodes the ':' in the token
        body = self._read_body()
        stub = self.server.stub
        file_match = _FILE_PATH.match(path)
        api_match = _API_PATH.match(path)
        if file_match:
            status, content = stub.handle_file(file_match.group(1), file_match.group(2))
            if content is not None:
                self._respond(status, content, "application/octet-stream")
                return
            description = "Unauthorized" if status == 401 else "Not Found"
            self._respond_json(status, {"ok": False, "error_code": status, "description": description})
            return
        if not api_match:
            self._respond_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            params, files = _parse_request(self.headers.get("Content-Type", ""), url.query, body)
        except ValueError as err:
            self._respond_json(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {err}"})
            return
        answer = stub.handle_api(api_match.group(1), api_match.group(2), params, files, self._client_alive)
        if answer is None:
            self.close_connection = True
            return
        self._respond_json(*answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _client_alive(self) -> bool:
        """Peek at the socket: b'' means the client closed it (e.g. PTB cancelled a long poll)."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _respond_json(self, status: int, payload: dict[str, Any]) -> None:
        self._respond(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _respond(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # BrokenPipe/ConnectionReset: the client is gone
            self.close_connection = True


def _parse_request(content_type: str, query: str, body: bytes) -> tuple[dict[str, Any], dict[str, _Upload]]:
    """Telegram accepts query string, urlencoded, JSON and multipart parameters alike."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, _Upload] = {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" and body:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("JSON object expected")
        params.update(decoded)
    elif kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        fields, files = _parse_multipart(content_type, body)
        params.update(fields)
    return params, files


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, _Upload]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError("multipart boundary missing")
    fields: dict[str, str] = {}
    files: dict[str, _Upload] = {}
    for part in body.split(b"--" + match.group(1).encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        filename = _disposition_param(disposition, "filename")
        if name is None:
            continue
        if filename is not None:
            mime = headers.get("content-type") or "application/octet-stream"
            files[name] = _Upload(filename, mime, content)
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


def _disposition_param(disposition: str, key: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{key}="((?:[^"\\]|\\.)*)"', disposition)
    if match is None:
        return None
    return match.group(1).replace("%22", '"').replace("\\\\", "\\")
