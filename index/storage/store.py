"""SQLite: the source of truth for articles, sentences, their vectors and the change log.

FAISS snapshots are derived from this database (see `vectors.py`): every write is one SQLite transaction,
so a crash at any moment leaves the previous committed state, and a reader replays the change log
(`changes`) past its snapshot to see exactly the committed state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..text.article import Article
from ..text.sentences import Sentence
from ..text.timeexpr import Period, find_times, parse_day
from . import badrows
from .migrations import Migration, UserVersion, check_track
from .migrations import migrate as run_migrations

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
)
check_track(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class StoredArticle:
    rowid: int
    id: str
    title: str
    text: str
    url: str | None
    published: str | None
    source: str | None
    added_at: float
    day: str | None = None  # the publish date as YYYY-MM-DD, when the article has one


_ARTICLE_COLUMNS = "rowid, id, title, text, url, published, source, added_at, day"


@dataclass(frozen=True, slots=True)
class StoredSentence:
    id: int
    article: int
    position: int
    paragraph: int
    start: int
    end: int
    text: str


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


def day_of(published: str | None) -> str | None:
    """The stored form of a publish date: YYYY-MM-DD, or None when it cannot be read as a date."""
    day = parse_day(published)
    return day.isoformat() if day else None


def sentence_periods(text: str, day: str | None) -> list[Period]:
    """The days a sentence speaks of, resolved against its article's publish date (None: undated)."""
    anchor = dt.date.fromisoformat(day) if day else None
    return [t.period for t in find_times(text, anchor)]


def _sql_day(published: str | None) -> str | None:
    return day_of(published)


def _sql_times(text: str, day: str | None) -> str:
    return json.dumps([[p.start.isoformat(), p.end.isoformat()] for p in sentence_periods(text, day)])


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the index's tables up to date (connect with `connect`: step 6 calls its SQL functions)."""
    run_migrations(conn, MIGRATIONS, UserVersion(), "index")


