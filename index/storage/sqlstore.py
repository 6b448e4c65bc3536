"""The SQL every engine shares (`SqlStore`); an engine subclasses it (store.py, pgstore.py) and adds only what
truly differs. A third engine is one new module: a subclass, its migrations and a home (datadir.py and
pghome.py are the two there are) that opens it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..text.article import Article
from ..text.sentences import Sentence
from ..text.timeexpr import Period
from . import badrows
from .rows import _ARTICLE_COLUMNS, StoredArticle, StoredSentence, day_of, sentence_periods


class SqlStore:
    """The index's database, its SQL written once for every engine: articles, sentences, vectors, the
    change log, copy detection's keys, the feed state, upkeep. Callers group writes with `transaction()`.

    An engine (store.py: SQLite; pgstore.py: PostgreSQL) is a subclass that says how to connect, migrate,
    open a transaction, keep its full-text index and search it, and measure and check itself: the
    methods below that raise NotImplementedError. The SQL here runs on both (`ON CONFLICT`, `RETURNING`,
    quoted "end").

    Each thread gets its own connection: a search in a worker thread must never run inside another
    thread's open write transaction.
    """

    #: days from a sentence_times row's start to its end, in this database's SQL
    SPAN_DAYS: str
    #: which database this is, for the few callers whose SQL differs ("sqlite" or "postgresql")
    dialect: str

    def __init__(self, *, readonly: bool = False) -> None:
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[Any] = []  # every thread's connection, closed together
        self._all_lock = threading.Lock()
        if not readonly:
            self._migrate()

    # -- what each engine says ---------------------------------------------------------------------
    def _migrate(self) -> None:
        raise NotImplementedError

    def _connect(self) -> Any:
        raise NotImplementedError

    def transaction(self) -> _Transaction:
        """One write transaction (one writer at a time)."""
        raise NotImplementedError

    def read_transaction(self) -> _Transaction:
        """Several reads that must see one committed state."""
        raise NotImplementedError

    def delete_article(self, rowid: int) -> list[int]:
        """Delete an article with its sentences and full-text rows; returns the sentence ids removed
        (logged as changes)."""
        raise NotImplementedError

    def _insert_sentence_rows(self, rows: Sequence[tuple]) -> list[int]:
        raise NotImplementedError

    def _insert_paragraphs(self, rows: Sequence[tuple[int, int, int, str]]) -> None:
        raise NotImplementedError

    def lexical_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over sentences matching any of `terms`; higher is better."""
        raise NotImplementedError

    def sentences_matching(self, term: str) -> int:
        """How many sentences hold `term`."""
        raise NotImplementedError

    def paragraph_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, int, float]]:
        """BM25 over whole paragraphs: (first sentence id, article rowid, score)."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        raise NotImplementedError

    def quick_check(self, limit: int) -> list[str]:
        """The engine's own integrity check: problems found, at most `limit` ([] when sound)."""
        raise NotImplementedError

    def fold_wal(self) -> None:
        """Fold a write-ahead log into the database file where the engine keeps one."""
        raise NotImplementedError

    # -- shared by every engine --------------------------------------------------------------------
    def _usable(self, conn: Any) -> bool:
        """Whether this thread's connection still works (a server's may have been dropped)."""
        return True

    @property
    def conn(self) -> Any:
        """This thread's connection, made anew when the old one broke (a server restarted). Forgotten
        before the new one is made: a connect that fails (the server still down) raises here, and the
        thread's next call tries again instead of tripping over the broken one."""
        conn: Any = getattr(self._local, "conn", None)
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

    # -- alerts due (bot/alerts.py) ---------------------------------------------------------------
    def mark_alerts_due(self, article_id: str) -> None:
        """Inside the transaction that adds the article: its alerts are due until `clear_alerts_due`."""
        self.conn.execute(
            "INSERT INTO alerts_due(article) VALUES(?) ON CONFLICT(article) DO NOTHING", (article_id,)
        )

    def alerts_due(self) -> list[str]:
        """Ids of articles whose alerts are due (their articles committed with the mark)."""
        return [str(r[0]) for r in self.conn.execute("SELECT article FROM alerts_due").fetchall()]

    def clear_alerts_due(self, article_ids: Iterable[str]) -> None:
        """Their alerts are claimed (or the articles are gone); clearing twice is harmless."""
        self.conn.executemany("DELETE FROM alerts_due WHERE article=?", ((i,) for i in article_ids))

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
        index with texts spliced from these): the first sentence of each text, on every engine."""
        rows = self.conn.execute(
            "SELECT s.text, e.vector FROM embeddings e JOIN sentences s ON s.id ="
            " (SELECT min(id) FROM sentences WHERE text_hash = e.text_hash) ORDER BY e.text_hash"
        ).fetchall()
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return [r[0] for r in rows], vecs

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

    # -- feed state (web/feeds.py) -----------------------------------------------------------------
    def feed_state(self, url: str) -> tuple[tuple[Any, ...] | None, set[str]]:
        """A feed's stored (etag, last_modified, failures, last_error, next_due), None for a feed never
        polled, and the item keys seen, read in one committed state."""
        with self.read_transaction() as db:
            row = db.execute(
                "SELECT etag, last_modified, failures, last_error, next_due FROM feed_state WHERE url = ?",
                (url,),
            ).fetchone()
            keys = db.execute("SELECT key FROM feed_state_seen WHERE url = ?", (url,)).fetchall()
        return (tuple(row) if row is not None else None), {k for (k,) in keys}

    def save_feed_state(
        self, url: str, fields: tuple[Any, ...], seen: Sequence[str], listed: set[str] | None, cap: int
    ) -> None:
        """One transaction: the feed's (etag, last_modified, failures, last_error, next_due) replaced,
        `seen` keys added, and with `listed` (what the feed lists now) the keys it no longer lists
        dropped beyond the newest `cap` of them."""
        with self.transaction() as db:
            db.execute(
                """INSERT INTO feed_state
                     (url, etag, last_modified, failures, last_error, next_due, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET
                     etag = excluded.etag, last_modified = excluded.last_modified,
                     failures = excluded.failures, last_error = excluded.last_error,
                     next_due = excluded.next_due, updated_at = excluded.updated_at""",
                (url, *fields, time.time()),
            )
            self._add_seen(db, url, seen)
            if listed is not None:
                rows = db.execute(
                    "SELECT seq, key FROM feed_state_seen WHERE url = ? ORDER BY seq DESC", (url,)
                ).fetchall()
                stale = [seq for seq, key in rows if key not in listed][cap:]
                db.executemany("DELETE FROM feed_state_seen WHERE seq = ?", [(seq,) for seq in stale])

    def mark_feed_seen(self, url: str, keys: Sequence[str]) -> None:
        """Record items as handled: later polls will not fetch them."""
        with self.transaction() as db:
            self._add_seen(db, url, keys)

    @staticmethod
    def _add_seen(db: Any, url: str, keys: Sequence[str]) -> None:
        db.executemany(
            "INSERT INTO feed_state_seen (url, key) VALUES (?, ?) ON CONFLICT (url, key) DO NOTHING",
            [(url, k) for k in keys],
        )


class _Transaction:
    """BEGIN ... COMMIT, rolled back on any exception (including KeyboardInterrupt).

    `begin`: the statements that open it (PostgreSQL takes a lock after its BEGIN, pgstore.py).
    """

    def __init__(self, conn: Any, *begin: str) -> None:
        self.conn = conn
        self.begin = begin

    def __enter__(self) -> Any:
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


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
