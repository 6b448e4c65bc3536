"""Conversations and alerts do not grow forever: idle ones expire, a bounded number per write."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from fakes import HashingEmbedder

from newsqa.bot.backend import Backend
from newsqa.bot.chatstore import ALERT_DAYS, CONVERSATION_DAYS, EXPIRE_BATCH
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


def test_idle_conversations_and_old_alerts_expire_a_batch_at_a_time(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    backend = Backend(lib, QuestionAnswerer(Searcher(lib, SearchOptions())), k=3, lock_timeout=5)
    chats = backend.chats
    now = time.time()
    old_chat, old_alert = now - (CONVERSATION_DAYS + 1) * 86400, now - (ALERT_DAYS + 1) * 86400
    n_old = EXPIRE_BATCH + 100
    with lib.store.transaction() as conn:
        conn.executemany(
            "INSERT INTO conversations(chat, state, updated_at) VALUES(?, '{}', ?)",
            [(f"idle{i}", old_chat) for i in range(n_old)] + [("active", now - 3600)],
        )
        conn.executemany(
            "INSERT INTO alerts(chat, article, follow, sent_at) VALUES(?, ?, 1, ?)",
            [("c", f"old{i}", old_alert) for i in range(n_old)] + [("c", "recent", now - 60)],
        )

    def rows(table: str) -> int:
        return lib.store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    lib.ingest([Article(id="a", title="A", text="One sentence here. And another.")])
    backend.ask("asker", "One sentence?", dt.date.today())  # a question writes, and expires
    assert rows("conversations") == n_old + 2 - EXPIRE_BATCH  # bounded work per call
    assert rows("alerts") == n_old + 1 - EXPIRE_BATCH
    chats.expire()
    assert rows("conversations") == 2 and chats.load_conversation("active") == "{}"
    assert rows("alerts") == 1
    lib.close()


def test_the_bot_expires_at_most_once_a_minute(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    chats = Backend(lib, QuestionAnswerer(Searcher(lib, SearchOptions())), k=3, lock_timeout=5).chats
    old = time.time() - (CONVERSATION_DAYS + 1) * 86400
    now = time.time()
    chats.save_conversation("idle", "{}")
    lib.store.conn.execute("UPDATE conversations SET updated_at=?", (old,))
    assert chats.expire_due(now) == 1
    chats.save_conversation("idle2", "{}")
    lib.store.conn.execute("UPDATE conversations SET updated_at=?", (old,))
    assert chats.expire_due(now + 1) == 0  # within the minute: no pass
    assert chats.expire_due(now + 61) == 1
    lib.close()
