"""SQLite: the source of truth for articles, sentences, their vectors and the change log.

FAISS snapshots are derived from this database (see `vectors.py`): every write is one SQLite transaction,
so a crash at any moment leaves the previous committed state, and a reader replays the change log
(`changes`) past its snapshot to see exactly the committed state.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .migrations import Migration, UserVersion, check_track
from .migrations import migrate as run_migrations
from .rows import StoredArticle, StoredSentence, day_of, sentence_periods
from .sqlstore import SqlStore, _Transaction

__all__ = [
    "MIGRATIONS",
    "SqliteStore",
    "Store",
    "StoredArticle",
    "StoredSentence",
    "connect",
    "day_of",
    "migrate",
]

#: The index's track (see migrations.py): a newer newsqa adds to the end. Steps 3 and 8 made the chat tables
#: (conversations, follows, alerts), which the bot's own track has now (bot/chatstore.py): here they only
#: count, and the file of an older newsqa keeps those tables for that track to adopt.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "articles_sentences_vectors",
        """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE articles (
        rowid INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        url TEXT, published TEXT, source TEXT,
        content_hash TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE sentences (
        id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the FAISS id; never reused
        article INTEGER NOT NULL REFERENCES articles(rowid),
        position INTEGER NOT NULL,
        paragraph INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL
    );
    CREATE INDEX sentences_article ON sentences(article, position);
    CREATE TABLE embeddings (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        op INTEGER NOT NULL,          -- +1 added, -1 removed
        sentence INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE sentences_fts USING fts5(
        text, content='sentences', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    );
    """,
    ),
    # one story, many outlets. Keys recognise a story arriving again; copies are remembered, not indexed.
    Migration(
        2,
        "story_keys",
        """
    CREATE TABLE story_keys (
        article TEXT PRIMARY KEY,      -- articles.id
        url_key TEXT,                  -- normalised URL
        fingerprint TEXT NOT NULL,     -- exact text after whitespace/case folding
        minhash BLOB                   -- near-duplicate signature (uint32 x 128)
    );
    CREATE INDEX story_keys_url ON story_keys(url_key);
    CREATE INDEX story_keys_fingerprint ON story_keys(fingerprint);
    CREATE TABLE also_reported (
        id TEXT PRIMARY KEY,           -- the copy's own id
        original TEXT NOT NULL,        -- articles.id of the indexed story
        title TEXT NOT NULL, url TEXT, source TEXT, published TEXT,
        content_hash TEXT NOT NULL,
        similarity REAL NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE INDEX also_reported_original ON also_reported(original);
    """,
    ),
    Migration(3, "follows_alerts", ""),  # the chat track's
    # BM25 over whole paragraphs too (questions are often written from a paragraph, not one sentence);
    # a paragraph's rowid is the id of its first sentence
    Migration(
        4,
        "paragraphs_fts",
        """
    CREATE VIRTUAL TABLE paragraphs_fts USING fts5(
        text, article UNINDEXED, paragraph UNINDEXED, tokenize='porter unicode61 remove_diacritics 2'
    );
    INSERT INTO paragraphs_fts(rowid, text, article, paragraph)
        SELECT MIN(id), group_concat(text, ' '), article, paragraph FROM sentences
        GROUP BY article, paragraph;
    """,
    ),
    # vectors in a rowid table. A 1.5 kB vector overflows a WITHOUT ROWID page (an index b-tree keeps
    # at most about 1 kB of a row in place), which cost 4.7 kB on disk per vector; here it is 1.6-2 kB.
    Migration(
        5,
        "embeddings_rowid",
        """
    CREATE TABLE embeddings_v5 (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
    INSERT INTO embeddings_v5(text_hash, vector) SELECT text_hash, vector FROM embeddings;
    DROP TABLE embeddings;
    ALTER TABLE embeddings_v5 RENAME TO embeddings;
    """,
    ),
    # time. An article's publish date as a day, and the days its sentences speak of ("on Sunday" in an
    # article of Tuesday 8 June 2021 is 6 June), resolved at ingest (timeexpr.py) and filled in here for
    # what an earlier newsqa indexed.
    Migration(
        6,
        "days",
        """
    ALTER TABLE articles ADD COLUMN day TEXT;   -- YYYY-MM-DD; NULL: the article has no usable date
    UPDATE articles SET day = newsqa_day(published);
    CREATE INDEX articles_day ON articles(day);
    CREATE TABLE sentence_times (
        sentence INTEGER NOT NULL,   -- sentences.id
        start TEXT NOT NULL,         -- first day named, YYYY-MM-DD
        end TEXT NOT NULL            -- last day named (inclusive)
    );
    CREATE INDEX sentence_times_sentence ON sentence_times(sentence);
    CREATE INDEX sentence_times_start ON sentence_times(start);
    INSERT INTO sentence_times(sentence, start, end)
        SELECT s.id, json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]')
        FROM sentences s JOIN articles a ON a.rowid = s.article, json_each(newsqa_times(s.text, a.day)) t;
    """,
    ),
    # each sentence's own vector beside the headline-prefixed one (context.py): the hash of the bare
    # sentence text in `embeddings`; NULL for sentences indexed before (they rank by the prefixed vector)
    Migration(
        7,
        "bare_hash",
        """
    ALTER TABLE sentences ADD COLUMN bare_hash TEXT;
    """,
    ),
    Migration(8, "chat_expiry_indexes", ""),  # the chat track's
    # what a feed poll remembers (feeds.py, FeedStateStore). Made outside any migration before, on first
    # use of a feed: IF NOT EXISTS keeps the tables and rows such a file already has.
    Migration(
        9,
        "feed_state",
        """
    CREATE TABLE IF NOT EXISTS feed_state (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_due REAL NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS feed_state_seen (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: the oldest unlisted keys go first
        url TEXT NOT NULL,
        key TEXT NOT NULL,
        UNIQUE (url, key)
    );
    """,
    ),
    # articles whose followers' alerts are due (bot/alerts.py): written in the transaction that adds the
    # article, so the fact is durable exactly when the article is, and deleted once its alerts are
    # claimed. Empty to begin with: what an earlier newsqa indexed never alerts.
    Migration(
        10,
        "alerts_due",
        """
    CREATE TABLE alerts_due (article TEXT PRIMARY KEY);   -- articles.id
    """,
    ),
)
check_track(MIGRATIONS)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the settings every caller needs (WAL so readers never block the writer)."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # first: a second process creating the same new file waits for the first instead of failing
        conn.execute("PRAGMA busy_timeout=10000")
        # 8 kB pages hold five 384-d vectors (4 kB pages: two); it takes effect only for a new file
        conn.execute("PRAGMA page_size=8192")
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    # what migration 6 needs to date what an earlier newsqa indexed (the same rules as a new ingest)
    conn.create_function("newsqa_day", 1, _sql_day, deterministic=True)
    conn.create_function("newsqa_times", 2, _sql_times, deterministic=True)
    return conn


def _retry_locked(step: Callable[[], object], *, seconds: float = 10.0) -> None:
    """Run `step`, retrying while the database is locked: SQLite returns "locked" at once, without the busy
    handler, when two processes switch a new file to WAL at the same instant."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sql_day(published: str | None) -> str | None:
    return day_of(published)


def _sql_times(text: str, day: str | None) -> str:
    return json.dumps([[p.start.isoformat(), p.end.isoformat()] for p in sentence_periods(text, day)])


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the index's tables up to date (connect with `connect`: step 6 calls its SQL functions)."""
    run_migrations(conn, MIGRATIONS, UserVersion(), "index")


class SqliteStore(SqlStore):
    """The index's database in one SQLite file (WAL: readers never block the writer), with FTS5 for BM25."""

    SPAN_DAYS = 'julianday("end") - julianday(start)'
    dialect = "sqlite"

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        super().__init__(readonly=readonly)

    @property
    def conn(self) -> sqlite3.Connection:
        return super().conn  # type: ignore[no-any-return]

    def _migrate(self) -> None:
        migrate(self.conn)

    def _connect(self) -> Any:
        return connect(self.path, readonly=self.readonly)

    # -- transactions ----------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn, "BEGIN IMMEDIATE")

    def read_transaction(self) -> _Transaction:
        """Several reads that must see one committed state (WAL gives each statement its own otherwise)."""
        return _Transaction(self.conn, "BEGIN")

    def delete_article(self, rowid: int) -> list[int]:
        """Delete an article with its sentences; returns the sentence ids removed (logged as changes)."""
        rows = self.conn.execute("SELECT id, text FROM sentences WHERE article=?", (rowid,)).fetchall()
        self.conn.executemany(
            "INSERT INTO sentences_fts(sentences_fts, rowid, text) VALUES('delete', ?, ?)", rows
        )
        self.conn.executemany("DELETE FROM paragraphs_fts WHERE rowid=?", ((r[0],) for r in rows))
        self.conn.executemany("DELETE FROM sentence_times WHERE sentence=?", ((r[0],) for r in rows))
        self.conn.execute("DELETE FROM sentences WHERE article=?", (rowid,))
        self.conn.execute("DELETE FROM articles WHERE rowid=?", (rowid,))
        ids = [r[0] for r in rows]
        self.conn.executemany("INSERT INTO changes(op, sentence) VALUES(-1, ?)", ((i,) for i in ids))
        return ids

    def _insert_sentence_rows(self, rows: Sequence[tuple]) -> list[int]:
        """(article, position, paragraph, start, end, text, text_hash, bare_hash) rows, and their new ids,
        with the full-text index's rows (FTS5 here)."""
        ids: list[int] = []
        for row in rows:
            cur = self.conn.execute(
                'INSERT INTO sentences(article, position, paragraph, start, "end", text, text_hash,'
                " bare_hash) VALUES(?,?,?,?,?,?,?,?)",
                row,
            )
            sid = int(cur.lastrowid or 0)
            self.conn.execute("INSERT INTO sentences_fts(rowid, text) VALUES(?, ?)", (sid, row[5]))
            ids.append(sid)
        return ids

    def _insert_paragraphs(self, rows: Sequence[tuple[int, int, int, str]]) -> None:
        """(first sentence id, article, paragraph, text) rows into the paragraphs' full-text index."""
        self.conn.executemany(
            "INSERT INTO paragraphs_fts(rowid, article, paragraph, text) VALUES(?, ?, ?, ?)", rows
        )

    # -- lexical ---------------------------------------------------------------------------------
    def lexical_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over sentences matching any of `terms` (FTS5); scores made positive, higher is better."""
        match = match_any(terms)
        if not match:
            return []
        rows = self.conn.execute(
            "SELECT rowid, -bm25(sentences_fts) FROM sentences_fts WHERE sentences_fts MATCH ?"
            " ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def sentences_matching(self, term: str) -> int:
        """How many sentences hold `term` (FTS5 tokenisation): counting is cheap, scoring is not."""
        quoted = '"' + term.replace('"', "") + '"'
        if quoted == '""':
            return 0
        row = self.conn.execute(
            "SELECT count(*) FROM sentences_fts WHERE sentences_fts MATCH ?", (quoted,)
        ).fetchone()
        return int(row[0])

    def paragraph_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, int, float]]:
        """BM25 over paragraphs: (article rowid, paragraph, score made positive), best first."""
        match = match_any(terms)
        if not match:
            return []
        rows = self.conn.execute(
            "SELECT article, paragraph, -bm25(paragraphs_fts) FROM paragraphs_fts"
            " WHERE paragraphs_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        return [(int(r[0]), int(r[1]), float(r[2])) for r in rows]

    # -- upkeep ----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        """The database file's size (pages in use), without its WAL."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(self.conn.execute("PRAGMA page_size").fetchone()[0])

    def quick_check(self, limit: int) -> list[str]:
        """SQLite's quick_check: ["ok"], or up to `limit` problems found."""
        return [r[0] for r in self.conn.execute(f"PRAGMA quick_check({int(limit)})")]

    def fold_wal(self) -> None:
        """Fold the WAL into the database and give its space back (readers mid-read make it partial)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


#: the SQLite engine under its old name
Store = SqliteStore


def match_any(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression for any of `terms`, each quoted (so no FTS5 syntax leaks from a question)."""
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms if t.replace('"', ""))
