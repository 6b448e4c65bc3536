"""An index whose home is a PostgreSQL database instead of a data directory (`--store postgresql://...`).

It offers what `Library` asks of a `DataDir`: whether an index exists, the one-writer lock (an advisory
lock, released by the server when the holder's connection ends, even after kill -9). It keeps no FAISS
snapshot files: the snapshots are rows in the database itself (pgsnapshot.py), from which each process
loads its vectors at start before following the change log (changefollower.py), so any number of
machines share one index without a shared disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .datadir import Footprint, IndexLocked, NoIndex
from .pgconn import WRITER_KEY, LockBusy, PgConnection, redacted, schema_version, session_lock

if TYPE_CHECKING:
    from .indexstore import IndexStore
    from .lease import Lease
    from .pgstore import PgStore


class PgHome:
    snapshots = False  # no snapshot files: snapshots are rows in the database (see module doc)

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

    def recorded_model(self) -> str | None:
        """The model the index in this database was built with; None before the first build."""
        if not self.exists():
            return None
        store = self.open_store(readonly=True)
        try:
            return store.get_meta("model")
        finally:
            store.close()

    def open_store(self, *, readonly: bool = False) -> PgStore:
        """The database (psycopg loads only now: a data directory never needs it)."""
        from .pgstore import PgStore

        return PgStore(self.url, readonly=readonly)

    def lease(self, key: int) -> Lease:
        """The role `key` (e.g. pgconn.FEEDS_KEY): held by one process of many on this database at a time,
        for as long as it lives (lease.py)."""
        from .lease import Lease

        return Lease(self.url, key)

    def checked_manifest(self) -> None:
        """No manifest to check: the database has it all; only that an index is there."""
        if not self.exists():
            raise NoIndex(self.root)

    def footprint(self, store: IndexStore) -> Footprint:
        """Where the index is (without the password), its bytes in the database, model and dimension."""
        internals = {"model": store.get_meta("model"), "dim": int(store.get_meta("dim") or 0)}
        return Footprint({"store": self.root}, "bytes_in_database", store.size_bytes(), internals)

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
