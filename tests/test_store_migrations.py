"""An index made by an older newsqa opens with a newer one: migrations run forward, nothing is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from legacy_schema import MAIN_MIGRATIONS, make_main_database

from newsqa.bot.chatstore import CHAT_MIGRATIONS, ChatStore
from newsqa.index.storage.migrations import TrackVersion
from newsqa.index.storage.store import MIGRATIONS, Store, connect
from newsqa.index.web.feeds import FeedStateStore


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


def schema(path: Path) -> dict[str, object]:
    """Every table's columns and every index's columns: what two layouts must agree on."""
    conn = sqlite3.connect(path)
    out: dict[str, object] = {}
    for kind, name, table in conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE '%fts_%' ORDER BY name"
    ):
        if kind == "table":
            out[name] = [r[1:6] for r in conn.execute(f"PRAGMA table_info({name})")]
        elif kind == "index":
            out[name] = (table, [r[2] for r in conn.execute(f"PRAGMA index_info({name})")])
    conn.close()
    return out


@pytest.mark.parametrize("steps", [2, 8])
def test_a_data_directory_made_by_main_upgrades_to_the_new_layout_without_loss(
    tmp_path: Path, steps: int
) -> None:
    old = tmp_path / "old" / "newsqa.sqlite"
    old.parent.mkdir()
    conn = connect(old)
    make_main_database(conn, steps, feeds=True)  # steps 1-2: conversations only; 1-8: every chat table
    conn.execute(
        "INSERT INTO conversations(chat, state, updated_at) VALUES('c1', '{\"turns\": []}', ?)", (1e9,)
    )
    if steps >= 3:
        conn.execute("INSERT INTO follows(chat, topic, created_at) VALUES('c1', 'tram line', 1.0)")
        conn.execute("INSERT INTO alerts(chat, article, follow, sent_at) VALUES('c1', 'a1', 1, ?)", (2e9,))
    conn.execute("INSERT INTO feed_state(url, etag, updated_at) VALUES('https://x/feed', 'e1', 1.0)")
    conn.execute(
        "INSERT INTO articles(id, title, text, content_hash, added_at) VALUES('a1', 'T', 'Text.', 'h', 1.0)"
    )
    conn.close()

    store = Store(old)
    chats = ChatStore(store)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert TrackVersion("chat").read(store.conn) == len(CHAT_MIGRATIONS)
    assert store.article_ids() == ["a1"]
    assert chats.load_conversation("c1") == '{"turns": []}'
    if steps >= 3:
        (follow,) = chats.follows_of("c1")
        assert (follow.id, follow.topic) == (1, "tram line") and chats.was_alerted("c1", "a1")
    store.close()
    with FeedStateStore(old) as feeds:
        assert feeds.load("https://x/feed").etag == "e1"

    new = tmp_path / "new" / "newsqa.sqlite"
    new.parent.mkdir()
    fresh = Store(new)
    ChatStore(fresh)
    fresh.close()
    assert schema(old) == schema(new)


def test_a_new_index_has_no_chat_tables_until_the_bot_opens_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "newsqa.sqlite")
    names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not names & {"conversations", "follows", "alerts", "schema_versions"}
    ChatStore(store)
    names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "follows", "alerts", "schema_versions"} <= names
    store.close()
