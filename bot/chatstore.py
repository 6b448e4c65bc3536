"""The bot's tables: each chat's conversation, its followed topics, the alerts sent, the question rate
limit. All their SQL is here.

They share the index's database (one file or server to back up; a rebuild swaps only the index tables,
so these survive it) and its connections, but the index neither reads nor writes them. They have their
own migration track, counted in the `chat` row of `schema_versions`. On SQLite an older newsqa made
these tables in the index's steps 1, 3 and 8: every step there says IF NOT EXISTS, so this track adopts
them with their rows. On PostgreSQL the track has the same steps in PostgreSQL's types (no database
there predates it); the queries are shared except where the dialects differ (a new row's id).

On PostgreSQL several `newsqa serve` replicas share these rows, so a chat's state holds whichever replica
answers: every write is one statement or one transaction, and what must not happen twice (an alert, a
question past the limit) is decided by the database, not by a replica's memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from newsqa.index.storage import badrows, pgconn
from newsqa.index.storage.indexstore import IndexStore
from newsqa.index.storage.migrations import Migration, TrackVersion, check_track, migrate

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
    # each user's recent questions (bot/ratelimit.py), shared by every process serving the bot
    Migration(
        4,
        "question_limits",
        """
    CREATE TABLE IF NOT EXISTS question_limits (
        who TEXT PRIMARY KEY,
        times TEXT NOT NULL,          -- the admitted questions' times in the window, space-separated
        version INTEGER NOT NULL,     -- +1 per write: what a compare-and-swap compares
        updated_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS question_limits_updated ON question_limits(updated_at);
    """,
    ),
    # webhook updates accepted (bot/inbox.py): written before Telegram hears 200, done once handled; a
    # row whose owner stopped renewing its lease is finished by another process
    Migration(
        5,
        "inbox",
        """
    CREATE TABLE IF NOT EXISTS inbox (
        update_id INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        owner TEXT NOT NULL,
        lease_until REAL NOT NULL,
        attempts INTEGER NOT NULL,
        accepted_at REAL NOT NULL,
        done_at REAL
    );
    CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(lease_until) WHERE done_at IS NULL;
    CREATE INDEX IF NOT EXISTS inbox_accepted ON inbox(accepted_at);
    """,
    ),
)
check_track(CHAT_MIGRATIONS)

#: The same steps in PostgreSQL's types, run by pgconn.migrate (one transaction, under an advisory lock).
PG_CHAT_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversations",
        """
    CREATE TABLE conversations (
        chat TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    ),
    Migration(
        2,
        "follows_alerts",
        """
    CREATE TABLE follows (
        id BIGSERIAL PRIMARY KEY,
        chat TEXT NOT NULL,
        topic TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE(chat, topic)
    );
    CREATE TABLE alerts (
        chat TEXT NOT NULL,
        article TEXT NOT NULL,
        follow BIGINT NOT NULL,
        sent_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY(chat, article)
    );
    """,
    ),
    Migration(
        3,
        "expiry_indexes",
        """
    CREATE INDEX conversations_updated ON conversations(updated_at);
    CREATE INDEX alerts_sent ON alerts(sent_at);
    """,
    ),
    Migration(
        4,
        "question_limits",
        """
    CREATE TABLE question_limits (
        who TEXT PRIMARY KEY,
        times TEXT NOT NULL,
        version BIGINT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX question_limits_updated ON question_limits(updated_at);
    """,
    ),
    Migration(
        5,
        "inbox",
        """
    CREATE TABLE inbox (
        update_id BIGINT PRIMARY KEY,
        body TEXT NOT NULL,
        owner TEXT NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL,
        attempts INTEGER NOT NULL,
        accepted_at DOUBLE PRECISION NOT NULL,
        done_at DOUBLE PRECISION
    );
    CREATE INDEX inbox_pending ON inbox(lease_until) WHERE done_at IS NULL;
    CREATE INDEX inbox_accepted ON inbox(accepted_at);
    """,
    ),
)
check_track(PG_CHAT_MIGRATIONS)
TRACK = "chat"