class Store:
    """Typed access to the database; callers group writes with `transaction()`.

    Its SQL is written to run on PostgreSQL too (`ON CONFLICT`, `RETURNING`, quoted "end"): `PgStore`
    overrides only what truly differs (full-text search, connections, transactions).

    Each thread gets its own connection: a search in a worker thread must never run inside another
    thread's open write transaction (WAL lets them proceed side by side instead).
    """

    #: days from a sentence_times row's start to its end, in this database's SQL
    SPAN_DAYS = 'julianday("end") - julianday(start)'
    #: which database this is, for the few callers whose SQL differs ("sqlite" or "postgresql")
    dialect = "sqlite"

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[Any] = []  # every thread's connection, closed together
        self._all_lock = threading.Lock()
        if not readonly:
            self._migrate()

    def _migrate(self) -> None:
        migrate(self.conn)

    def _connect(self) -> Any:
        return connect(self.path, readonly=self.readonly)

    def _usable(self, conn: Any) -> bool:
        """Whether this thread's connection still works (a server's may have been dropped)."""
        return True

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, made anew when the old one broke (a server restarted). Forgotten
        before the new one is made: a connect that fails (the server still down) raises here, and the
        thread's next call tries again instead of tripping over the broken one."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            self._local.conn = None
            if conn is not None:
                with self._all_lock:
                    if conn in self._all:
                        self._all.remove(conn)
                with contextlib.suppress(Exception):  # broken already: nothing to give back
                    conn.close()
            conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # -- transactions ----------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn, "BEGIN IMMEDIATE")

    def read_transaction(self) -> _Transaction:
        """Several reads that must see one committed state (WAL gives each statement its own otherwise)."""
        return _Transaction(self.conn, "BEGIN")

    # -- articles --------------------------------------------------------------------------------
    def article_hash(self, article_id: str) -> tuple[int, str] | None:
        row = self.conn.execute(
            "SELECT rowid, content_hash FROM articles WHERE id=?", (article_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def insert_article(self, article: Article) -> int:
        row = self.conn.execute(
            "INSERT INTO articles(id, title, text, url, published, source, content_hash, added_at, day)"
            " VALUES(?,?,?,?,?,?,?,?,?) RETURNING rowid",
            (
                article.id,
                article.title,
                article.text,
                article.url,
                article.published,
                article.source,
                article.content_hash,
                time.time(),
                day_of(article.published),
            ),
        ).fetchone()
        return int(row[0])

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

    def insert_sentences(
        self,
        article_rowid: int,
        sentences: Sequence[Sentence],
        texts: Sequence[str],
        hashes: Sequence[str],
        *,
        day: str | None = None,
        bare_hashes: Sequence[str] | None = None,
    ) -> list[int]:
        """Sentences of one article, with the days each speaks of resolved against the article's `day`."""
        bare = bare_hashes if bare_hashes is not None else [None] * len(texts)
        rows = [
            (article_rowid, s.position, s.paragraph, s.start, s.end, text, h, b)
            for s, text, h, b in zip(sentences, texts, hashes, bare, strict=True)
        ]
        ids = self._insert_sentence_rows(rows)
        self.conn.executemany("INSERT INTO changes(op, sentence) VALUES(1, ?)", ((i,) for i in ids))
        self.conn.executemany(
            'INSERT INTO sentence_times(sentence, start, "end") VALUES(?, ?, ?)',
            (
                (sid, p.start.isoformat(), p.end.isoformat())
                for sid, text in zip(ids, texts, strict=True)
                for p in sentence_periods(text, day)
            ),
        )
        paragraphs: dict[int, tuple[int, list[str]]] = {}
        for s, text, sid in zip(sentences, texts, ids, strict=True):
            paragraphs.setdefault(s.paragraph, (sid, []))[1].append(text)
        self._insert_paragraphs(
            [(first, article_rowid, p, " ".join(parts)) for p, (first, parts) in paragraphs.items()]
        )
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

    def article_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM articles ORDER BY rowid")]

    def article_headlines(self) -> list[tuple[str, str, str | None]]:
        """(id, headline, publish day or None) of every article, in the order they were indexed."""
        return [
            (r[0], r[1], r[2])
            for r in self.conn.execute("SELECT id, title, day FROM articles ORDER BY rowid")
        ]

    def newest_day(self) -> str | None:
        """The newest publish day (YYYY-MM-DD) of the dated articles; None when none is dated."""
        return self.conn.execute("SELECT MAX(day) FROM articles").fetchone()[0]

    def get_article(self, rowid: int) -> StoredArticle | None:
        row = self.conn.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE rowid=?", (rowid,)).fetchone()
        return StoredArticle(*row) if row else None

    def find_article(self, article_id: str) -> StoredArticle | None:
        row = self.conn.execute("SELECT rowid FROM articles WHERE id=?", (article_id,)).fetchone()
        return self.get_article(row[0]) if row else None

    def latest_articles(self, limit: int) -> list[StoredArticle]:
        rows = self.conn.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [StoredArticle(*r) for r in rows]

    # -- sentences -------------------------------------------------------------------------------
    def sentences_by_id(self, ids: Iterable[int]) -> dict[int, StoredSentence]:
        ids = list(ids)
        out: dict[int, StoredSentence] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                'SELECT id, article, position, paragraph, start, "end", text FROM sentences'
                f" WHERE id IN ({marks})",
                chunk,
            ):
                out[row[0]] = StoredSentence(*row)
        return out

    def article_days(self, rowids: Iterable[int]) -> dict[int, dt.date | None]:
        """Publish day of each article (None: undated)."""
        out: dict[int, dt.date | None] = {}
        for chunk in _chunks(list(rowids), 500):
            marks = ",".join("?" * len(chunk))
            for rowid, day in self.conn.execute(
                f"SELECT rowid, day FROM articles WHERE rowid IN ({marks})", chunk
            ):
                out[int(rowid)] = badrows.parse_day(day) if day else None
                if day and out[int(rowid)] is None:
                    badrows.skipped("articles", f"rowid {rowid}", f"day {str(day)[:40]!r} is not a day")
        return out

    def article_titles(self, rowids: Iterable[int]) -> dict[int, str]:
        """Headline of each article (what its sentences were embedded with, context.py)."""
        out: dict[int, str] = {}
        for chunk in _chunks(list(rowids), 500):
            marks = ",".join("?" * len(chunk))
            for rowid, title in self.conn.execute(
                f"SELECT rowid, title FROM articles WHERE rowid IN ({marks})", chunk
            ):
                out[int(rowid)] = title or ""
        return out

    def sentences_about(self, period: Period, limit: int) -> list[int]:
        """Sentences that name a day inside `period` (at most a month's span, so "in 2023" stays out)."""
        rows = self.conn.execute(
            'SELECT DISTINCT sentence FROM sentence_times WHERE start <= ? AND "end" >= ?'
            f" AND {self.SPAN_DAYS} <= 31 ORDER BY sentence DESC LIMIT ?",
            (period.end.isoformat(), period.start.isoformat(), limit),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def sentence_periods(self, ids: Iterable[int]) -> dict[int, list[Period]]:
        out: dict[int, list[Period]] = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            for sid, start, end in self.conn.execute(
                f'SELECT sentence, start, "end" FROM sentence_times WHERE sentence IN ({marks})', chunk
            ):
                first, last = badrows.parse_day(start), badrows.parse_day(end)
                if first is None or last is None:
                    badrows.skipped(
                        "sentence_times", f"sentence {sid}", f"{str(start)[:40]!r}..{str(end)[:40]!r}"
                    )
                    continue
                out.setdefault(int(sid), []).append(Period(first, last))
        return out

    def article_sentences(self, article_rowid: int) -> list[StoredSentence]:
        rows = self.conn.execute(
            'SELECT id, article, position, paragraph, start, "end", text FROM sentences'
            " WHERE article=? ORDER BY position",
            (article_rowid,),
        ).fetchall()
        return [StoredSentence(*r) for r in rows]

    # -- embeddings ------------------------------------------------------------------------------
    def known_hashes(self, hashes: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(set(hashes)), 500):
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT text_hash FROM embeddings WHERE text_hash IN ({marks})", chunk
                )
            )
        return found

    def put_embeddings(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        self.conn.executemany(
            "INSERT INTO embeddings(text_hash, vector) VALUES(?, ?) ON CONFLICT (text_hash) DO NOTHING",
            ((h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)),
        )

    def _vector_rows(self, ids: Sequence[int], hash_column: str) -> Iterator[tuple[int, bytes]]:
        """(sentence id, vector blob) of those of `ids` that are live, joined through `hash_column`
        (`text_hash`: the headline-prefixed vector; `bare_hash`: the sentence's own, where it has one)."""
        assert hash_column in ("text_hash", "bare_hash")
        for chunk in _chunks(list(dict.fromkeys(ids)), 500):
            marks = ",".join("?" * len(chunk))
            yield from self.conn.execute(
                f"SELECT s.id, e.vector FROM sentences s JOIN embeddings e ON e.text_hash = s.{hash_column}"
                f" WHERE s.id IN ({marks})",
                chunk,
            )

    def vectors_for_sentences(self, ids: Sequence[int], dim: int) -> np.ndarray:
        """Vectors in the order of `ids`, which must all be live sentences (a malformed one is zeros)."""
        found_ids, vecs = badrows.decode_vectors(self._vector_rows(ids, "text_hash"), dim)
        found = dict(zip(found_ids.tolist(), vecs, strict=True))
        out = np.zeros((len(ids), dim), dtype=np.float32)
        for row, sid in enumerate(ids):
            if sid in found:
                out[row] = found[sid]
        return out

    def bare_vectors_for(self, ids: Sequence[int], dim: int) -> dict[int, np.ndarray]:
        """The sentence-alone vectors of those of `ids` that have one."""
        found_ids, vecs = badrows.decode_vectors(self._vector_rows(ids, "bare_hash"), dim)
        return dict(zip(found_ids.tolist(), vecs, strict=True))

    def live_vectors(self, ids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of `ids` that are live sentences: a change log entry naming a sentence
        that does not exist must not put an uninitialised vector into the index."""
        return badrows.decode_vectors(self._vector_rows(ids, "text_hash"), dim)

    def iter_all_vectors(self, dim: int, batch: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of every live sentence, in batches: used to rebuild a snapshot from scratch."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT s.id, e.vector FROM sentences s JOIN embeddings e ON e.text_hash = s.text_hash"
                " WHERE s.id > ? ORDER BY s.id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            ids, vecs = badrows.decode_vectors(rows, dim)
            if len(ids):
                yield ids, vecs
            last = int(rows[-1][0])

    def prune_embeddings(self) -> int:
        """Forget vectors no sentence uses any more (after removals), so the file does not only grow."""
        cur = self.conn.execute(
            "DELETE FROM embeddings WHERE text_hash NOT IN (SELECT text_hash FROM sentences)"
            " AND text_hash NOT IN (SELECT bare_hash FROM sentences WHERE bare_hash IS NOT NULL)"
        )
        return cur.rowcount

    # -- change log ------------------------------------------------------------------------------
    def last_seq(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    def changes_since(self, seq: int) -> list[tuple[int, int, int]]:
        return self.conn.execute(
            "SELECT seq, op, sentence FROM changes WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()

    def truncate_changes(self, upto: int) -> None:
        self.conn.execute("DELETE FROM changes WHERE seq <= ?", (upto,))

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

    # -- stories seen again (see stories.py) -------------------------------------------------------
    def story_keys(self) -> list[tuple[str, bytes | None]]:
        return self.conn.execute(
            "SELECT k.article, k.minhash FROM story_keys k JOIN articles a ON a.id = k.article"
        ).fetchall()

    def articles_without_story_keys(self) -> list[tuple[str, str, str | None]]:
        return self.conn.execute(
            "SELECT id, text, url FROM articles WHERE id NOT IN (SELECT article FROM story_keys)"
        ).fetchall()

    def put_story_keys(self, rows: Iterable[tuple[str, str | None, str, bytes | None]]) -> None:
        self.conn.executemany(
            "INSERT INTO story_keys(article, url_key, fingerprint, minhash) VALUES(?,?,?,?)"
            " ON CONFLICT (article) DO UPDATE SET url_key=excluded.url_key,"
            " fingerprint=excluded.fingerprint, minhash=excluded.minhash",
            rows,
        )

    def article_with_key(self, column: str, value: str) -> str | None:
        """The live article whose url_key or fingerprint equals `value`."""
        assert column in ("url_key", "fingerprint")
        row = self.conn.execute(
            "SELECT k.article FROM story_keys k JOIN articles a ON a.id = k.article"
            f" WHERE k.{column} = ? LIMIT 1",
            (value,),
        ).fetchone()
        return row[0] if row else None

    def copy_hash(self, copy_id: str) -> str | None:
        row = self.conn.execute("SELECT content_hash FROM also_reported WHERE id=?", (copy_id,)).fetchone()
        return row[0] if row else None

    def put_copies(
        self, rows: Iterable[tuple[str, str, str, str | None, str | None, str | None, str, float]]
    ) -> None:
        self.conn.executemany(
            "INSERT INTO also_reported(id, original, title, url, source, published, content_hash,"
            " similarity, added_at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET"
            " original=excluded.original, title=excluded.title, url=excluded.url, source=excluded.source,"
            " published=excluded.published, content_hash=excluded.content_hash,"
            " similarity=excluded.similarity, added_at=excluded.added_at",
            ((*r, time.time()) for r in rows),
        )

    def copies_of(self, article_id: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
        """(id, title, url, source, published) of the other outlets that ran this story."""
        return self.conn.execute(
            "SELECT id, title, url, source, published FROM also_reported WHERE original=? ORDER BY added_at",
            (article_id,),
        ).fetchall()

    def forget_stories(self, article_ids: Sequence[str]) -> None:
        self.conn.executemany("DELETE FROM story_keys WHERE article=?", ((i,) for i in article_ids))
        self.conn.executemany("DELETE FROM also_reported WHERE original=?", ((i,) for i in article_ids))

    # -- counts ----------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        a = self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        s = self.conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
        return int(a), int(s)

    def embedded_texts(self) -> list[tuple[str, str]]:
        """(headline, sentence) of the first sentence of each distinct text hash, in id order: what was
        embedded (the benchmark times the encoder on exactly these)."""
        return self.conn.execute(
            "SELECT a.title, s.text FROM sentences s JOIN articles a ON a.rowid = s.article"
            " WHERE s.id IN (SELECT MIN(id) FROM sentences GROUP BY text_hash) ORDER BY s.id"
        ).fetchall()

    def texts_with_vectors(self, dim: int) -> tuple[list[str], np.ndarray]:
        """Each distinct sentence text with its stored vector, in the same order (the benchmark pads an
        index with texts spliced from these)."""
        rows = self.conn.execute(
            "SELECT s.text, e.vector FROM embeddings e JOIN sentences s ON s.text_hash = e.text_hash"
            " GROUP BY e.text_hash"
        ).fetchall()
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return [r[0] for r in rows], vecs

    # -- upkeep ----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        """The database file's size (pages in use), without its WAL."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(self.conn.execute("PRAGMA page_size").fetchone()[0])

    def malformed_vectors(self, dim: int) -> list[str]:
        """Text hashes whose stored vector is not `dim` float32s (badrows.py)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT text_hash FROM embeddings WHERE vector IS NULL OR length(vector) != ?", (4 * dim,)
            )
        ]

    def sentences_with_malformed_vectors(self, dim: int) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM sentences s JOIN embeddings e ON e.text_hash = s.text_hash"
            " WHERE e.vector IS NULL OR length(e.vector) != ?",
            (4 * dim,),
        ).fetchone()
        return int(row[0])

    def drop_embeddings(self, hashes: Sequence[str]) -> None:
        self.conn.executemany("DELETE FROM embeddings WHERE text_hash=?", ((h,) for h in hashes))

    def texts_without_vectors(self) -> list[tuple[str, str, str, str | None]]:
        """(hash, headline, sentence, bare hash) of each sentence whose headline-prefixed or bare text
        hash has no stored vector: what must be embedded again (context.py)."""
        rows = self.conn.execute(
            "SELECT s.text_hash, a.title, s.text, s.bare_hash FROM sentences s"
            " JOIN articles a ON a.rowid = s.article"
            " WHERE s.text_hash NOT IN (SELECT text_hash FROM embeddings)"
            " OR (s.bare_hash IS NOT NULL AND s.bare_hash NOT IN (SELECT text_hash FROM embeddings))"
        ).fetchall()
        return [(h, title, text, bare) for h, title, text, bare in rows]

    def malformed_times(self) -> list[tuple[int, str, str]]:
        """(sentence, start, end) rows of sentence_times that are not two days (badrows.py)."""
        return [
            (int(sid), start, end)
            for sid, start, end in self.conn.execute('SELECT sentence, start, "end" FROM sentence_times')
            if badrows.parse_day(start) is None or badrows.parse_day(end) is None
        ]

    def drop_times(self, rows: Sequence[tuple[int, str, str]]) -> None:
        self.conn.executemany(
            'DELETE FROM sentence_times WHERE sentence=? AND start=? AND "end"=?', (tuple(r) for r in rows)
        )

    def malformed_days(self) -> list[int]:
        """Rowids of articles whose day is set but is not a day; such a day is cleared (undated)."""
        return [
            int(rowid)
            for rowid, day in self.conn.execute("SELECT rowid, day FROM articles WHERE day IS NOT NULL")
            if badrows.parse_day(day) is None
        ]

    def clear_days(self, rowids: Sequence[int]) -> None:
        self.conn.executemany("UPDATE articles SET day=NULL WHERE rowid=?", ((r,) for r in rowids))

    def quick_check(self, limit: int) -> list[str]:
        """SQLite's quick_check: ["ok"], or up to `limit` problems found."""
        return [r[0] for r in self.conn.execute(f"PRAGMA quick_check({int(limit)})")]

    def fold_wal(self) -> None:
        """Fold the WAL into the database and give its space back (readers mid-read make it partial)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class _Transaction:
    """BEGIN ... COMMIT, rolled back on any exception (including KeyboardInterrupt).

    `begin`: the statements that open it (PostgreSQL takes a lock after its BEGIN, pgstore.py).
    """

    def __init__(self, conn: sqlite3.Connection, *begin: str) -> None:
        self.conn = conn
        self.begin = begin

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute(self.begin[0])
        try:
            for statement in self.begin[1:]:
                self.conn.execute(statement)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite already rolled back after e.g. SQLITE_FULL
            self.conn.execute("ROLLBACK")


def match_any(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression for any of `terms`, each quoted (so no FTS5 syntax leaks from a question)."""
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms if t.replace('"', ""))


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
