"""Named, numbered migrations: each track runs its pending steps once, counts them apart, or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsqa.index.storage.migrations import Migration, TrackVersion, UserVersion, check_track, migrate

ONE = Migration(1, "one", "CREATE TABLE one (x INTEGER); INSERT INTO one VALUES (1);")
TWO = Migration(2, "two", "CREATE TABLE two (y TEXT);")


def open_db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]


def test_a_track_is_numbered_from_one_in_order() -> None:
    check_track([ONE, TWO])
    with pytest.raises(ValueError, match="'two' is numbered 2, not 1"):
        check_track([TWO])
    with pytest.raises(ValueError, match="numbered 1, not 2"):
        check_track([ONE, ONE])


def test_steps_run_once_and_a_newer_track_runs_only_what_it_added(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "db.sqlite")
    migrate(conn, [ONE], UserVersion(), "test")
    migrate(conn, [ONE], UserVersion(), "test")  # nothing pending: ONE's insert does not run again
    assert conn.execute("SELECT COUNT(*) FROM one").fetchone()[0] == 1
    migrate(conn, [ONE, TWO], UserVersion(), "test")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2 and "two" in tables(conn)


def test_tracks_sharing_a_file_count_apart(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "db.sqlite")
    migrate(conn, [ONE], UserVersion(), "index")
    chat = [Migration(1, "c1", "CREATE TABLE c1 (z);"), Migration(2, "c2", "CREATE TABLE c2 (z);")]
    migrate(conn, chat, TrackVersion("chat"), "chat")
    migrate(conn, [Migration(1, "o1", "CREATE TABLE o1 (z);")], TrackVersion("other"), "other")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    rows = conn.execute("SELECT track, version FROM schema_versions ORDER BY track").fetchall()
    assert rows == [("chat", 2), ("other", 1)]
    assert TrackVersion("never").read(conn) == 0


def test_an_empty_step_only_counts(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "db.sqlite")
    migrate(conn, [ONE, Migration(2, "moved elsewhere", "")], UserVersion(), "test")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2 and tables(conn) == ["one"]


def test_a_failing_step_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "db.sqlite")
    broken = Migration(2, "broken", "CREATE TABLE two (y); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        migrate(conn, [ONE, broken], TrackVersion("t"), "t")
    assert tables(conn) == [] and not conn.in_transaction
    assert TrackVersion("t").read(conn) == 0
