"""One process of many in a role (the feed poller) on a PostgreSQL store, for as long as it lives.

A session advisory lock on a connection of its own, kept for the process's life: of the processes that
try, the first holds it and the others' tries fail at once; when the holder exits, is killed or loses
its connection, the server ends its session, the lock goes with it and the next try elsewhere succeeds.
Held for life rather than per round so that the rounds keep the configured interval: with a lock per
round, each replica's tick would find it free after another's round and poll again, N rounds an interval.
"""

from __future__ import annotations

import contextlib
import logging

from .pgconn import PgConnection, redacted, try_advisory_lock

log = logging.getLogger(__name__)


class Lease:
    """`held()` before each piece of the role's work: True while this process holds the role."""

    def __init__(self, url: str, key: int) -> None:
        self.url = url
        self.key = key
        self._conn: PgConnection | None = None
        self._held = False

    def held(self) -> bool:
        """Whether this process holds the role now, taking it if it is free. Blocking (one short query):
        call it from a worker thread in async code. Raises when the database cannot be reached."""
        import psycopg

        if self._conn is not None:
            try:
                if self._held:
                    self._conn.execute("SELECT 1")  # the lock lives as long as this session
                    return True
                self._held = try_advisory_lock(self._conn, self.key)
                return self._held
            except psycopg.OperationalError as exc:  # the connection broke: whatever it held is gone
                log.warning("lost the connection of lock %x on %s: %s", self.key, redacted(self.url), exc)
                self.close()
        self._conn = PgConnection(self.url)
        self._held = try_advisory_lock(self._conn, self.key)
        return self._held

    def close(self) -> None:
        """Give the role up (the server releases the lock with the session)."""
        conn, held, self._conn, self._held = self._conn, self._held, None, False
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to release
                if held:  # at once: the server ends a closed session's locks a moment later
                    conn.execute("SELECT pg_advisory_unlock(?)", (self.key,))
                conn.close()
