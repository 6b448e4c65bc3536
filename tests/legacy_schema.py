"""The schema as newsqa made it before named migrations (commit 74cdb9f), frozen: upgrade tests start here.

`MAIN_MIGRATIONS[:n]` with `PRAGMA user_version=n` is a data directory of that newsqa after n steps;
`MAIN_FEED_SCHEMA` is what its FeedStateStore created on first use, outside the migrations.
"""

from __future__ import annotations

import sqlite3

MAIN_MIGRATIONS: tuple[str, ...] = (
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
    CREATE TABLE conversations (chat TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
    """,
    # 2: one story, many outlets. Keys recognise a story arriving again; copies are remembered, not indexed.
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
    # 3: people following a topic, and the alerts already sent (never the same article twice to a chat)
    """
    CREATE TABLE follows (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat TEXT NOT NULL,
        topic TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE(chat, topic)
    );
    CREATE TABLE alerts (
        chat TEXT NOT NULL,
        article TEXT NOT NULL,
        follow INTEGER NOT NULL,
        sent_at REAL NOT NULL,
        PRIMARY KEY(chat, article)
    );
    """,
    # 4: BM25 over whole paragraphs too (questions are often written from a paragraph, not one sentence);
    # a paragraph's rowid is the id of its first sentence
    """
    CREATE VIRTUAL TABLE paragraphs_fts USING fts5(
        text, article UNINDEXED, paragraph UNINDEXED, tokenize='porter unicode61 remove_diacritics 2'
    );
    INSERT INTO paragraphs_fts(rowid, text, article, paragraph)
        SELECT MIN(id), group_concat(text, ' '), article, paragraph FROM sentences
        GROUP BY article, paragraph;
    """,
    # 5: vectors in a rowid table. A 1.5 kB vector overflows a WITHOUT ROWID page (an index b-tree keeps
    # at most about 1 kB of a row in place), which cost 4.7 kB on disk per vector; here it is 1.6-2 kB.
    """
    CREATE TABLE embeddings_v5 (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
    INSERT INTO embeddings_v5(text_hash, vector) SELECT text_hash, vector FROM embeddings;
    DROP TABLE embeddings;
    ALTER TABLE embeddings_v5 RENAME TO embeddings;
    """,
    # 6: time. An article's publish date as a day, and the days its sentences speak of ("on Sunday" in an
    # article of Tuesday 8 June 2021 is 6 June), resolved at ingest (timeexpr.py) and filled in here for
    # what an earlier newsqa indexed.
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
    # 7: each sentence's own vector beside the headline-prefixed one (context.py): the hash of the bare
    # sentence text in `embeddings`; NULL for sentences indexed before (they rank by the prefixed vector)
    """
    ALTER TABLE sentences ADD COLUMN bare_hash TEXT;
    """,
    # 8: what expiry (Store.expire) looks up by age
    """
    CREATE INDEX conversations_updated ON conversations(updated_at);
    CREATE INDEX alerts_sent ON alerts(sent_at);
    """,
)

MAIN_FEED_SCHEMA = """
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
"""


def make_main_database(
    conn: sqlite3.Connection, steps: int = len(MAIN_MIGRATIONS), *, feeds: bool = False
) -> None:
    """Lay out `conn`'s empty database as that newsqa did after `steps` migrations (and a feed poll)."""
    for number, script in enumerate(MAIN_MIGRATIONS[:steps], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    if feeds:
        conn.executescript(MAIN_FEED_SCHEMA)
