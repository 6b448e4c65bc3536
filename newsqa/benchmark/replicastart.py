"""`newsqa --store URL dev bench --replica-start 100000,1000000,...`: what a replica's start costs, by size.

For each size, the database is padded with synthetic sentences up to it (COPY, straight into the
tables a replica reads: articles, sentences, embeddings; no text, no BM25 postings, which a start does not
read), then three things are measured: a replica started before any snapshot exists (every vector read,
the old way; skipped above `full_read_up_to`, where float32 vectors would not fit the machine), the
ingest side storing a snapshot (pgsnapshot.write, the production code, from an index built of the same
vectors in this process), and a replica started after `tail` more sentences were added (the snapshot,
then the change log's tail replayed). Each start runs in a fresh child process (startprobe.py), which
reports its wall time and peak resident memory.

Vectors: seeded random unit vectors, one per sentence up to `POOL` distinct ones; beyond that sentences
share them (sentence i has vector i mod POOL), which keeps the database's size bounded at 10M without
changing what a snapshot start reads. Random vectors have no clusters: figures for load time and memory,
not for recall.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .probe import cpu_seconds

if TYPE_CHECKING:
    from newsqa.index.storage.vectors import VectorIndex
from .report import Row, mib

BLOCK = 20_000  # vectors generated (and copied) at a time
POOL = 1_000_000  # distinct vectors at most (a multiple of BLOCK)
PER_ARTICLE = 20
SEED = 2024
PREFIX = "padding/"
IVF_BUILD_UP_TO = 2_000_000  # compressed, above this: lists assigned without search (_index_of)


class NotPadding(Exception):
    """The database holds articles the bench did not write: it refuses to pad someone's index."""


@dataclass(frozen=True, slots=True)
class StartFigures:
    sentences: int
    full: dict[str, Any] | None  # the probe's JSON, None when not measured
    write_seconds: float
    write_cpu_seconds: float  # this process's and its PostgreSQL backend's
    snapshot_bytes: int
    layout: str
    snapshot: dict[str, Any]
    database_bytes: int


