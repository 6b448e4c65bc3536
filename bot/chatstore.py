"""The bot's tables: each chat's conversation, its followed topics, the alerts sent. All their SQL is here.

They share the index's SQLite file (one file to back up; a rebuild swaps only the index tables, so these
survive it) and its connections, but the index neither reads nor writes them. They have their own
migration track, counted in the `chat` row of `schema_versions` (the file's user_version is the
index's). An older newsqa made these tables in the index's steps 1, 3 and 8: every step here says
IF NOT EXISTS, so this track adopts them with their rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from newsqa.index.storage.migrations import Migration, TrackVersion, check_track, migrate
from newsqa.index.storage.store import Store

CHAT_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversations",
        """
    CREATE TABLE IF NOT EXISTS conversations (
        chat TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL
    );
    """,
    ),
    # people following a topic, and the alerts already sent (never the same article twice to a chat)
    Migration(
        2,
        "follows_alerts",
        """
    CREATE TABLE IF NOT EXISTS follows (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat TEXT NOT NULL,
        topic TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE(chat, topic)
    );
    CREATE TABLE IF NOT EXISTS alerts (
        chat TEXT NOT NULL,
        article TEXT NOT NULL,
        follow INTEGER NOT NULL,
        sent_at REAL NOT NULL,
        PRIMARY KEY(chat, article)
    );
    """,
    ),
    # what expiry (ChatStore.expire) looks up by age
    Migration(
        3,
        "expiry_indexes",
        """
    CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
    CREATE INDEX IF NOT EXISTS alerts_sent ON alerts(sent_at);
    """,
    ),
)
check_track(CHAT_MIGRATIONS)
TRACK = "chat"

#: Retention (ChatStore.expire). A conversation idle this long is forgotten (a follow-up a month later is a
#: new question). An alert row only has to outlive what it guards: the hourly cap looks back one hour, and
#: an article is alerted when it is first indexed, so a month-old row stops nothing.
CONVERSATION_DAYS = 30
ALERT_DAYS = 30
EXPIRE_BATCH = 500  # rows per table and call: a write never pays for a year of backlog at once
EXPIRE_EVERY = 60.0  # seconds between the bot's expiry passes (`expire_due`): not a write per question


@dataclass(frozen=True, slots=True)
class Follow:
    id: int  # the row's own key, for the store; people name a follow by its place in /following
    chat: str
    topic: str


class ChatStore:
    """Typed access to the chat tables through the index store's per-thread connections."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._expired_at = 0.0  # when `expire_due` last ran a pass
        if not store.readonly:
            migrate(store.conn, CHAT_MIGRATIONS, TrackVersion(TRACK), TRACK)

    # -- conversations ---------------------------------------------------------------------------
    def load_conversation(self, chat: str) -> str | None:
        row = self.store.conn.execute("SELECT state FROM conversations WHERE chat=?", (chat,)).fetchone()
        return row[0] if row else None

    def save_conversation(self, chat: str, state: str) -> None:
        self.store.conn.execute(
            "INSERT INTO conversations(chat, state, updated_at) VALUES(?,?,?)"
            " ON CONFLICT(chat) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
            (chat, state, time.time()),
        )

    def delete_conversation(self, chat: str) -> None:
        self.store.conn.execute("DELETE FROM conversations WHERE chat=?", (chat,))

    # -- follows ---------------------------------------------------------------------------------
    def add_follow(self, chat: str, topic: str, *, most: int) -> Follow | None:
        """The chat's follow of `topic`, added unless the chat follows `most` topics already (None)."""
        conn = self.store.conn
        with self.store.transaction():
            existing = conn.execute(
                "SELECT id FROM follows WHERE chat=? AND topic=?", (chat, topic)
            ).fetchone()
            if existing:
                return Follow(int(existing[0]), chat, topic)
            count = conn.execute("SELECT COUNT(*) FROM follows WHERE chat=?", (chat,)).fetchone()[0]
            if count >= most:
                return None
            cur = conn.execute(
                "INSERT INTO follows(chat, topic, created_at) VALUES(?,?,?)", (chat, topic, time.time())
            )
        return Follow(int(cur.lastrowid or 0), chat, topic)

    def follows_of(self, chat: str) -> list[Follow]:
        """The chat's follows, oldest first (the order /following numbers them in)."""
        rows = self.store.conn.execute(
            "SELECT id, chat, topic FROM follows WHERE chat=? ORDER BY id", (chat,)
        ).fetchall()
        return [Follow(int(r[0]), r[1], r[2]) for r in rows]

    def all_follows(self) -> list[Follow]:
        rows = self.store.conn.execute("SELECT id, chat, topic FROM follows ORDER BY id").fetchall()
        return [Follow(int(r[0]), r[1], r[2]) for r in rows]

    def remove_follows(self, follows: Iterable[Follow]) -> None:
        with self.store.transaction() as conn:
            conn.executemany("DELETE FROM follows WHERE id=?", ((f.id,) for f in follows))

    # -- alerts ----------------------------------------------------------------------------------
    def was_alerted(self, chat: str, article: str) -> bool:
        row = self.store.conn.execute(
            "SELECT 1 FROM alerts WHERE chat=? AND article=?", (chat, article)
        ).fetchone()
        return row is not None

    def alerts_since(self, chat: str, since: float) -> int:
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE chat=? AND sent_at > ?", (chat, since)
        ).fetchone()
        return int(row[0])

    def record_alert(self, follow: Follow, article: str, sent_at: float) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO alerts(chat, article, follow, sent_at) VALUES(?,?,?,?)",
                (follow.chat, article, follow.id, sent_at),
            )

    # -- retention -------------------------------------------------------------------------------
    def expire_due(self, now: float | None = None) -> int:
        """`expire`, at most once every EXPIRE_EVERY seconds: the bot calls it on each question and alert
        round, and a delete transaction per question would be work on the answer path for nothing."""
        now = time.time() if now is None else now
        if now - self._expired_at < EXPIRE_EVERY:
            return 0
        self._expired_at = now
        return self.expire(now)

    def expire(self, now: float | None = None, *, limit: int = EXPIRE_BATCH) -> int:
        """Forget idle conversations and alerts past what dedupe needs, at most `limit` rows of each;
        returns the rows removed. The bot calls it as it writes, so the tables stay bounded by activity."""
        now = time.time() if now is None else now
        removed = 0
        with self.store.transaction() as conn:
            for table, column, days in (
                ("conversations", "updated_at", CONVERSATION_DAYS),
                ("alerts", "sent_at", ALERT_DAYS),
            ):
                removed += conn.execute(
                    f"DELETE FROM {table} WHERE rowid IN"
                    f" (SELECT rowid FROM {table} WHERE {column} < ? ORDER BY {column} LIMIT ?)",
                    (now - days * 86400, limit),
                ).rowcount
        return removed
