"""Storage failures as one line a user can act on: what is damaged or full, and the command that repairs it.

SQLite reports a damaged file, a full disk or a failing device as `sqlite3.DatabaseError`; the CLI (and
anything else facing a person) turns it into an `IndexProblem` here instead of showing a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from .datadir import DB_NAME, IndexDamaged, IndexProblem

_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE"}
_DAMAGED_TEXT = ("malformed", "not a database", "file is encrypted", "fts5: corruption", "corrupt")


class DiskFull(IndexProblem):
    pass


def storage_problem(exc: sqlite3.Error, root: Path) -> IndexProblem:
    """The one-line problem behind a SQLite error in the data directory `root`."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return DiskFull(
            f"disk full: nothing was written (the batch in progress was rolled back); free space for {root} "
            "and run the command again"
        )
    if name in _DAMAGED or any(t in text.lower() for t in _DAMAGED_TEXT):
        return IndexDamaged(
            f"{root / DB_NAME} is damaged ({text}): restore it from a backup, or rebuild the index with "
            f"`newsqa --data-dir {root} index build --rebuild PATHS`"
        )
    if name.startswith("SQLITE_BUSY") or "locked" in text:
        return IndexProblem(f"{root / DB_NAME} is busy ({text}); try again in a moment")
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")):
        return IndexProblem(f"cannot read or write {root / DB_NAME} ({text}); check the disk and permissions")
    return IndexProblem(f"{root / DB_NAME}: {text}")


def disk_problem(exc: OSError, root: Path) -> IndexProblem | None:
    """A full disk while writing a snapshot or manifest (after SQLite committed), else None."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    return DiskFull(
        f"disk full while writing {Path(exc.filename).name if exc.filename else 'the vector snapshot'}: the "
        f"articles are committed in {DB_NAME}; free space for {root} and run `newsqa --data-dir {root} "
        "index repair`"
    )
