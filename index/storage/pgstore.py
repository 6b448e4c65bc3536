"""The store on a PostgreSQL server: the same tables and methods as the SQLite store, shared by many
processes on many machines.

What differs from SQLite, and why:
- Writes that touch the change log take a transaction-level advisory lock (`WRITE_KEY`): sequence numbers
  then commit in the order they were drawn, so a reader that replayed change 10 never misses a 9
  committed after it. SQLite's BEGIN IMMEDIATE gives the same order for free.
- A committed change wakes every listening process at once (`NOTIFY newsqa_changes`, see changefollower.py).
- Lexical search is BM25 from PostgreSQL's full-text machinery: each sentence and paragraph is stemmed
  into a `tsvector` (GIN-indexed, for counting a word's rows), whose words with their counts are also
  kept as postings (word, row, count) read by word; `bm25` scores them with FTS5's formula and
  constants, so the fused ranking sees the same kind of score on both stores (`ts_rank` has another
  shape; ReQA measured in docs/quality.md).
- The stemmer is PostgreSQL's English Snowball without its stop-word list (FTS5's porter keeps every
  word too; the question side drops function words itself, lexical.py).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence

from .migrations import Migration, check_track
from .pgconn import CHANGES_CHANNEL, WRITE_KEY, PgConnection, migrate, redacted
from .sqlstore import SqlStore, _Transaction

TRACK = "index"

#: PostgreSQL's own track: it starts at the schema SQLite reached in nine steps (no PostgreSQL database
#: predates it); a newer newsqa appends, as on SQLite.
PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "schema",
        """
    CREATE TEXT SEARCH DICTIONARY newsqa_stem (TEMPLATE = snowball, LANGUAGE = english);
    CREATE TEXT SEARCH CONFIGURATION newsqa (COPY = english);
    ALTER TEXT SEARCH CONFIGURATION newsqa ALTER MAPPING REPLACE english_stem WITH newsqa_stem;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE articles (
        rowid BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        url TEXT, published TEXT, source TEXT,
        content_hash TEXT NOT NULL,
        added_at DOUBLE PRECISION NOT NULL,
        day TEXT
    );
    CREATE INDEX articles_day ON articles(day);
    CREATE TABLE sentences (
        id BIGSERIAL PRIMARY KEY,             -- the FAISS id; never reused
        article BIGINT NOT NULL REFERENCES articles(rowid),
        position INTEGER NOT NULL,
        paragraph INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        bare_hash TEXT,
        tokens INTEGER NOT NULL,              -- words, BM25's document length
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('newsqa', text)) STORED
    );
    CREATE INDEX sentences_article ON sentences(article, position);
    CREATE INDEX sentences_text_hash ON sentences(text_hash);
    CREATE INDEX sentences_bare_hash ON sentences(bare_hash);
    CREATE INDEX sentences_tsv ON sentences USING gin(tsv);
    CREATE TABLE paragraphs (
        id BIGINT PRIMARY KEY,                -- its first sentence's id
        article BIGINT NOT NULL,
        paragraph INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        tsv tsvector NOT NULL
    );
    CREATE INDEX paragraphs_article ON paragraphs(article);
    CREATE INDEX paragraphs_tsv ON paragraphs USING gin(tsv);
    CREATE TABLE embeddings (text_hash TEXT PRIMARY KEY, vector BYTEA NOT NULL);
    CREATE TABLE changes (
        seq BIGSERIAL PRIMARY KEY,
        op SMALLINT NOT NULL,                 -- +1 added, -1 removed
        sentence BIGINT NOT NULL
    );
    CREATE TABLE sentence_times (sentence BIGINT NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL);
    CREATE INDEX sentence_times_sentence ON sentence_times(sentence);
    CREATE INDEX sentence_times_start ON sentence_times(start);
    CREATE TABLE story_keys (
        article TEXT PRIMARY KEY, url_key TEXT, fingerprint TEXT NOT NULL, minhash BYTEA
    );
    CREATE INDEX story_keys_url ON story_keys(url_key);
    CREATE INDEX story_keys_fingerprint ON story_keys(fingerprint);
    CREATE TABLE also_reported (
        id TEXT PRIMARY KEY,
        original TEXT NOT NULL,
        title TEXT NOT NULL, url TEXT, source TEXT, published TEXT,
        content_hash TEXT NOT NULL,
        similarity DOUBLE PRECISION NOT NULL,
        added_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX also_reported_original ON also_reported(original);
    CREATE TABLE feed_state (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_due DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE feed_state_seen (
        seq BIGSERIAL PRIMARY KEY,
        url TEXT NOT NULL,
        key TEXT NOT NULL,
        UNIQUE (url, key)
    );
    """,
    ),
    # postings: (word, row, count) per sentence and paragraph, read by word. Counting a question's words
    # by unnesting every matching row's tsvector cost 28 ms a question on 7,600 sentences (docs/bench.md).
    Migration(
        2,
        "postings",
        """
    CREATE TABLE sentence_postings (
        lexeme TEXT NOT NULL, sentence BIGINT NOT NULL, tf INTEGER NOT NULL, tokens INTEGER NOT NULL,
        PRIMARY KEY (lexeme, sentence)
    );
    INSERT INTO sentence_postings SELECT u.lexeme, s.id, cardinality(u.positions), s.tokens
        FROM sentences s, unnest(s.tsv) u;
    CREATE INDEX sentence_postings_sentence ON sentence_postings(sentence);
    CREATE TABLE paragraph_postings (
        lexeme TEXT NOT NULL, paragraph BIGINT NOT NULL, tf INTEGER NOT NULL, tokens INTEGER NOT NULL,
        PRIMARY KEY (lexeme, paragraph)
    );
    INSERT INTO paragraph_postings SELECT u.lexeme, p.id, cardinality(u.positions), p.tokens
        FROM paragraphs p, unnest(p.tsv) u;
    CREATE INDEX paragraph_postings_paragraph ON paragraph_postings(paragraph);
    """,
    ),
    # a day column read as a date without failing on a row that is not a day: one such row (the store is
    # shared, anyone may write it) must not make every question naming a day fail (badrows.py)
    Migration(
        3,
        "tolerant_day",
        """
    CREATE FUNCTION newsqa_day(t TEXT) RETURNS DATE LANGUAGE plpgsql IMMUTABLE STRICT AS $$
    BEGIN
        IF t !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
            RETURN NULL;
        END IF;
        RETURN t::date;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END $$;
    """,
    ),
    # FAISS snapshots written by the ingest side (pgsnapshot.py): a starting replica loads the newest and
    # replays the change log after its `seq` instead of reading every vector. Chunks are stored as they
    # come (STORAGE EXTERNAL: float codes do not compress, so PostgreSQL is not asked to try); the header
    # row turns `complete` only when every chunk is in, so no reader ever sees half a snapshot.
    Migration(
        4,
        "vector_snapshots",
        """
    CREATE TABLE vector_snapshots (
        id BIGSERIAL PRIMARY KEY,
        seq BIGINT NOT NULL,                  -- the last change-log entry the snapshot holds
        generation INTEGER NOT NULL,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        layout TEXT NOT NULL,                 -- e.g. exact, IVF1024,SQ8 (vectors.Layout.describe)
        vectors BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        chunks INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        complete BOOLEAN NOT NULL DEFAULT false,
        written_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE vector_snapshot_chunks (
        snapshot BIGINT NOT NULL REFERENCES vector_snapshots(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        sha256 TEXT NOT NULL,                 -- of this chunk: checked before FAISS reads a byte of it
        data BYTEA NOT NULL,
        PRIMARY KEY (snapshot, n)
    );
    ALTER TABLE vector_snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
    """,
    ),
    # articles whose followers' alerts are due, as on SQLite (store.py, migration 10)
    Migration(
        5,
        "alerts_due",
        """
    CREATE TABLE alerts_due (article TEXT PRIMARY KEY);
    """,
    ),
)
check_track(PG_MIGRATIONS)

#: the postings table of each searched table, and its row column
_POSTINGS = {
    "sentences": ("sentence_postings", "sentence"),
    "paragraphs": ("paragraph_postings", "paragraph"),
}

#: FTS5's bm25() constants
K1 = 1.2
B = 0.75
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


def word_count(text: str) -> int:
    """Words as FTS5's unicode61 tokenizer counts them: BM25's document length."""
    return len(_WORDS.findall(text))


def bm25(
    tf: dict[int, dict[str, int]],
    lengths: dict[int, int],
    terms: Sequence[tuple[str, ...]],
    docs: int,
    avg_length: float,
) -> dict[int, float]:
    """FTS5's BM25 of each document in `tf` (doc -> lexeme -> count) for `terms` (each the lexemes of one
    query word, all of which must occur). Document frequencies come from `tf` itself, which holds every
    document matching any term."""
    counts: list[dict[int, int]] = []
    for lexemes in terms:
        found = {d: min(f.get(x, 0) for x in lexemes) for d, f in tf.items()}
        counts.append({d: n for d, n in found.items() if n > 0})
    scores: dict[int, float] = {}
    avg = avg_length or 1.0
    for matched in counts:
        n = len(matched)
        if not n:
            continue
        idf = math.log((docs - n + 0.5) / (n + 0.5))
        idf = idf if idf > 0 else 1e-6  # FTS5 does the same for a word in most documents
        for d, f in matched.items():
            norm = K1 * (1 - B + B * lengths[d] / avg)
            scores[d] = scores.get(d, 0.0) + idf * f * (K1 + 1) / (f + norm)
    return scores


def _tsquery(terms: Sequence[tuple[str, ...]]) -> str:
    """Any of the words, each its lexemes in a row, as a tsquery of already stemmed lexemes."""

    def lit(x: str) -> str:
        return "'" + x.replace("\\", "\\\\").replace("'", "''") + "'"

    return " | ".join("(" + " <-> ".join(lit(x) for x in t) + ")" for t in terms)


class PgStore(SqlStore):
    """The index's database on PostgreSQL, an engine beside SQLite's (store.py); one connection per thread."""

    SPAN_DAYS = 'newsqa_day("end") - newsqa_day(start)'
    dialect = "postgresql"

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self._totals: dict[str, tuple[int, float, float]] = {}  # table -> (docs, avg length, read at)
        self._stems: dict[str, tuple[str, ...]] = {}  # query word -> its lexemes
        super().__init__(readonly=readonly)

    def __repr__(self) -> str:
        return f"PgStore({redacted(self.url)})"

    def _migrate(self) -> None:
        migrate(self.conn, PG_MIGRATIONS, TRACK)  # type: ignore[arg-type]

    def _connect(self) -> PgConnection:
        return PgConnection(self.url, readonly=self.readonly)

    def _usable(self, conn: PgConnection) -> bool:
        return conn.alive()  # not: the server restarted or the network dropped it

    @property
    def conn(self) -> PgConnection:  # type: ignore[override]
        return super().conn  # type: ignore[return-value]

    # -- transactions ----------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn, "BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_KEY})")  # type: ignore[arg-type]

    def read_transaction(self) -> _Transaction:
        return _Transaction(self.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # type: ignore[arg-type]

    # -- articles --------------------------------------------------------------------------------
    def delete_article(self, rowid: int) -> list[int]:
        ids = [int(r[0]) for r in self.conn.execute("SELECT id FROM sentences WHERE article=?", (rowid,))]
        self.conn.execute("DELETE FROM sentence_postings WHERE sentence = ANY(?)", (ids,))
        self.conn.execute(
            "DELETE FROM paragraph_postings WHERE paragraph IN (SELECT id FROM paragraphs WHERE article=?)",
            (rowid,),
        )
        self.conn.execute("DELETE FROM paragraphs WHERE article=?", (rowid,))
        self.conn.execute(
            "DELETE FROM sentence_times WHERE sentence IN (SELECT id FROM sentences WHERE article=?)",
            (rowid,),
        )
        self.conn.execute("DELETE FROM sentences WHERE article=?", (rowid,))
        self.conn.execute("DELETE FROM articles WHERE rowid=?", (rowid,))
        self.conn.executemany("INSERT INTO changes(op, sentence) VALUES(-1, ?)", ((i,) for i in ids))
        if ids:
            self._notify()
        return ids

    def _insert_sentence_rows(self, rows: Sequence[tuple]) -> list[int]:
        """One round trip for the article's sentences; the tsvector column fills itself."""
        if not rows:
            return []
        with self.conn.raw.cursor() as cur:
            cur.executemany(
                'INSERT INTO sentences(article, position, paragraph, start, "end", text, text_hash,'
                " bare_hash, tokens) VALUES(%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                [(*row, word_count(row[5])) for row in rows],
                returning=True,
            )
            ids: list[int] = []
            while True:
                ids.append(int(cur.fetchone()[0]))  # type: ignore[index]
                if not cur.nextset():
                    break
        self.conn.execute(
            "INSERT INTO sentence_postings(lexeme, sentence, tf, tokens)"
            " SELECT u.lexeme, s.id, cardinality(u.positions), s.tokens FROM sentences s, unnest(s.tsv) u"
            " WHERE s.id = ANY(?)",
            (ids,),
        )
        self._notify()  # delivered at commit
        return ids

    def _insert_paragraphs(self, rows: Sequence[tuple[int, int, int, str]]) -> None:
        self.conn.executemany(
            "INSERT INTO paragraphs(id, article, paragraph, tokens, tsv)"
            " VALUES(?, ?, ?, ?, to_tsvector('newsqa', ?))",
            ((first, article, p, word_count(text), text) for first, article, p, text in rows),
        )
        self.conn.execute(
            "INSERT INTO paragraph_postings(lexeme, paragraph, tf, tokens)"
            " SELECT u.lexeme, p.id, cardinality(u.positions), p.tokens FROM paragraphs p, unnest(p.tsv) u"
            " WHERE p.id = ANY(?)",
            ([r[0] for r in rows],),
        )

    def _notify(self) -> None:
        """Wake the processes following the change log; PostgreSQL delivers it when the write commits."""
        self.conn.execute("SELECT pg_notify(?, '')", (CHANGES_CHANNEL,))

    # -- embeddings ------------------------------------------------------------------------------
    # -- lexical ---------------------------------------------------------------------------------
    def _lexemes(self, terms: Sequence[str]) -> list[tuple[str, ...]]:
        """Each query word's stemmed lexemes, as the index stems its text; words with none dropped.

        Remembered per word (a word stems the same way every time): the sentence and the paragraph
        search of one question, and the next questions, ask for mostly the same words.
        """
        missing = [t for t in dict.fromkeys(terms) if t not in self._stems]
        if missing:
            rows = self.conn.execute(
                "SELECT w, array(SELECT lexeme FROM unnest(to_tsvector('newsqa', w)) ORDER BY positions[1])"
                " FROM unnest(?::text[]) AS x(w)",
                (missing,),
            ).fetchall()
            if len(self._stems) > 100_000:
                self._stems.clear()
            self._stems.update((w, tuple(lexemes)) for w, lexemes in rows)
        return list(dict.fromkeys(self._stems[t] for t in terms if self._stems.get(t)))

    def _totals_of(self, table: str) -> tuple[int, float]:
        """Documents and their average length; read at most once a minute (BM25 barely moves meanwhile)."""
        cached = self._totals.get(table)
        if cached and time.monotonic() - cached[2] < 60:
            return cached[0], cached[1]
        docs, avg = self.conn.execute(f"SELECT count(*), COALESCE(avg(tokens), 0) FROM {table}").fetchone()
        self._totals[table] = (int(docs), float(avg), time.monotonic())
        return int(docs), float(avg)

    def _bm25(self, table: str, terms: Sequence[str]) -> dict[int, float]:
        words = self._lexemes(terms)
        if not words:
            return {}
        wanted = sorted({x for w in words for x in w})
        tf: dict[int, dict[str, int]] = {}
        lengths: dict[int, int] = {}
        postings, row = _POSTINGS[table]
        for doc, tokens, lexeme, count in self.conn.execute(
            f"SELECT {row}, tokens, lexeme, tf FROM {postings} WHERE lexeme = ANY(?)", (wanted,)
        ):
            tf.setdefault(int(doc), {})[lexeme] = int(count)
            lengths[int(doc)] = int(tokens)
        docs, avg = self._totals_of(table)
        return bm25(tf, lengths, words, max(docs, len(tf)), avg)

    def lexical_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        scores = self._bm25("sentences", terms)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def sentences_matching(self, term: str) -> int:
        words = self._lexemes([term])
        if not words:
            return 0
        row = self.conn.execute(
            "SELECT count(*) FROM sentences WHERE tsv @@ ?::tsquery", (_tsquery(words),)
        ).fetchone()
        return int(row[0])

    def paragraph_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, int, float]]:
        scores = self._bm25("paragraphs", terms)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if not best:
            return []
        where = dict(
            (
                (int(i), (int(a), int(p)))
                for i, a, p in self.conn.execute(
                    "SELECT id, article, paragraph FROM paragraphs WHERE id = ANY(?)", ([i for i, _ in best],)
                )
            )
        )
        return [(*where[i], s) for i, s in best if i in where]

    # -- upkeep ----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        """The database's size on the server (everything newsqa keeps there)."""
        return int(self.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

    def quick_check(self, limit: int) -> list[str]:
        """The server keeps its own files whole (WAL, checksums if enabled): nothing to check from here."""
        return ["ok"]

    def fold_wal(self) -> None:
        """Nothing to fold: the server manages its WAL."""
