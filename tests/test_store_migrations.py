"""An index made by an older newsqa opens with a newer one: migrations run forward, nothing is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from legacy_schema import MAIN_MIGRATIONS, make_main_database

from newsqa.index.feeds import FeedStateStore
from newsqa.index.store import MIGRATIONS, Store, connect


def test_an_index_from_migration_4_gains_the_rowid_vector_table(tmp_path: Path) -> None:
    path = tmp_path / "newsqa.sqlite"
    conn = connect(path)
    for number, script in enumerate(MAIN_MIGRATIONS[:4], start=1):  # the schema newsqa had before 5
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    vec = np.arange(384, dtype=np.float32)
    conn.execute("INSERT INTO embeddings(text_hash, vector) VALUES('h1', ?)", (vec.tobytes(),))
    conn.close()

    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name='embeddings'").fetchone()[0]
    assert "WITHOUT ROWID" not in sql
    assert store.known_hashes(["h1", "h2"]) == {"h1"}
    (blob,) = store.conn.execute("SELECT vector FROM embeddings WHERE text_hash='h1'").fetchone()
    assert np.array_equal(np.frombuffer(blob, dtype=np.float32), vec)
    store.close()


def test_a_new_index_uses_8k_pages_and_stores_a_vector_in_under_2k(tmp_path: Path) -> None:
    store = Store(tmp_path / "newsqa.sqlite")
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 8192
    rng = np.random.default_rng(0)
    n = 2000
    with store.transaction():
        store.put_embeddings(
            [f"{i:040x}" for i in range(n)], rng.standard_normal((n, 384)).astype(np.float32)
        )
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    per_vector = (tmp_path / "newsqa.sqlite").stat().st_size / n
    assert per_vector < 2000, per_vector  # 1,536 bytes of float32 + key; was 4.7 kB


def test_connect_leaves_an_existing_page_size_alone(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("PRAGMA page_size=4096")
    old.execute("CREATE TABLE t(x)")
    old.close()
    conn = connect(path)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    conn.close()


def test_feed_state_made_before_migrations_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "newsqa.sqlite"
    conn = connect(path)
    make_main_database(conn, feeds=True)  # main's 8 steps, then a feed poll made its tables
    conn.execute("INSERT INTO feed_state(url, etag, updated_at) VALUES('https://x/feed', 'e1', 1.0)")
    conn.execute("INSERT INTO feed_state_seen(url, key) VALUES('https://x/feed', 'guid1')")
    conn.close()

    Store(path).close()
    with FeedStateStore(path) as feeds:
        state = feeds.load("https://x/feed")
    assert (state.etag, state.seen) == ("e1", {"guid1"})
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_new_index_has_the_feed_tables_from_its_migrations(tmp_path: Path) -> None:
    store = Store(tmp_path / "newsqa.sqlite")
    names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"feed_state", "feed_state_seen"} <= names
    store.close()
