"""Named, numbered schema migrations, run once per database under one write lock.

Each owner of tables in the data directory's SQLite file keeps its own track: an ordered tuple of
`Migration`s numbered from 1, where a newer newsqa only appends (a database records how many of a track
ran, so an edited migration would never run again where it already had). The index's track counts in
`PRAGMA user_version`, as every newsqa before named migrations did; other tracks (the bot's chat tables)
keep their count in a row of `schema_versions`, since a file has one user_version.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of a track: its number (its place, from 1), a short name for logs, and its SQL script."""

    number: int
    name: str
    sql: str  # "" for a step whose tables moved to another track: it only counts


class Counter(Protocol):
    """Where a track records how many of its migrations ran."""

    def read(self, conn: sqlite3.Connection) -> int: ...

    def write(self, conn: sqlite3.Connection, version: int) -> None: ...


class UserVersion:
    """`PRAGMA user_version`: the index's count, compatible with every data directory made so far."""

    def read(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def write(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(f"PRAGMA user_version={int(version)}")


class TrackVersion:
    """A row of `schema_versions`, for a track that shares the file with the index."""

    def __init__(self, track: str) -> None:
        self.track = track

    def read(self, conn: sqlite3.Connection) -> int:
        try:
            row = conn.execute("SELECT version FROM schema_versions WHERE track=?", (self.track,)).fetchone()
        except sqlite3.OperationalError as exc:  # no track has run in this file yet
            if "no such table" not in str(exc):
                raise
            return 0
        return int(row[0]) if row else 0

    def write(self, conn: sqlite3.Connection, version: int) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (track TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO schema_versions(track, version) VALUES(?, ?)"
            " ON CONFLICT(track) DO UPDATE SET version=excluded.version",
            (self.track, version),
        )


def check_track(migrations: Sequence[Migration]) -> None:
    """A track is numbered 1, 2, 3 ... in order: its count in a database must name one prefix of it."""
    for place, migration in enumerate(migrations, start=1):
        if migration.number != place:
            raise ValueError(f"migration {migration.name!r} is numbered {migration.number}, not {place}")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], counter: Counter, track: str) -> None:
    """Run the pending migrations of one track, all in one write transaction taken before the count is read.

    Two processes opening a new data directory at once: the second waits for the first's transaction,
    then reads the count it left and has nothing to do (reading it outside the lock raced).
    """
    if counter.read(conn) >= len(migrations):
        return  # the common case, without taking the write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = counter.read(conn)
        for migration in migrations[version:]:
            for statement in statements(migration.sql):
                conn.execute(statement)
            counter.write(conn, migration.number)
            log.info("%s migration %d (%s) applied", track, migration.number, migration.name)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def statements(script: str) -> Iterator[str]:
    """A migration's statements one by one (`executescript` would commit the open transaction first)."""
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n\t;"):
                yield buffer
            buffer = ""