#: Retention (ChatStore.expire). A conversation idle this long is forgotten (a follow-up a month later is a
#: new question). An alert row only has to outlive what it guards: the hourly cap looks back one hour, and
#: an article is alerted when it is first indexed, so a month-old row stops nothing. A rate-limit row
#: matters only within its window (a minute): a day idle, it holds nothing a check would count.
CONVERSATION_DAYS = 30
ALERT_DAYS = 30
LIMIT_DAYS = 1
#: an accepted update is kept a day after it arrived: Telegram redelivers one it got no 200 for within
#: minutes, and the row recognises it (handled or not, a day-old message is not worth answering)
INBOX_DAYS = 1
EXPIRE_BATCH = 500  # rows per table and call: a write never pays for a year of backlog at once
EXPIRE_EVERY = 60.0  # seconds between the bot's expiry passes (`expire_due`): not a write per question

#: what expiry deletes from, by age: table, its key columns, its age column, days kept
_EXPIRING = (
    ("conversations", "chat", "updated_at", CONVERSATION_DAYS),
    ("alerts", "chat, article", "sent_at", ALERT_DAYS),
    ("question_limits", "who", "updated_at", LIMIT_DAYS),
    ("inbox", "update_id", "accepted_at", INBOX_DAYS),
)


@dataclass(frozen=True, slots=True)
class Follow:
    id: int  # the row's own key, for the store; people name a follow by its place in /following
    chat: str
    topic: str


@dataclass(frozen=True, slots=True)
class QuestionTimes:
    """One user's admitted questions as stored (`times`), and the row's version for a compare-and-swap."""

    times: tuple[float, ...]
    version: int  # 0: no row yet


