"""The data directory: where an index lives, its manifest, its writer lock, atomic file replacement.

Layout (one folder, everything newsqa knows):
    newsqa.sqlite       articles, sentences, embeddings, change log, lexical index, feed state (store.py);
                        the bot's conversations, follows and alerts (bot/chatstore.py)
    vectors-<seq>.faiss FAISS snapshot holding every vector up to change <seq>
    manifest.json       model, dimension, counts, format version, build time, current snapshot with its
                        sha256 and vector count, and the database generation it belongs to
    writer.lock         held (flock) by the one process allowed to write
    rebuild/            only during `index build --rebuild`: the new index, before it is swapped in
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .indexstore import IndexStore
    from .store import SqliteStore

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


class NoIndex(IndexProblem):
    """Asked to read an index that was never built."""

    def __init__(self, where: str) -> None:
        super().__init__(f"no index in {where}: run `newsqa index build` first")


class IndexDamaged(IndexProblem):
    """A file of the index cannot be read as what it should be; the message names it and the repair."""


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
    # Added later (an older manifest lacks them: nothing to verify, the next snapshot adds them).
    snapshot_sha256: str | None = None  # of the snapshot file: scrambled bytes must not load silently
    snapshot_vectors: int | None = None  # vectors in the snapshot
    generation: int = 0  # the database's `generation` the snapshot belongs to (bumped by a rebuild)


#: field -> the JSON types it may hold (bool is an int to Python, so it is excluded by hand below)
_MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "format_version": (int,),
    "model": (str,),
    "dim": (int,),
    "articles": (int,),
    "sentences": (int,),
    "snapshot": (str, type(None)),
    "snapshot_seq": (int,),
    "built_at": (str,),
    "snapshot_sha256": (str, type(None)),
    "snapshot_vectors": (int, type(None)),
    "generation": (int,),
}
_MANIFEST_OPTIONAL = {"snapshot_sha256", "snapshot_vectors", "generation"}


def repair_hint(root: Path) -> str:
    return f"`newsqa --data-dir {root} index repair` rewrites it from newsqa.sqlite"


def parse_manifest(data: bytes) -> Manifest:
    """The manifest in `data`; ValueError saying what is wrong when it is not one (truncated, empty...)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError("empty" if not data.strip() else f"not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"a JSON {type(raw).__name__}, not an object")
    fields: dict[str, object] = {}
    for key, types in _MANIFEST_TYPES.items():
        if key not in raw:
            if key in _MANIFEST_OPTIONAL:
                continue
            raise ValueError(f"no {key!r}")
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"{key!r} is {value!r}")
        fields[key] = value
    name = fields["snapshot"]
    if isinstance(name, str) and (Path(name).name != name or not name.endswith(".faiss")):
        raise ValueError(f"'snapshot' is {name!r}")
    return Manifest(**fields)  # type: ignore[arg-type]


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


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where an index is, the room it takes (named by what was measured), and its internals."""

    where: dict[str, str]
    size_name: str  # bytes_on_disk or bytes_in_database
    size: int
    internals: dict[str, Any]


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
        """The manifest, None when there is none yet; IndexDamaged (one line) when it cannot be read."""
        try:
            data = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return parse_manifest(data)
        except ValueError as exc:
            raise IndexDamaged(f"{self.manifest_path} is damaged ({exc}); {repair_hint(self.root)}") from None

    def write_manifest(self, manifest: Manifest) -> None:
        data = json.dumps(asdict(manifest), indent=2).encode("utf-8")
        atomic_write_bytes(self.manifest_path, data)

    def recorded_model(self) -> str | None:
        """The model the index here was built with, read without loading anything; None before the first
        build. IndexDamaged when the manifest cannot be read."""
        if not self.exists():
            return None
        manifest = self.read_manifest()
        if manifest is not None:
            return manifest.model
        store = self.open_store(readonly=True)
        try:
            return store.get_meta("model")
        finally:
            store.close()

    def open_store(self, *, readonly: bool = False) -> SqliteStore:
        """The database of this directory (made, with the folder, unless `readonly`)."""
        from .store import SqliteStore

        if not readonly:
            self.root.mkdir(parents=True, exist_ok=True)
        return SqliteStore(self.db_path, readonly=readonly)

    def checked_manifest(self) -> Manifest:
        """The manifest, which `index stats` needs: IndexProblem naming the repair when it is missing."""
        manifest = self.read_manifest()
        if not self.exists():
            raise NoIndex(str(self.root))
        if manifest is None:  # the database is there (and `ask` answers from it): say what is missing
            raise IndexProblem(f"{self.manifest_path} is missing; {repair_hint(self.root)}")
        return manifest

    def footprint(self, store: IndexStore) -> Footprint:
        """Where the index is, its bytes on disk, and the manifest's internals (model, snapshot, ...)."""
        manifest = self.checked_manifest()
        internals = {k: v for k, v in asdict(manifest).items() if k not in ("articles", "sentences")}
        size = sum(p.stat().st_size for p in self.root.iterdir() if p.is_file())
        return Footprint({"data_dir": str(self.root)}, "bytes_on_disk", size, internals)

    def lease(self, key: int) -> None:
        """A role held by one process of many (the feed poller): on a data directory none is needed, each
        process that is given the role does it (the writer lock keeps their writes apart)."""
        return None

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
