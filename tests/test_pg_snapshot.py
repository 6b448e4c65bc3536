"""FAISS snapshots in the PostgreSQL store (index/storage/pgsnapshot.py): a replica starts from the newest
one and replays the change log after it, and answers exactly as one that read every vector; a damaged,
mismatched or outrun snapshot is passed over with one logged line; a snapshot is never seen half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest
from fakes import HashingEmbedder

from newsqa.index.storage import pgsnapshot
from newsqa.index.storage.library import Library
from newsqa.index.storage.pgconn import PgConnection
from newsqa.index.storage.pghome import PgHome
from newsqa.index.storage.pgsnapshot import SnapshotInfo, SnapshotPolicy
from newsqa.index.storage.vectors import IndexPolicy
from newsqa.index.text.article import Article

TOPICS = ["harbour", "budget", "storm", "cup final", "railway", "hospital", "election", "drought"]


def story(n: int, *, version: int = 0) -> Article:
    topic = TOPICS[n % len(TOPICS)]
    text = " ".join(
        f"Report {n} sentence {s} on the {topic} from town {n * 7 + s} version {version}." for s in range(5)
    )
    return Article(id=f"s{n}", title=f"{topic.title()} {n}", text=text)


def open_lib(url: str, embedder: HashingEmbedder, **kw: object) -> Library:
    return Library(PgHome(url), lambda: embedder, model_name=embedder.name, **kw)  # type: ignore[arg-type]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def writer(pg_url: str, embedder: HashingEmbedder) -> Iterator[Library]:
    """An ingest side that wrote its snapshot after 20 articles, then changed more without a new one."""
    lib = open_lib(pg_url, embedder)
    with lib.dir.writer_lock():
        lib.ingest([story(n) for n in range(20)])  # the first snapshot: there was none
        assert newest(pg_url) is not None
        lib.ingest([story(n) for n in range(20, 26)])  # added after it
        lib.ingest([story(3, version=1)])  # updated
        lib.remove(["s5", "s21"])  # removed, one from before the snapshot, one from after
    yield lib
    lib.close()


def newest(url: str) -> SnapshotInfo | None:
    conn = PgConnection(url)
    try:
        return pgsnapshot.newest(conn)
    finally:
        conn.close()


def sql(url: str, statement: str, params: tuple = ()) -> None:
    conn = PgConnection(url)
    try:
        conn.execute(statement, params)
    finally:
        conn.close()


def full_read(url: str, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch) -> Library:
    """A replica made the old way: every vector read from the database."""
    with monkeypatch.context() as m:
        m.setattr(pgsnapshot, "newest", lambda conn: None)
        lib = open_lib(url, embedder)
        lib.refresh()
    return lib


def same_answers(a: Library, b: Library, embedder: HashingEmbedder) -> None:
    questions = embedder.embed([f"what happened to the {t} in town {n}" for n, t in enumerate(TOPICS)])
    sa, ia = a.vectors.search(questions, 10)
    sb, ib = b.vectors.search(questions, 10)
    assert ia.tolist() == ib.tolist()
    np.testing.assert_allclose(sa, sb, rtol=1e-6)
    assert len(a.vectors) == len(b.vectors) == a.counts()[1]


def no_full_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("read every vector although a snapshot was there")

    monkeypatch.setattr("newsqa.index.storage.sqlstore.SqlStore.iter_all_vectors", refuse)


def test_a_replica_starts_from_the_snapshot_and_replays_what_came_after(
    writer: Library, pg_url: str, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = newest(pg_url)
    assert info is not None and info.seq < writer.store.last_seq()  # a tail to replay
    assert info.model == embedder.name and info.dim == embedder.dim and info.layout == "exact"
    old = full_read(pg_url, embedder, monkeypatch)
    with monkeypatch.context() as m:
        no_full_read(m)
        replica = open_lib(pg_url, embedder)
        replica.refresh()
    try:
        same_answers(replica, old, embedder)
        assert replica.store.find_article("s5") is None
        ids = set(replica.vectors.search(embedder.embed([story(3, version=1).text]), 5)[1][0].tolist())
        assert ids & {s.id for s in replica.store.article_sentences(replica.store.article_hash("s3")[0])}  # type: ignore[index]
        # and it follows what comes next, as before
        with writer.dir.writer_lock():
            writer.ingest([story(40)])
        replica.refresh()
        same_answers(replica, writer, embedder)
    finally:
        replica.close()
        old.close()


def test_a_damaged_snapshot_is_passed_over_in_one_line(
    writer: Library,
    pg_url: str,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    info = newest(pg_url)
    assert info is not None
    sql(  # one byte changed in the middle of the stored index
        pg_url,
        "UPDATE vector_snapshot_chunks SET data = set_byte(data, ?, 255 - get_byte(data, ?))"
        " WHERE snapshot = ? AND n = 0",
        (info.bytes // 2, info.bytes // 2, info.id),
    )
    old = full_read(pg_url, embedder, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="newsqa.index.storage.library"):
        replica = open_lib(pg_url, embedder)
        replica.refresh()
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "checksum" in warnings[0] and "every vector" in warnings[0]
        same_answers(replica, old, embedder)
    finally:
        replica.close()
        old.close()
    # the ingest side replaces it at its next write, whatever the policy says
    with writer.dir.writer_lock():
        writer._snapshot_stale = True  # what its own load would have noted
        writer.ingest([story(41)])
    fresh = newest(pg_url)
    assert fresh is not None and fresh.id != info.id


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("UPDATE vector_snapshots SET model = 'another/model'", "built with another/model"),
        ("UPDATE vector_snapshots SET dim = 384", "384 dimensions"),
        ("DELETE FROM vector_snapshot_chunks", "chunk 0 of 1 is missing"),
        ("UPDATE vector_snapshots SET bytes = bytes + 1", "bytes with checksum"),
    ],
)
def test_a_mismatched_snapshot_falls_back_to_the_full_read(
    writer: Library,
    pg_url: str,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    change: str,
    says: str,
) -> None:
    sql(pg_url, change)
    old = full_read(pg_url, embedder, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="newsqa.index.storage.library"):
        replica = open_lib(pg_url, embedder)
        replica.refresh()
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and says in warnings[0], warnings
        same_answers(replica, old, embedder)
    finally:
        replica.close()
        old.close()


def test_a_snapshot_whose_position_was_pruned_from_the_log_is_not_used(
    writer: Library,
    pg_url: str,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    info = newest(pg_url)
    assert info is not None
    last = writer.store.last_seq()
    sql(pg_url, "DELETE FROM changes WHERE seq <= ?", (last - 1,))
    sql(pg_url, "UPDATE meta SET value = ? WHERE key = 'changes_truncated'", (str(last - 1),))
    with caplog.at_level(logging.WARNING, logger="newsqa.index.storage.library"):
        replica = open_lib(pg_url, embedder)
        replica.refresh()
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "change log starts after" in warnings[0]
        same_answers(replica, writer, embedder)
    finally:
        replica.close()


def test_snapshots_are_kept_two_deep_and_the_log_back_to_the_older(
    pg_url: str, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = open_lib(pg_url, embedder, snapshot_every=10)
    behind = open_lib(pg_url, embedder)
    try:
        with lib.dir.writer_lock():
            lib.ingest([story(0)])
            behind.refresh()  # a replica that then hears nothing for a while
            for n in range(1, 8):
                lib.ingest([story(n)])  # 5 sentences each: a snapshot every other article
        conn = lib.store.conn
        kept = conn.execute("SELECT seq FROM vector_snapshots ORDER BY seq").fetchall()
        assert len(kept) == 2
        oldest = int(kept[0][0])
        assert int(lib.store.get_meta("changes_truncated") or 0) == oldest
        assert conn.execute("SELECT MIN(seq) FROM changes").fetchone()[0] > oldest
        behind.refresh()  # its position was pruned: it loads the newest snapshot and replays after it
        same_answers(behind, lib, embedder)
        with monkeypatch.context() as m:
            no_full_read(m)
            fresh = open_lib(pg_url, embedder)
            fresh.refresh()
        same_answers(fresh, lib, embedder)
        fresh.close()
    finally:
        lib.close()
        behind.close()


def test_a_snapshot_is_never_seen_half_written(
    writer: Library, pg_url: str, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = newest(pg_url)
    assert before is not None
    monkeypatch.setattr(pgsnapshot, "CHUNK_BYTES", 1024)  # many chunks
    calls = {"n": 0}

    class Failing:
        def __init__(self, raw: object) -> None:
            self.raw = raw

        def execute(self, query: str, *args: object, **kw: object) -> object:
            if "vector_snapshot_chunks" in query:
                calls["n"] += 1
                if calls["n"] == 3:
                    assert newest(pg_url) == before  # two chunks in: readers still see the old one
                    raise OSError("the disk filled")
            return self.raw.execute(query, *args, **kw)  # type: ignore[attr-defined]

    conn = PgConnection(pg_url)
    try:
        failing = Failing(conn.raw)
        monkeypatch.setattr(conn, "raw", failing)
        data = writer.vectors.serialized()
        with pytest.raises(OSError, match="disk filled"):
            pgsnapshot.write(conn, data, seq=10**6, generation=0, model="m", dim=8, layout="exact", vectors=1)
        monkeypatch.setattr(conn, "raw", failing.raw)
        assert newest(pg_url) == before
        assert conn.execute("SELECT count(*) FROM vector_snapshots").fetchone()[0] == 1  # rows cleaned up
        # a writer killed half-way leaves an incomplete row: never read, deleted by the next prune
        conn.execute(
            "INSERT INTO vector_snapshots(seq, generation, model, dim, layout, vectors, bytes, chunks,"
            " sha256, written_at) VALUES(999999, 0, 'm', 8, 'exact', 1, 10, 1, '', 0)"
        )
        assert newest(pg_url) == before
        pgsnapshot.prune(conn)
        assert conn.execute("SELECT count(*) FROM vector_snapshots WHERE NOT complete").fetchone()[0] == 0
    finally:
        conn.close()
    with monkeypatch.context() as m:
        no_full_read(m)
        replica = open_lib(pg_url, embedder)
        replica.refresh()
    same_answers(replica, writer, embedder)
    replica.close()


def test_the_compressed_layout_on_postgresql(
    pg_url: str,
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`index build --compressed` sticks through the snapshot: a replica without the flag loads float16
    codes; one asking for float32 reads every vector into float32 instead."""
    lib = open_lib(pg_url, embedder, vector_policy=IndexPolicy(compressed=True))
    try:
        with lib.dir.writer_lock():
            lib.ingest([story(n) for n in range(12)])
        info = newest(pg_url)
        assert info is not None and info.layout == "exact fp16" and info.compressed
        with lib.dir.writer_lock():  # what `--compressed` makes of every add: no upload without a change
            lib.ingest([story(12)])
            assert not lib.checkpoint(force=True)
        assert newest(pg_url) == info
        with monkeypatch.context() as m:
            no_full_read(m)
            replica = open_lib(pg_url, embedder)
            replica.refresh()
        assert replica.vectors.layout.describe() == "exact fp16"
        same_answers(replica, lib, embedder)
        replica.close()
        with caplog.at_level(logging.WARNING, logger="newsqa.index.storage.library"):
            wide = open_lib(pg_url, embedder, vector_policy=IndexPolicy(compressed=False))
            wide.refresh()
        assert wide.vectors.layout.describe() == "exact"
        assert any("this process wants float32" in r.getMessage() for r in caplog.records)
        wide.close()
    finally:
        lib.close()


def test_the_policy() -> None:
    policy = SnapshotPolicy(every_changes=100, every_seconds=60)
    info = SnapshotInfo(1, 500, 0, "m", 8, "exact", 10, 100, 1, "x", written_at=1000.0)
    assert policy.due(None, 1) and not policy.due(None, 0)
    assert not policy.due(info, 500, now=5000)  # nothing new
    assert not policy.due(info, 599, now=1059)
    assert policy.due(info, 600, now=1001)  # enough changes
    assert policy.due(info, 501, now=1060)  # enough time, with a change