class ChatStore:
    """Typed access to the chat tables through the index store's per-thread connections (SQLite or
    PostgreSQL, whichever the store is)."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self.postgres = store.dialect == "postgresql"
        self._expired_at = 0.0  # when `expire_due` last ran a pass
        if store.readonly:
            return
        if self.postgres:
            pgconn.migrate(store.conn, PG_CHAT_MIGRATIONS, TRACK)  # type: ignore[arg-type]
        else:
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
        """The chat's follow of `topic`, added unless the chat follows `most` topics already (None).

        One write transaction (SQLite's BEGIN IMMEDIATE, PostgreSQL's write lock): two replicas adding a
        chat's 20th and 21st topic at once cannot both pass the count."""
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
            sql = "INSERT INTO follows(chat, topic, created_at) VALUES(?,?,?)"
            params = (chat, topic, time.time())
            if self.postgres:  # psycopg has no lastrowid
                new_id = int(conn.execute(sql + " RETURNING id", params).fetchone()[0])
            else:
                new_id = int(conn.execute(sql, params).lastrowid or 0)
        return Follow(new_id, chat, topic)

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

    def record_alert(self, follow: Follow, article: str, sent_at: float) -> bool:
        """Claim the alert of `article` to the follow's chat: True when this call recorded it, False when
        it was recorded already (by this process or another replica): then it must not be sent."""
        cur = self.store.conn.execute(
            "INSERT INTO alerts(chat, article, follow, sent_at) VALUES(?,?,?,?)"
            " ON CONFLICT(chat, article) DO NOTHING",
            (follow.chat, article, follow.id, sent_at),
        )
        return cur.rowcount == 1

    # -- question rate limit (bot/ratelimit.py decides; this keeps its state) ---------------------
    def question_times(self, who: str) -> QuestionTimes:
        row = self.store.conn.execute(
            "SELECT times, version FROM question_limits WHERE who=?", (who,)
        ).fetchone()
        if row is None:
            return QuestionTimes((), 0)
        try:
            times = tuple(float(t) for t in str(row[0]).split())
            if not all(math.isfinite(t) for t in times):
                raise ValueError("a time that is not finite")
        except ValueError as exc:  # a malformed row (the store is shared): the next question rewrites it
            badrows.skipped("question_limits", f"who {who}", str(exc)[:80])
            times = ()
        return QuestionTimes(times, int(row[1]))

    def swap_question_times(self, who: str, seen: QuestionTimes, times: tuple[float, ...]) -> bool:
        """Store `times` for `who` if its row is still as `seen` read it (one atomic upsert); False when
        another process wrote it meanwhile (read again and decide again)."""
        cur = self.store.conn.execute(
            "INSERT INTO question_limits(who, times, version, updated_at) VALUES(?,?,1,?)"
            " ON CONFLICT(who) DO UPDATE SET times=excluded.times, version=question_limits.version+1,"
            " updated_at=excluded.updated_at WHERE question_limits.version=?",
            (who, " ".join(repr(t) for t in times), time.time(), seen.version),
        )
        return cur.rowcount == 1

    # -- the webhook's inbox (bot/inbox.py decides; this keeps its rows) --------------------------
    def accept_update(self, update_id: int, body: str, owner: str, lease_until: float) -> bool:
        """Record an update as accepted by `owner` (one statement: durable when it returns); False when
        it was accepted before (Telegram delivering it again), then it must not be handled again."""
        cur = self.store.conn.execute(
            "INSERT INTO inbox(update_id, body, owner, lease_until, attempts, accepted_at)"
            " VALUES(?,?,?,?,1,?) ON CONFLICT(update_id) DO NOTHING",
            (update_id, body, owner, lease_until, time.time()),
        )
        return cur.rowcount == 1

    def finish_update(self, update_id: int, owner: str) -> None:
        """Handled: no one takes it over (only its current owner's word counts)."""
        self.store.conn.execute(
            "UPDATE inbox SET done_at=? WHERE update_id=? AND owner=? AND done_at IS NULL",
            (time.time(), update_id, owner),
        )

    def renew_updates(self, owner: str, lease_until: float) -> int:
        """Extend the leases of the updates `owner` is still handling (it is alive)."""
        cur = self.store.conn.execute(
            "UPDATE inbox SET lease_until=? WHERE owner=? AND done_at IS NULL", (lease_until, owner)
        )
        return cur.rowcount

    def abandoned_updates(self, now: float, limit: int) -> list[tuple[int, str, int, str]]:
        """(update id, body, attempts, owner) of updates whose lease ran out unhandled, oldest first."""
        rows = self.store.conn.execute(
            "SELECT update_id, body, attempts, owner FROM inbox WHERE done_at IS NULL AND lease_until < ?"
            " ORDER BY update_id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [(int(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]

    def take_over_update(
        self, update_id: int, previous: str, owner: str, now: float, lease_until: float
    ) -> bool:
        """Claim an abandoned update (a compare-and-swap on its owner and lease): True for exactly one
        of the processes trying."""
        cur = self.store.conn.execute(
            "UPDATE inbox SET owner=?, lease_until=?, attempts=attempts+1"
            " WHERE update_id=? AND owner=? AND done_at IS NULL AND lease_until < ?",
            (owner, lease_until, update_id, previous, now),
        )
        return cur.rowcount == 1

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
        """Forget idle conversations, alerts past what dedupe needs and idle rate-limit rows, at most
        `limit` rows of each; returns the rows removed. The bot calls it as it writes, so the tables stay
        bounded by activity."""
        now = time.time() if now is None else now
        removed = 0
        with self.store.transaction() as conn:
            for table, key, column, days in _EXPIRING:
                removed += conn.execute(
                    f"DELETE FROM {table} WHERE ({key}) IN"
                    f" (SELECT {key} FROM {table} WHERE {column} < ? ORDER BY {column} LIMIT ?)",
                    (now - days * 86400, limit),
                ).rowcount
        return removed
