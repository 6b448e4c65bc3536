"""The shared end-to-end harness for the Telegram bot: a data directory with the seed article, the strict
Bot API stub, and the bot started and stopped through `run_bot`, exactly as `newsqa serve` runs it.

Each test module makes its `h` fixture from `running_harness`, which also checks afterwards that the token
never reached a log line, the stub refused nothing the bot sent and no newsqa error was logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botapi_stub import BotApiStub, Outgoing
from conftest import SEEDS
from fakes import HashingEmbedder
from web_fixture import ALLOW_LOCAL

from newsqa.bot.app import run_bot
from newsqa.bot.settings import BotSettings
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome

USER = 5001  # a private chat: its id is the user's id
ADMIN = 7001
STRANGER = 6666
GROUP = -1001234
AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."
ERBIL = "Erbil International Airport was also targeted by an explosives-laden drone in April."
SENDS = ("sendMessage", "sendDocument")


def bold(message: Outgoing) -> list[str]:
    """The texts Telegram shows in bold, cut out by their UTF-16 offsets like a client does."""
    units = message.text.encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in message.entities
        if e["type"] == "bold"
    ]


class Harness:
    """A data directory with the seed article, the stub, and the bot started/stopped through run_bot."""

    def __init__(self, stub: BotApiStub, data_dir: Path, store: str | None = None) -> None:
        self.stub = stub
        self.data_dir = data_dir
        self.store = store  # a PostgreSQL URL: the index and the chat tables live there instead
        self.embedder = HashingEmbedder()
        self.library: Library | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop_event = asyncio.Event()
        self.expect_errors = False  # set by tests that provoke a failure on purpose
        self.settings = BotSettings(
            token=stub.token,
            base_url=stub.base_url,
            admins=frozenset({ADMIN}),
            poll_timeout=1,
            retry_backoff=0.05,
            lock_timeout=5,
            allow_hosts=ALLOW_LOCAL,  # the local web server of the /add and feed tests, allowed explicitly
        )

    def open_library(self) -> Library:
        home = PgHome(self.store) if self.store else self.data_dir
        return Library(home, lambda: self.embedder, model_name=self.embedder.name)

    def index(self, items: list[Any]) -> None:
        lib = self.open_library()
        with lib.dir.writer_lock():
            lib.ingest(items)
        lib.close()

    async def start(self, **overrides: Any) -> None:
        self.settings = dataclasses.replace(self.settings, **overrides)
        self.library = self.open_library()
        self.stop_event = asyncio.Event()
        started = asyncio.Event()
        self.task = asyncio.create_task(
            run_bot(self.settings, self.library, stop=self.stop_event, started=started)
        )
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({self.task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self.task.done():
            self.task.result()  # start-up failed: raise it here
        assert started.is_set(), "the bot did not start within 15 s"

    async def stop(self) -> None:
        if self.task is not None:
            self.stop_event.set()
            await asyncio.wait_for(self.task, 15)
            self.task = None
        if self.library is not None:
            self.library.close()
            self.library = None

    def sends(self, chat: int) -> list[Outgoing]:
        return self.stub.sent(chat, methods=SENDS)

    async def replies(self, chat: int, before: int, count: int = 1, *, settle: float = 0.0) -> list[Outgoing]:
        """The messages sent to `chat` after the first `before`, once there are at least `count`."""
        await self.stub.await_for(lambda: len(self.sends(chat)) >= before + count, what=f"{count} replies")
        if settle:  # an answer of unknown length: wait until nothing more arrives
            seen = -1
            while seen != len(self.sends(chat)):
                seen = len(self.sends(chat))
                await asyncio.sleep(settle)
        return self.sends(chat)[before:]

    async def say(self, chat: int, text: str, count: int = 1, **kwargs: Any) -> list[Outgoing]:
        before = len(self.sends(chat))
        self.stub.push_message(chat, text, **kwargs)
        return await self.replies(chat, before, count)

    async def tap(self, message: Outgoing, data: str, count: int = 0) -> tuple[str | None, list[Outgoing]]:
        """Tap a button; returns the note it was answered with and the `count` messages it produced."""
        before = len(self.sends(message.chat_id))
        query_id = self.stub.push_callback(message.chat_id, message.message_id, data)
        await self.stub.await_for(
            lambda: query_id not in self.stub.unanswered_callbacks(), what="the tap answered"
        )
        (record,) = [q for q in self.stub.callback_queries if q.id == query_id]
        assert len(record.answers) == 1
        new = (
            await self.replies(message.chat_id, before, count)
            if count
            else self.sends(message.chat_id)[before:]
        )
        return record.answers[0]["text"], new


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record of the test so far, formatted with its traceback: setup, call and teardown alike
    (`caplog.text` alone holds only the current phase, and the bot starts in another one)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    return "\n".join(formatter.format(r) for r in records)


def assert_token_never_logged(caplog: pytest.LogCaptureFixture, token: str) -> None:
    text = logged_text(caplog)
    assert token not in text and token.split(":")[1] not in text, "the bot token reached a log record"


def store_for(request: pytest.FixtureRequest) -> str | None:
    """For an `h` fixture parametrized over ["sqlite", "postgresql"]: the PostgreSQL URL, or None."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@contextlib.asynccontextmanager
async def running_harness(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store: str | None = None
) -> AsyncIterator[Harness]:
    """A Harness over the seed article (in `store`, a PostgreSQL URL, when given); afterwards, the checks
    every end-to-end test must pass."""
    caplog.set_level(logging.DEBUG)  # everything PTB and the bot log is checked for the token below
    with BotApiStub() as stub:
        harness = Harness(stub, tmp_path / "data", store)
        harness.index(list(iter_articles([SEEDS])))
        try:
            yield harness
        finally:
            await harness.stop()
        assert_token_never_logged(caplog, stub.token)
        if not harness.expect_errors:
            stub.assert_no_errors()  # nothing the bot sent was rejected
            failures = [
                r for r in caplog.records if r.name.startswith("newsqa") and r.levelno >= logging.ERROR
            ]
            assert failures == [], [r.getMessage() for r in failures]
        assert stub.unanswered_callbacks() == []
