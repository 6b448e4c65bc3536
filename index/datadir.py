"""The data directory: where an index lives, its manifest, its writer lock, atomic file replacement.

Layout (one folder, everything newsqa knows):
    newsqa.sqlite       articles, sentences, embeddings, change log, lexical index, conversations
    vectors-<seq>.faiss FAISS snapshot holding every vector up to change <seq>
    manifest.json       model, dimension, counts, format version, build time, current snapshot
    writer.lock         held (flock) by the one process allowed to write
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

FORMAT_VERSION = 1
DB_NAME = "newsqa.sqlite"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = "writer.lock"


class IndexProblem(Exception):
    """Base for index problems a user must act on; the message is one line and says what to do."""


class ModelMismatch(IndexProblem):
    pass


class IndexLocked(IndexProblem):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    articles: int
    sentences: int
    snapshot: str | None  # file name of the FAISS snapshot, None before the first one
    snapshot_seq: int  # last change-log entry the snapshot contains
    built_at: str  # ISO time of the last write


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable: without this a power cut can forget it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DataDir:
    """Paths and small file operations of one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def exists(self) -> bool:
        return self.db_path.exists()

    def read_manifest(self) -> Manifest | None:
        try:
            raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Manifest(**{k: raw[k] for k in Manifest.__dataclass_fields__})

    def write_manifest(self, manifest: Manifest) -> None:
        data = json.dumps(asdict(manifest), indent=2).encode("utf-8")
        atomic_write_bytes(self.manifest_path, data)

    def snapshot_path(self, seq: int) -> Path:
        return self.root / f"vectors-{seq:012d}.faiss"

    def stale_snapshots(self, keep: str | None) -> list[Path]:
        return [p for p in self.root.glob("vectors-*.faiss") if p.name != keep]

    def stale_temp_files(self) -> list[Path]:
        return list(self.root.glob("*.tmp"))

    @contextlib.contextmanager
    def writer_lock(self, *, timeout: float = 0.0) -> Iterator[None]:
        """One writer at a time, across processes; released by the OS even after kill -9.

        Waits up to `timeout` seconds for another writer to finish, then says so in one line.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexLocked(
                            f"another newsqa process is writing to {self.root}; try again when it is done"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            os.close(fd)
