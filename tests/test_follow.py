"""ChangeFollower: an article one process adds becomes searchable in another without anyone calling refresh,
through PostgreSQL's NOTIFY, through the polling fallback when notifications are not heard, and on SQLite."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from bot_harness import Harness
from botapi_stub import BotApiStub
from fakes import HashingEmbedder

from newsqa.index.storage.changefollower import ChangeFollower
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.text.article import Article

BOUND = 5.0  # generous for a loaded machine; the observed latency is printed
FIRST = Article(id="first", title="Harbour", text="The council approved the harbour budget on Monday.")
NEW = Article(
    id="new", title="Airbase", text="Ain al-Asad airbase was targeted by drones shortly after midnight."
)


def wait_until(condition: Callable[[], bool], timeout: float = BOUND) -> float:
    """Seconds until `condition()` held; fails the test after `timeout`."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.005)
    return time.perf_counter() - started


@pytest.fixture(params=["sqlite", "postgresql"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path | PgHome:
    if request.param == "postgresql":
        return PgHome(request.getfixturevalue("pg_url"))
    return tmp_path / "data"


@pytest.fixture
def pg_home(pg_url: str) -> PgHome:
    return PgHome(pg_url)


def loaded_pair(home: Path | PgHome, embedder: HashingEmbedder) -> Iterator[tuple[Library, Library]]:
    """A writer and a reader (another process's Library) on one home, both loaded, one article in."""
    writer = Library(home, lambda: embedder, model_name=embedder.name)
    with writer.dir.writer_lock():
        writer.ingest([FIRST])
    reader = Library(home, lambda: embedder, model_name=embedder.name)
    reader.refresh()
    yield writer, reader
    reader.close()
    writer.close()


@pytest.fixture
def pair(home: Path | PgHome, embedder: HashingEmbedder) -> Iterator[tuple[Library, Library]]:
    yield from loaded_pair(home, embedder)


@pytest.fixture
def pg_pair(pg_home: PgHome, embedder: HashingEmbedder) -> Iterator[tuple[Library, Library]]:
    yield from loaded_pair(pg_home, embedder)


def add_and_time(writer: Library, reader: Library, embedder: HashingEmbedder, label: str) -> float:
    """Add NEW via `writer`: seconds from its commit until `reader` finds it (nobody calls its refresh)."""
    committed: list[float] = []
    with writer.dir.writer_lock():
        writer.ingest([NEW], progress=lambda _: committed.append(time.perf_counter()))
    found_row = writer.store.article_hash(NEW.id)
    assert found_row is not None
    new_ids = {s.id for s in writer.store.article_sentences(found_row[0])}
    assert new_ids and committed
    query = embedder.embed([NEW.text])

    def found() -> bool:
        _, ids = reader.vectors.search(np.asarray(query), 1)
        return int(ids[0][0]) in new_ids

    wait_until(found, BOUND - (time.perf_counter() - committed[0]))
    latency = time.perf_counter() - committed[0]
    print(f"{label}: searchable in the other Library {latency * 1000:.0f} ms after the commit")
    assert len(reader.vectors) == len(writer.vectors)
    return latency


def listener_pid(follower: ChangeFollower) -> int:
    wait_until(lambda: follower.listening)
    conn = follower._listener
    assert conn is not None
    return int(conn.info.backend_pid)


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_notification_makes_the_add_searchable_elsewhere(
    pg_pair: tuple[Library, Library], embedder: HashingEmbedder
) -> None:
    """The poll is a minute away: only the NOTIFY at commit can make this fast."""
    writer, reader = pg_pair
    with ChangeFollower(reader, poll_seconds=60) as follower:
        listener_pid(follower)
        latency = add_and_time(writer, reader, embedder, "NOTIFY")
        wait_until(lambda: follower.notified >= 1)
        assert latency < BOUND


def test_polling_catches_up_without_notifications(
    pair: tuple[Library, Library], embedder: HashingEmbedder
) -> None:
    """LISTEN off (and SQLite has no NOTIFY at all): the timer alone brings the add in."""
    writer, reader = pair
    with ChangeFollower(reader, poll_seconds=0.3, listen=False) as follower:
        assert not follower.listening
        add_and_time(writer, reader, embedder, f"polling, {writer.store.dialect}")
        assert follower.notified == 0
        wait_until(lambda: follower.refreshes >= 1)  # counted after the refresh the search already saw


def test_a_killed_listening_connection_falls_back_to_polling_and_reconnects(
    pg_pair: tuple[Library, Library], pg_home: PgHome, embedder: HashingEmbedder
) -> None:
    writer, reader = pg_pair
    with ChangeFollower(reader, poll_seconds=0.5) as follower:
        first = listener_pid(follower)
        terminate(pg_home.url, first)
        add_and_time(writer, reader, embedder, "after pg_terminate_backend")
        wait_until(lambda: follower.listening and listener_pid(follower) != first)
        # and the new connection hears the next change
        heard = follower.notified
        with writer.dir.writer_lock():
            writer.remove([NEW.id])
        wait_until(lambda: follower.notified > heard)
        wait_until(lambda: len(reader.vectors) == len(writer.vectors))


def test_the_readers_own_connection_killed_is_replaced(
    pg_pair: tuple[Library, Library], pg_home: PgHome, embedder: HashingEmbedder
) -> None:
    """The reader's connections dropped (a server restart or a proxy's idle cut, as the reader sees it):
    the follower logs, connects again, and the reader is current again; nothing raises in its thread."""
    writer, reader = pg_pair
    with ChangeFollower(reader, poll_seconds=0.3) as follower:
        pids = {listener_pid(follower)}
        wait_until(lambda: len(reader.store._all) >= 2)  # the follower's thread has its own connection
        pids |= {c.raw.info.backend_pid for c in reader.store._all}
        for pid in pids:
            terminate(pg_home.url, pid)
        add_and_time(writer, reader, embedder, "after every connection was terminated")


def test_stop_joins_within_a_second(home: Path | PgHome, embedder: HashingEmbedder) -> None:
    lib = Library(home, lambda: embedder, model_name=embedder.name)
    try:
        lib.refresh()
        follower = ChangeFollower(lib, poll_seconds=30).start()
        thread = follower._thread
        assert thread is not None
        time.sleep(0.3)  # in its wait
        started = time.perf_counter()
        follower.stop()
        assert time.perf_counter() - started < 1.0
        assert not thread.is_alive()
        assert not follower.listening
    finally:
        lib.close()


def test_an_unreachable_server_never_stops_the_follower(
    tmp_path: Path, embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    """LISTEN cannot connect (nobody listens on that port): one warning line, retries, stop still works."""
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    try:
        lib.refresh()
        follower = ChangeFollower(lib, poll_seconds=0.2)
        follower.url = "postgresql://nobody@127.0.0.1:9/none"  # a SQLite library, listening elsewhere
        with caplog.at_level("WARNING", logger="newsqa.index.storage.changefollower"), follower:
            time.sleep(1.5)  # several attempts with backoff
            assert follower._thread is not None and follower._thread.is_alive()
        warnings = [r for r in caplog.records if "cannot listen" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    finally:
        lib.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_a_serving_bot_follows_articles_another_process_adds(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`newsqa serve`'s run_bot keeps its Library current while no question comes: an ingest worker's add
    is in the bot's vectors (NOTIFY on PostgreSQL, the poll on SQLite) before anyone asks about it."""
    home: Path | PgHome = (
        PgHome(request.getfixturevalue("pg_url")) if store == "postgresql" else tmp_path / "data"
    )
    with BotApiStub() as stub:
        h = Harness(stub, home)  # type: ignore[arg-type]  # a PgHome is a home too
        h.index([FIRST])
        await h.start(follow_seconds=60 if isinstance(home, PgHome) else 0.3)
        try:
            served = h.library
            assert served is not None
            before = len(served.vectors)
            h.index([NEW])  # another process: its own Library, closed again
            seconds = await asyncio.wait_for(
                asyncio.to_thread(wait_until, lambda: len(served.vectors) > before), BOUND + 1
            )
            print(f"bot on {served.store.dialect}: following within {seconds * 1000:.0f} ms")
        finally:
            await h.stop()
        assert not any(t.name == "newsqa-follow" for t in threading.enumerate())  # stopped with the bot
