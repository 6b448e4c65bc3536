"""FAISS snapshots kept in the PostgreSQL database, so that a starting replica does not read every vector.

The ingest side (whoever holds the writer lock: `index build`, `index watch`, the feed worker) writes one
when enough changes piled up or enough time passed (`SnapshotPolicy`), with the change-log position it
covers; a starting replica loads the newest and replays the change log after it (library.py).

Why in the database and not in a shared directory: the database is already the one thing every replica
reaches, on any machine, with its credentials, backups and failover; a directory would be a second
shared system to provision and keep consistent with it. Reading a snapshot from the database is a
sequential read of large values, as fast as the network and far cheaper than rows (docs/bench.md).

Atomic: the header row is inserted with `complete` false, the chunks one by one, and `complete` is set
last, so a reader (which only looks at complete snapshots) never sees half of one; a writer that died
half-way leaves an incomplete row the next writer deletes. Each chunk carries its own sha256, checked
before FAISS reads a byte of it (FAISS reads scrambled bytes without complaint, or allocates what a
scrambled length says), and the whole its sha256 and length: a damaged snapshot is refused, never
half-loaded. Memory: the writer copies the index once (`VectorIndex.serialized`), the reader streams it
into FAISS (`VectorIndex.read_from`): the index once, plus one chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .vectors import VectorIndex

if TYPE_CHECKING:
    from .pgconn import PgConnection

#: Bytes per chunk row: large enough that a 1.5 GB snapshot is ~100 round trips, small enough that a
#: reader holds little beyond the index it builds.
CHUNK_BYTES = 16 << 20
#: Complete snapshots kept: the newest and the one before, so a replica still loading the older one when
#: a new one lands finishes its load (and the change log is kept back to the older one's position).
KEEP = 2

_COLUMNS = "id, seq, generation, model, dim, layout, vectors, bytes, chunks, sha256, written_at"


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When the ingest side writes a new snapshot: after `every_changes` change-log entries, or after
    `every_seconds` with at least one change, and whenever there is none yet. A replica replays what the
    newest snapshot lacks, so the policy bounds a start's tail; a write costs a copy of the index and
    its upload (seconds at 1M vectors, docs/bench.md), so it is not done per article."""

    every_changes: int = 20_000
    every_seconds: float = 6 * 3600.0

    def due(self, newest: SnapshotInfo | None, seq: int, *, now: float | None = None) -> bool:
        if newest is None:
            return seq > 0
        since = seq - newest.seq
        if since <= 0:
            return False
        age = (time.time() if now is None else now) - newest.written_at
        return since >= self.every_changes or age >= self.every_seconds


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A complete snapshot's header: what a replica checks before loading it."""

    id: int
    seq: int  # the last change-log entry it holds
    generation: int
    model: str
    dim: int
    layout: str  # vectors.Layout.describe(): "exact", "exact fp16", "IVF1024", "IVF1024,SQ8"
    vectors: int
    bytes: int
    chunks: int
    sha256: str
    written_at: float

    @property
    def compressed(self) -> bool:
        return self.layout.endswith((" fp16", ",SQ8"))


class SnapshotUnusable(Exception):
    """A snapshot that is not what its header describes (damaged, truncated, a chunk missing)."""


