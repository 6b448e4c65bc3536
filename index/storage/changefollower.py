"""Keep a serving process's vectors current while it is idle: follow the change log other processes write.

Every reader already catches up before it searches (`Library.refresh`), but a replica that answers
nothing for an hour would pay for an hour of changes on its next question, and alerts would search stale
vectors. `ChangeFollower` refreshes in a daemon thread instead: on a PostgreSQL home when the writer's
`NOTIFY` arrives (delivered at commit, so an add is answerable in every process within milliseconds),
and on a timer as the fallback for a notification lost while the listening connection was down. A
SQLite data directory has no NOTIFY: there the timer alone does it. Nothing here ever stops the process:
a failure is logged (once per kind of trouble) and retried with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .pgconn import CHANGES_CHANNEL
from .pghome import PgHome

if TYPE_CHECKING:
    from .library import Library

log = logging.getLogger(__name__)

#: Seconds between refreshes without a notification. On SQLite, the only way: a refresh that finds nothing
#: new is one small read of a local file, so often enough that an add is answered within a second. On
#: PostgreSQL, the fallback for a lost notification: a round trip to the server per process.
SQLITE_POLL_SECONDS = 0.5
PG_POLL_SECONDS = 2.0
#: How long one wait for notifications lasts, so `stop()` is noticed well within a second.
WAIT_SLICE = 0.2
#: Reconnect backoff for the listening connection: doubling from the first to the last.
BACKOFF = (0.5, 30.0)


class ChangeFollower:
    """A daemon thread calling `library.refresh()` on every change notification and every `poll_seconds`
    (default: SQLITE_POLL_SECONDS or PG_POLL_SECONDS, by the library's home).

    `listen=False` polls only, also on PostgreSQL (the tests use it for the fallback). `refreshes` counts
    the refreshes that applied changes, `notified` the notifications heard: figures for logs and tests.
    """

    def __init__(
        self,
        library: Library,
        *,
        poll_seconds: float | None = None,
        listen: bool = True,
        name: str = "newsqa-follow",
    ) -> None:
        on_pg = isinstance(library.dir, PgHome)
        if poll_seconds is None:
            poll_seconds = PG_POLL_SECONDS if on_pg else SQLITE_POLL_SECONDS
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        self.library = library
        self.poll_seconds = poll_seconds
        self.url = library.dir.url if listen and isinstance(library.dir, PgHome) else None
        self.name = name
        self.refreshes = 0
        self.notified = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Any = None  # the psycopg connection LISTENing, when there is one
        self._backoff = BACKOFF[0]
        self._retry_at = 0.0  # monotonic time of the next reconnect attempt
        self._failing: str | None = None  # the trouble last logged, so it is logged once, not per retry

    @property
    def listening(self) -> bool:
        """Whether a LISTEN connection is up right now (False on SQLite, or while reconnecting)."""
        return self._listener is not None

    def start(self) -> ChangeFollower:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the thread to end and wait up to `timeout` seconds (it is a daemon: it never blocks exit)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> ChangeFollower:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            next_poll = time.monotonic() + self.poll_seconds
            while not self._stop.is_set():
                if self._wait(next_poll):  # a notification (or the first one after reconnecting)
                    self._refresh()
                if time.monotonic() >= next_poll:
                    self._refresh()
                    next_poll = time.monotonic() + self.poll_seconds
        finally:
            self._close_listener()

    def _wait(self, until: float) -> bool:
        """Wait until `until` at most (in slices, to notice stop); True when a change may have committed."""
        reconnect = self.url is not None and self._listener is None and time.monotonic() >= self._retry_at
        if reconnect and self._connect():
            return True  # a notification may have been missed while not listening
        if self._listener is None:
            self._stop.wait(max(0.0, min(until - time.monotonic(), WAIT_SLICE)))
            return False
        try:
            heard = False
            for _ in self._listener.notifies(timeout=max(0.0, min(until - time.monotonic(), WAIT_SLICE))):
                self.notified += 1
                heard = True
                break
            if heard:  # several commits in a row: one refresh covers them all
                for _ in self._listener.notifies(timeout=0.0):
                    self.notified += 1
            return heard
        except Exception as exc:  # the server restarted, the connection was killed, the network dropped
            self._trouble(f"lost the change notifications from {self.library.dir.root} ({_one_line(exc)})")
            self._close_listener()
            self._retry_at = time.monotonic() + self._backoff
            return False

    def _connect(self) -> bool:
        import psycopg

        assert self.url is not None
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {CHANGES_CHANNEL}")
        except Exception as exc:
            self._trouble(f"cannot listen for changes on {self.library.dir.root} ({_one_line(exc)})")
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF[1])
            return False
        self._listener = conn
        if self._failing is not None:
            log.info("listening for changes on %s again", self.library.dir.root)
            self._failing = None
        self._backoff = BACKOFF[0]
        return True

    def _close_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to give back
                conn.close()

    def _refresh(self) -> None:
        try:
            if self.library.refresh():
                self.refreshes += 1
            if self._failing is not None and self._failing.startswith("refreshing"):
                log.info("refreshing from %s works again", self.library.dir.root)
                self._failing = None
        except Exception as exc:  # e.g. the database is restarting: the next poll tries again
            self._trouble(f"refreshing from {self.library.dir.root} failed ({_one_line(exc)})")
            self._stop.wait(min(self.poll_seconds, 1.0))

    def _trouble(self, message: str) -> None:
        kind = message.split(" (", 1)[0]
        if kind != self._failing:
            log.warning("%s; retrying", message)
            self._failing = kind


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
