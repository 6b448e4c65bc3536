"""`newsqa index build --rebuild`: a new index built beside the live one, then swapped in atomically.

Deleting the files and starting over (what this replaces) pulled them from under a running bot: it went on
writing conversations, follows and feed state into an unlinked file, lost at its next restart, and a kill
during the rebuild lost the old index. Instead:

1. The articles are indexed into a staging database in `rebuild/` inside the data directory, with
   article and sentence ids starting above the live ones (an id never means two sentences, so a search
   racing the swap cannot quote the wrong one). The live index keeps answering meanwhile.
2. One SQLite transaction on the live database replaces its index tables (articles, sentences, vectors,
   story keys, the full-text tables, the change log) with the staged ones and bumps `generation`.
   Everything else in that database — conversations, follows, alerts, feed state — is not touched, so it
   survives the rebuild, and whatever any process writes through a handle it opened before or after the
   swap lands in the one file every process has open: nothing is redirected because nothing moved.
3. A snapshot and manifest are written for the new generation, and the staging folder is removed.

Open Libraries notice the new `generation` at their next refresh and reload (`Library.refresh`). A kill
before the swap commits leaves the old index as it was (the next rebuild clears the staging folder); the
swap is one transaction; a kill after it leaves the new index, whose vectors a reader rebuilds from SQLite
until the snapshot is written. A live database too damaged to open is moved aside (`newsqa.sqlite.damaged-
<time>`) and the rebuild starts from an empty one.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..models.embedder import Embedder
from ..text.article import Article, LoadProblem
from .datadir import DataDir, IndexProblem
from .library import IngestReport, Library
from .store import Store
from .vectors import IndexPolicy

log = logging.getLogger(__name__)

STAGING = "rebuild"
#: Index tables copied from the staging database, parents before children. The full-text tables and the
#: change log are handled apart; every other table (conversations, follows, alerts, feed state) is kept.
INDEX_TABLES = ("articles", "sentences", "embeddings", "story_keys", "also_reported")
#: AUTOINCREMENT counters the staged ids must start above
COUNTERS = ("articles", "sentences", "changes")


def rebuild(
    root: Path,
    embedder: Callable[[], Embedder],
    items: Iterable[Article | LoadProblem],
    *,
    model_name: str,
    vector_policy: IndexPolicy | None = None,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] = log.warning,
) -> IngestReport:
    """Index `items` from scratch and swap the result in for the index in `root`; returns the report.

    Holds the writer lock throughout (another writer is told the index is busy, as during any build).
    """
    data = DataDir(root)
    staging = root / STAGING
    with data.writer_lock():
        clear_staging(staging)
        try:
            return _rebuild_locked(
                data, staging, embedder, items, model_name, vector_policy, progress, notice
            )
        except BaseException:
            clear_staging(staging)  # an error or Ctrl-C: the old index stands, the half-built one goes
            raise


def _rebuild_locked(
    data: DataDir,
    staging: Path,
    embedder: Callable[[], Embedder],
    items: Iterable[Article | LoadProblem],
    model_name: str,
    vector_policy: IndexPolicy | None,
    progress: Callable[[int], None] | None,
    notice: Callable[[str], None],
) -> IngestReport:
    live = open_live(data, notice)
    try:
        counters = {name: _counter(live.conn, name) for name in COUNTERS}
    finally:
        live.close()
    staged = Library(staging, embedder, model_name=model_name, vector_policy=vector_policy)
    try:
        with staged.store.transaction():
            staged.store.conn.executemany(
                "INSERT INTO sqlite_sequence(name, seq) VALUES(?, ?)", counters.items()
            )
        report = staged.ingest(items, progress=progress)
        model = staged.store.get_meta("model") or model_name
        dim = staged.store.get_meta("dim")
        expected = staged.counts()
    finally:
        staged.close()
    if report.added == 0:  # a mistyped path must not swap in an empty index
        raise IndexProblem(
            f"nothing to index ({len(report.skipped)} skipped): the index in {data.root} is kept as it was"
        )
    live = Store(data.db_path)
    try:
        swap(live, staging / data.db_path.name, model=model, dim=dim, expected=expected)
    finally:
        live.close()
    lib = Library(data.root, embedder, model_name=model_name, vector_policy=vector_policy)
    try:
        lib.checkpoint(force=True)
    finally:
        lib.close()
    clear_staging(staging)
    return report


def clear_staging(staging: Path) -> None:
    """Remove a staging folder (a leftover of an interrupted rebuild, or the one just swapped in)."""
    shutil.rmtree(staging, ignore_errors=True)


def open_live(data: DataDir, notice: Callable[[str], None]) -> Store:
    """The live database, created when there is none; moved aside (and said so) when it is damaged."""
    try:
        store = Store(data.db_path)
        if store.quick_check(1) == ["ok"]:
            return store
        store.close()
        why = "failed its integrity check"
    except sqlite3.DatabaseError as exc:
        why = str(exc)
    aside = data.db_path.with_name(f"{data.db_path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{data.db_path}{suffix}")
        if src.exists():
            src.rename(Path(f"{aside}{suffix}"))
    notice(f"{data.db_path} was damaged ({why}); moved aside to {aside.name}, starting from an empty one")
    return Store(data.db_path)


def swap(live: Store, staged_db: Path, *, model: str, dim: str | None, expected: tuple[int, int]) -> None:
    """Replace the live index tables with the staged ones in one transaction; other tables stay.

    `expected` (articles, sentences) guards against swapping in anything but what was just built (ATTACH
    of a vanished file would give an empty database, and the index with it).
    """
    if not staged_db.exists():
        raise IndexProblem(
            f"the rebuilt index {staged_db} vanished before it was swapped in; nothing changed"
        )
    conn = live.conn
    conn.execute("ATTACH DATABASE ? AS staged", (str(staged_db),))
    try:
        with live.transaction():
            found = tuple(
                conn.execute(f"SELECT COUNT(*) FROM staged.{t}").fetchone()[0]
                for t in ("articles", "sentences")
            )
            if found != expected:
                raise IndexProblem(f"the rebuilt index holds {found}, not {expected}; nothing changed")
            conn.execute("DELETE FROM main.paragraphs_fts")
            for table in reversed(INDEX_TABLES):
                conn.execute(f"DELETE FROM main.{table}")
            for table in INDEX_TABLES:
                cols = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
                conn.execute(f"INSERT INTO main.{table}({cols}) SELECT {cols} FROM staged.{table}")
            conn.execute(
                "INSERT INTO main.paragraphs_fts(rowid, text, article, paragraph)"
                " SELECT rowid, text, article, paragraph FROM staged.paragraphs_fts"
            )
            conn.execute("INSERT INTO main.sentences_fts(sentences_fts) VALUES('rebuild')")
            # the old log is meaningless now; readers reload (generation) and new changes count on from here
            last = max(_counter(conn, "changes", "main"), _counter(conn, "changes", "staged"))
            conn.execute("DELETE FROM main.changes")
            _set_counter(conn, "changes", last)
            for table in ("articles", "sentences"):
                _set_counter(conn, table, max(_counter(conn, table, "main"), _counter(conn, table, "staged")))
            generation = int(live.get_meta("generation") or 0) + 1
            live.set_meta("generation", str(generation))
            live.set_meta("changes_truncated", str(last))
            live.set_meta("model", model)
            if dim is not None:
                live.set_meta("dim", dim)
    finally:
        conn.execute("DETACH DATABASE staged")
    log.info("rebuilt index swapped in as generation %d", generation)


def _set_counter(conn: sqlite3.Connection, table: str, value: int) -> None:
    """sqlite_sequence has no key on `name`: update the row, or add it when the table never had one."""
    if not conn.execute("UPDATE main.sqlite_sequence SET seq=? WHERE name=?", (value, table)).rowcount:
        conn.execute("INSERT INTO main.sqlite_sequence(name, seq) VALUES(?, ?)", (table, value))


def _counter(conn: sqlite3.Connection, table: str, schema: str = "main") -> int:
    row = conn.execute(f"SELECT seq FROM {schema}.sqlite_sequence WHERE name=?", (table,)).fetchone()
    return int(row[0]) if row else 0