def newest(conn: PgConnection) -> SnapshotInfo | None:
    """The newest complete snapshot, or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM vector_snapshots WHERE complete ORDER BY seq DESC, id DESC LIMIT 1"
    ).fetchone()
    return _info(row) if row else None


def _info(row: Any) -> SnapshotInfo:
    return SnapshotInfo(
        int(row[0]), int(row[1]), int(row[2]), str(row[3]), int(row[4]), str(row[5]), int(row[6]),
        int(row[7]), int(row[8]), str(row[9]), float(row[10]),
    )  # fmt: skip


def write(
    conn: PgConnection,
    data: np.ndarray,
    *,
    seq: int,
    generation: int,
    model: str,
    dim: int,
    layout: str,
    vectors: int,
) -> SnapshotInfo:
    """Store `data` (a serialised index, `VectorIndex.serialized`) as a complete snapshot, atomically.

    Runs in autocommit, outside any transaction of the store's: chunk by chunk, so no transaction holds
    gigabytes, and no writer of the change log waits for it.
    """
    view = memoryview(cast(bytes, np.ascontiguousarray(data, dtype=np.uint8))).cast("B")  # no copy
    total = len(view)
    chunks = max(1, -(-total // CHUNK_BYTES))
    row = conn.execute(
        "INSERT INTO vector_snapshots(seq, generation, model, dim, layout, vectors, bytes, chunks, sha256,"
        " written_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, '', ?) RETURNING id",
        (seq, generation, model, dim, layout, vectors, total, chunks, time.time()),
    ).fetchone()
    snapshot = int(row[0])
    whole = hashlib.sha256()
    try:
        for n in range(chunks):
            part = view[n * CHUNK_BYTES : (n + 1) * CHUNK_BYTES]
            whole.update(part)
            conn.raw.execute(
                "INSERT INTO vector_snapshot_chunks(snapshot, n, sha256, data) VALUES(%s, %s, %s, %b)",
                (snapshot, n, hashlib.sha256(part).hexdigest(), part),
            )
        digest = whole.hexdigest()
        row = conn.execute(
            f"UPDATE vector_snapshots SET sha256 = ?, complete = true WHERE id = ? RETURNING {_COLUMNS}",
            (digest, snapshot),
        ).fetchone()
    except BaseException:
        _forget(conn, snapshot)
        raise
    return _info(row)


def _forget(conn: PgConnection, snapshot: int) -> None:
    """Best effort: a half-written snapshot's rows (the next writer's `prune` deletes them otherwise)."""
    with contextlib.suppress(Exception):  # the connection is what failed: the next prune does it
        conn.execute("DELETE FROM vector_snapshots WHERE id = ? AND NOT complete", (snapshot,))


def load(conn: PgConnection, info: SnapshotInfo) -> VectorIndex:
    """The snapshot `info` describes, streamed chunk by chunk into FAISS, each chunk checked first.

    SnapshotUnusable when a chunk is missing or damaged, or the whole is not the recorded length and
    checksum. Inside the caller's read transaction (REPEATABLE READ) a snapshot pruned meanwhile is still
    readable whole.
    """
    stream = _ChunkStream(conn, info)
    try:
        vectors = VectorIndex.read_from(stream.read)
    except Exception as exc:
        if stream.error is not None:  # raised in FAISS's callback, which reports an error of its own
            raise stream.error from None
        # the verified bytes are not an index (written by another FAISS?)
        raise SnapshotUnusable(f"FAISS cannot read it ({str(exc).strip().splitlines()[0][:120]})") from None
    stream.finish()
    if len(vectors) != info.vectors or vectors.dim != info.dim:
        raise SnapshotUnusable(
            f"{len(vectors)} vectors of {vectors.dim} dimensions; its header says "
            f"{info.vectors} of {info.dim}"
        )
    return vectors


class _ChunkStream:
    """The snapshot's bytes as FAISS's reader asks for them, fetched one chunk at a time, each verified."""

    def __init__(self, conn: PgConnection, info: SnapshotInfo) -> None:
        self.conn = conn
        self.info = info
        self.next = 0  # the next chunk to fetch
        self.buffer = memoryview(b"")
        self.read_bytes = 0
        self.whole = hashlib.sha256()
        self.error: SnapshotUnusable | None = None

    def read(self, size: int) -> bytes:
        out: list[bytes] = []
        want = size
        while want > 0:
            if not len(self.buffer):
                if self.next >= self.info.chunks:
                    break
                self.buffer = memoryview(self._fetch(self.next))
                self.next += 1
            piece = self.buffer[:want]
            out.append(bytes(piece))
            self.buffer = self.buffer[len(piece) :]
            want -= len(piece)
        return b"".join(out)

    def _fetch(self, n: int) -> bytes:
        try:
            return self._verified(n)
        except SnapshotUnusable as exc:
            self.error = exc  # FAISS turns a callback's exception into its own RuntimeError
            raise

    def _verified(self, n: int) -> bytes:
        row = self.conn.raw.execute(
            "SELECT sha256, data FROM vector_snapshot_chunks WHERE snapshot = %s AND n = %s",
            (self.info.id, n),
            binary=True,
        ).fetchone()
        if row is None:
            raise SnapshotUnusable(f"chunk {n} of {self.info.chunks} is missing")
        data = bytes(row[1])
        if hashlib.sha256(data).hexdigest() != row[0]:
            raise SnapshotUnusable(f"chunk {n} of {self.info.chunks} fails its checksum")
        self.whole.update(data)
        self.read_bytes += len(data)
        return data

    def finish(self) -> None:
        """Every chunk read, and the whole is the recorded length and checksum."""
        while self.next < self.info.chunks:  # FAISS stopped early: the rest must still check out
            self._verified(self.next)
            self.next += 1
        if self.read_bytes != self.info.bytes or self.whole.hexdigest() != self.info.sha256:
            raise SnapshotUnusable(
                f"{self.read_bytes} bytes with checksum {self.whole.hexdigest()[:12]}..., its header says "
                f"{self.info.bytes} with {self.info.sha256[:12]}..."
            )


def prune(conn: PgConnection, *, keep: int = KEEP) -> int:
    """Delete all but the `keep` newest complete snapshots, and any incomplete one (a writer died
    half-way; the caller holds the writer lock, so none is being written). Returns the oldest kept
    snapshot's position: the change log before it is needed by no snapshot (0: nothing kept)."""
    kept = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM vector_snapshots WHERE complete ORDER BY seq DESC, id DESC LIMIT ?", (keep,)
        ).fetchall()
    ]
    conn.execute("DELETE FROM vector_snapshots WHERE NOT (id = ANY(?))", (kept,))
    if not kept:
        return 0
    row = conn.execute("SELECT MIN(seq) FROM vector_snapshots WHERE id = ANY(?)", (kept,)).fetchone()
    return int(row[0])
