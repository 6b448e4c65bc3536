"""An index whose home is a PostgreSQL database instead of a data directory (`--store postgresql://...`).

It offers what `Library` asks of a `DataDir`: whether an index exists, the one-writer lock (an advisory
lock, released by the server when the holder's connection ends, even after kill -9). It keeps no FAISS
snapshot files: each process builds its vectors from the database at start and follows the change log
(follow.py), so any number of machines share one index without a shared disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .datadir import IndexLocked
from .pgconn import WRITER_KEY, LockBusy, PgConnection, redacted, schema_version, session_lock


class PgHome:
    snapshots = False  # no snapshot files: vectors come from the database (see module doc)

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def root(self) -> str:
        """How messages name this index (without the password)."""
        return redacted(self.url)

    def exists(self) -> bool:
        conn = PgConnection(self.url)
        try:
            return schema_version(conn, "index") > 0
        finally:
            conn.close()

    def read_manifest(self) -> None:
        return None

    @contextlib.contextmanager
    def writer_lock(self, *, timeout: float = 0.0) -> Iterator[None]:
        """One writer at a time across every process and machine on this database."""
        try:
            with session_lock(
                self.url,
                WRITER_KEY,
                timeout=timeout,
                busy=f"another newsqa process is writing to {self.root}; try again when it is done",
            ):
                yield
        except LockBusy as exc:
            raise IndexLocked(str(exc)) from None