def block(b: int, dim: int) -> np.ndarray:
    """Pool block `b`: BLOCK seeded random unit vectors."""
    rng = np.random.default_rng(SEED + b)
    v = rng.standard_normal((BLOCK, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def vectors_of(first: int, last: int, dim: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of sentence ids first..last inclusive, in blocks: sentence i has pool vector
    (i - 1) mod POOL."""
    i = first
    while i <= last:
        p = (i - 1) % POOL
        b, offset = divmod(p, BLOCK)
        take = min(BLOCK - offset, last - i + 1)
        yield np.arange(i, i + take, dtype=np.int64), block(b, dim)[offset : offset + take]
        i += take


def prepare(url: str, model: str, dim: int) -> None:
    """The schema (migrations) and the model's name and dimension; refuses a database of real articles."""
    from newsqa.index.storage.pgstore import PgStore

    store = PgStore(url)
    try:
        row = store.conn.execute(
            "SELECT count(*) FROM articles WHERE id NOT LIKE ?", (PREFIX + "%",)
        ).fetchone()
        if int(row[0]):
            raise NotPadding(
                f"the database holds {int(row[0])} articles the bench did not write: give it an empty one"
            )
        recorded = store.get_meta("model")
        if recorded is not None and recorded != model:
            raise NotPadding(f"the database was padded for {recorded}, not {model}: give it an empty one")
        store.set_meta("model", model)
        store.set_meta("dim", str(dim))
    finally:
        store.close()


def pad(url: str, upto: int, dim: int, *, log_changes: bool) -> int:
    """Sentences (with articles and vectors) up to id `upto`; returns how many were added. With
    `log_changes` each gets a change-log entry (a tail the replica replays), else none (a log pruned
    behind a snapshot, as a long-running ingest leaves it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        have = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM sentences").fetchone()[0])  # type: ignore[index]
        if upto <= have:
            return 0
        known = int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])  # type: ignore[index]
        with conn.transaction():
            with conn.cursor().copy(
                "COPY articles(rowid, id, title, text, content_hash, added_at) FROM STDIN"
            ) as copy:
                for a in range(have // PER_ARTICLE + 1, (upto - 1) // PER_ARTICLE + 2):
                    if a * PER_ARTICLE - PER_ARTICLE + 1 > have:  # an article starts after `have`
                        copy.write_row((a, f"{PREFIX}{a:08d}", "", "", "", 0.0))
            with conn.cursor().copy("COPY embeddings(text_hash, vector) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "bytea"])
                for ids, vecs in vectors_of(known + 1, min(upto, POOL), dim):
                    for i, v in zip(ids.tolist(), vecs, strict=True):
                        copy.write_row((f"p{i - 1}", v.tobytes()))
            with conn.cursor().copy(
                'COPY sentences(id, article, position, paragraph, start, "end", text, text_hash, tokens)'
                " FROM STDIN"
            ) as copy:
                for i in range(have + 1, upto + 1):
                    a, position = divmod(i - 1, PER_ARTICLE)
                    copy.write_row((i, a + 1, position, 0, 0, 0, "", f"p{(i - 1) % POOL}", 0))
            if log_changes:
                conn.execute(
                    "INSERT INTO changes(op, sentence) SELECT 1, g FROM generate_series(%s::bigint, %s) g",
                    (have + 1, upto),
                )
            conn.execute("SELECT setval('sentences_id_seq', %s)", (upto,))
            conn.execute("SELECT setval('articles_rowid_seq', %s)", ((upto - 1) // PER_ARTICLE + 1,))
        conn.execute("ANALYZE sentences")
        conn.execute("ANALYZE embeddings")
    return upto - have


def write_snapshot(url: str, model: str, dim: int, compressed: bool) -> tuple[float, float, int, str]:
    """What the ingest side does at a checkpoint, from an index of the same vectors built here: the
    serialised copy and its upload (wall seconds; CPU seconds here and in the server), its bytes, its
    layout."""
    from newsqa.index.storage import pgsnapshot
    from newsqa.index.storage.pgconn import PgConnection

    conn = PgConnection(url)
    try:
        n = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM sentences").fetchone()[0])
        seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])
        index = _index_of(n, dim, compressed)
        started, cpu = time.perf_counter(), time.process_time()
        backend = int(conn.raw.info.backend_pid)
        backend_cpu = cpu_seconds(backend)
        data = index.serialized()
        layout, count = index.layout.describe(), len(index)
        del index
        info = pgsnapshot.write(
            conn, data, seq=seq, generation=0, model=model, dim=dim, layout=layout, vectors=count
        )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu + cpu_seconds(backend) - backend_cpu
        del data
        pgsnapshot.prune(conn)
        conn.execute(
            "INSERT INTO meta(key, value) VALUES('changes_truncated', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(seq),),
        )
        conn.execute("DELETE FROM changes WHERE seq <= ?", (seq,))
        return seconds, cpu, info.bytes, layout
    finally:
        conn.close()


def _index_of(n: int, dim: int, compressed: bool) -> VectorIndex:
    """The index the policy builds for `n` vectors. Above IVF_BUILD_UP_TO (compressed only) the same
    layout, IVF with the policy's list count and 8-bit codes, but each vector put in list `id mod lists`
    instead of its nearest: assigning 10M vectors to 4,096 lists takes hours of a shared 2-core machine,
    and a load reads the same bytes in the same lists either way (recall is meaningless there)."""
    import faiss

    from newsqa.index.storage.vectors import IndexPolicy, VectorIndex

    policy = IndexPolicy(tuning_queries=30)  # the load measured here does not depend on nprobe
    if not (compressed and n > IVF_BUILD_UP_TO):
        return VectorIndex.build(dim, n, lambda: vectors_of(1, n, dim), policy, compressed=compressed)
    lists = policy.lists_for(n)
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.niter = 1
    ivf.train(np.concatenate([block(b, dim) for b in range(-(-lists * 2 // BLOCK))])[: lists * 2])
    for ids, vecs in vectors_of(1, n, dim):
        assign = np.ascontiguousarray(ids % lists, dtype=np.int64)
        vecs = np.ascontiguousarray(vecs)
        ivf.add_core(len(ids), faiss.swig_ptr(vecs), faiss.swig_ptr(ids), faiss.swig_ptr(assign))
    ivf.nprobe = 64
    return VectorIndex(ivf)


def probe(url: str, model: str, compressed: bool | None, *, source: str = "snapshot") -> dict[str, Any]:
    flag = {True: "yes", False: "no", None: "keep"}[compressed]
    out = subprocess.run(
        [sys.executable, "-m", "newsqa.benchmark.startprobe", url, model, flag, source],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def database_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]


def measure(
    url: str,
    sizes: list[int],
    *,
    model: str,
    dim: int,
    compressed: bool,
    tail: int,
    full_read_up_to: int,
    say: Any = print,
) -> list[StartFigures]:
    prepare(url, model, dim)
    figures = []
    for size in sorted(sizes):
        say(f"padding to {size:,} sentences")
        pad(url, size, dim, log_changes=False)
        full = None
        if size <= full_read_up_to:
            say("a replica reading every vector")
            full = probe(url, model, compressed, source="rows")
        say("the ingest side storing a snapshot")
        write_s, write_cpu, nbytes, layout = write_snapshot(url, model, dim, compressed)
        pad(url, size + tail, dim, log_changes=True)
        say(f"a replica loading it and replaying {tail:,} changes")
        snap = probe(url, model, None)
        if not snap["from_snapshot"]:
            raise RuntimeError(f"the replica did not start from the snapshot: {snap['log']}")
        figures.append(
            StartFigures(size + tail, full, write_s, write_cpu, nbytes, layout, snap, database_bytes(url))
        )
    return figures


def rows(figures: list[StartFigures], tail: int) -> list[Row]:
    out: list[Row] = []
    for f in figures:
        n = f"{f.sentences:,} sentences"
        if f.full is not None:
            out.append(
                Row(
                    "Start",
                    f"replica, every vector read from the database, {n} ({f.full['layout']})",
                    _start(f.full),
                )
            )
        out.append(
            Row(
                "Start",
                f"ingest side: snapshot stored, {n} ({f.layout})",
                f"{f.write_seconds:.1f} s ({f.write_cpu_seconds:.1f} CPU s), {mib(f.snapshot_bytes)}",
            )
        )
        out.append(
            Row(
                "Start",
                f"replica, snapshot + {tail:,} changes replayed, {n} ({f.layout})",
                _start(f.snapshot),
            )
        )
        out.append(Row("Disk", f"database, {n}", mib(f.database_bytes)))
    return out


def _start(probe: dict[str, Any]) -> str:
    cpu = probe["cpu_seconds"] + probe["server_cpu_seconds"]
    return (
        f"{probe['seconds']:.1f} s ({cpu:.1f} CPU s: {probe['server_cpu_seconds']:.1f} in PostgreSQL), "
        f"peak {mib(probe['peak_bytes'])} "
        f"({mib(probe['peak_bytes'] - probe['base_bytes'])} over the process before)"
    )
