"""A PostgreSQL outage under running processes: the server is stopped and started again (its data kept),
and everything that was running works again without a restart, having told its users meanwhile.

Each test has a cluster of its own (about a second to make): stopping the session's would break the
other tests' databases.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bot_harness import bold
from botapi_stub import BotApiStub
from conftest import TESTS
from fakes import HashingEmbedder
from pgserver import PgCluster, missing, unavailable
from proxy import RoundRobinProxy
from test_replicas import AIN, AIRBASE, LAUNCH, OTHER, USER, Replicas, Telegram

from newsqa.bot import texts
from newsqa.index.storage import pgconn
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome
from newsqa.index.text.article import Article

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    reason = missing()
    if reason is not None:
        unavailable(reason)
    with PgCluster() as c:
        yield c


def _article(i: int) -> Article:
    return Article(id=f"a{i}", title=f"Story {i}", text=f"Harbour {i} opened on Monday. It is big.")


def _in_thread(call: object) -> object:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(call())  # type: ignore[operator]
        except Exception as exc:  # handed back to the test
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0]


def test_a_library_works_again_after_a_restart_without_being_reopened(cluster: PgCluster) -> None:
    """Every call fails while the server is down (as "unavailable", not a bookkeeping error), and the
    first call after it is back succeeds, in the thread that saw the outage and in one that did not."""
    embedder = HashingEmbedder()
    lib = Library(PgHome(cluster.create_database()), lambda: embedder, model_name=embedder.name)
    try:
        lib.ingest([_article(1)])
        assert _in_thread(lib.counts) == (1, 2)  # a second thread with its own connection
        cluster.halt()
        for _ in range(3):  # the second try used to raise "list.remove(x): x not in list"
            with pytest.raises(Exception) as failed:
                lib.counts()
            assert pgconn.unavailable(failed.value), repr(failed.value)
        cluster.resume()
        assert lib.counts() == (1, 2)
        assert _in_thread(lib.counts) == (1, 2)
        lib.ingest([_article(2)])
        assert lib.refresh() == 0 and len(lib.vectors) == 4
    finally:
        lib.close()


def test_only_an_outage_counts_as_unavailable(cluster: PgCluster) -> None:
    import psycopg

    url = cluster.url("no_such_database")
    with pytest.raises(psycopg.OperationalError) as wrong_name:
        psycopg.connect(url)
    assert not pgconn.unavailable(wrong_name.value)
    assert not pgconn.unavailable(ValueError("x"))
    cluster.halt()
    with pytest.raises(psycopg.OperationalError) as down:
        psycopg.connect(cluster.url(), connect_timeout=2)
    assert pgconn.unavailable(down.value)


# -- the running processes: two webhook replicas and an ingest worker ----------------------------------

HARBOUR = "Forty divers will rebuild the northern pier before the winter storms arrive."


class Watch:
    """`newsqa --store URL index watch FOLDER --every 1s` in a process of its own."""

    def __init__(self, store: str, folder: Path, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(TESTS), "--store", store, "index", "watch", str(folder),
                 "--every", "1s"],
                stdout=out, stderr=out,
            )  # fmt: skip

    def wait_started(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while "watching" not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, f"the watch did not start:\n{self.text()}"
            time.sleep(0.2)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def answered(telegram: Telegram, chat: int, question: str, expected: str, timeout: float) -> float:
    """Ask until the answer holds `expected` (each try through the next replica); the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            (reply,) = telegram.say(chat, question, timeout=5)
            if expected in reply.text:
                return time.monotonic() - started
        except (TimeoutError, AssertionError):
            pass
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"no answer holding {expected!r} within {timeout} s")
        time.sleep(0.3)


def test_replicas_and_the_watch_ride_out_a_database_restart(cluster: PgCluster, tmp_path: Path) -> None:
    """serve (webhook, two replicas) and index watch keep running through a stop and start of the
    server: users are told to try again meanwhile, and within 10 s of its return both replicas answer
    and the watch indexes a file dropped afterwards, without a restart of anything."""
    store = cluster.create_database()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    with BotApiStub() as stub:
        replicas = Replicas(store, stub, tmp_path, [])
        replicas.start(2)
        watch = Watch(store, incoming, tmp_path / "watch.log")
        try:
            watch.wait_started()
            with RoundRobinProxy([f"127.0.0.1:{p}" for p in replicas.ports]) as proxy:
                telegram = Telegram(stub, proxy)
                (first,) = telegram.say(USER, AIRBASE)
                assert bold(first)[0] == AIN, replicas.logs()

                cluster.halt()
                for _ in range(2):  # one question through each replica
                    (away,) = telegram.say(USER, AIRBASE)
                    assert away.text == texts.UNAVAILABLE, replicas.logs()
                time.sleep(3)  # the watch and the followers meet the outage too
                cluster.resume()

                back = [answered(telegram, USER, AIRBASE, AIN, 10) for _ in range(2)]
                print(f"answered again through each replica after {back} s")
                assert sum(back) < 10, back
                assert sorted(proxy.hits.values())[0] >= 2  # both replicas answered, before and after
                (incoming / "harbour.txt").write_text(f"Harbour works\n\n{HARBOUR} {HARBOUR}\n")
                answered(
                    telegram, OTHER, "How many divers will rebuild the northern pier?", "Forty divers", 20
                )
            assert all(p.poll() is None for p in replicas.procs) and watch.proc.poll() is None
            assert "unavailable" in watch.text() and "is back" in watch.text(), watch.text()
            assert "Traceback" not in replicas.logs() + watch.text(), replicas.logs()
            assert stub.errors == []
        finally:
            watch.stop()
            replicas.stop()


def test_waiting_for_the_database_says_so_once_and_raises_anything_else() -> None:
    import psycopg

    from newsqa.index.storage.outage import wait_for

    said: list[str] = []
    tries = iter([psycopg.OperationalError("connection refused")] * 3)

    def flaky() -> str:
        error = next(tries, None)
        if error is not None:
            raise error
        return "open"

    assert wait_for(flaky, where="db", backoff=(0.01, 0.02), say=said.append) == "open"
    assert len(said) == 2 and "unavailable" in said[0] and "back" in said[1]

    def misconfigured() -> str:
        raise psycopg.OperationalError('FATAL:  database "nope" does not exist')

    with pytest.raises(psycopg.OperationalError):
        wait_for(misconfigured, where="db", backoff=(0.01, 0.02), say=said.append)


def test_a_watch_started_while_the_database_is_down_waits_for_it(cluster: PgCluster, tmp_path: Path) -> None:
    """Started during the outage it neither exits nor loses the file waiting in its folder."""
    store = cluster.create_database()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "harbour.txt").write_text(f"Harbour works\n\n{HARBOUR}\n")
    cluster.halt()
    watch = Watch(store, incoming, tmp_path / "watch.log")
    try:
        deadline = time.monotonic() + 120
        while "waiting for it" not in watch.text():
            assert watch.proc.poll() is None, watch.text()
            assert time.monotonic() < deadline, watch.text()
            time.sleep(0.2)
        cluster.resume()
        watch.wait_started()
        embedder = HashingEmbedder()
        lib = Library(PgHome(store), lambda: embedder, model_name=embedder.name, readonly=True)
        try:
            deadline = time.monotonic() + 30
            while lib.counts()[0] < 1:
                assert time.monotonic() < deadline, watch.text()
                time.sleep(0.3)
        finally:
            lib.close()
    finally:
        watch.stop()
