"""A malformed row in the store is that row's problem, not the process's.

The store is shared (many replicas on one PostgreSQL, or a SQLite file anyone can edit), so a reader
cannot assume every row is one newsqa wrote: a 7-byte vector, a day that is not a day. Before this
module one such row made every question fail and a restarted replica fail to start. Readers decode
rows through these functions: a bad row is skipped and logged once (per process, per row), and the
rest is served. `index repair` finds the rows and mends or drops them (`Store.bad_rows`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable

import numpy as np

log = logging.getLogger(__name__)

_MAX_REMEMBERED = 10_000  # rows already logged; past this the log may repeat, memory does not grow
_logged: set[tuple[str, str]] = set()
_lock = threading.Lock()


def skipped(table: str, key: object, why: str) -> None:
    """Log a skipped row the first time this process meets it."""
    mark = (table, str(key))
    with _lock:
        if mark in _logged:
            return
        if len(_logged) >= _MAX_REMEMBERED:
            _logged.clear()
        _logged.add(mark)
    log.warning("skipping a malformed %s row (%s): %s; `newsqa index repair` mends it", table, key, why)


def vector_ok(blob: object, dim: int) -> bool:
    """A stored vector is `dim` float32s."""
    return isinstance(blob, bytes | bytearray | memoryview) and len(blob) == 4 * dim


def decode_vectors(rows: Iterable[tuple[int, object]], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of the (sentence id, blob) rows whose blob is a vector of `dim`; the rest skipped."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for sid, blob in rows:
        if isinstance(blob, bytes | bytearray | memoryview) and vector_ok(blob, dim):
            ids.append(int(sid))
            blobs.append(bytes(blob))
        else:
            size = len(blob) if isinstance(blob, bytes | bytearray | memoryview | str) else None
            skipped("embeddings", f"sentence {sid}", f"a vector of {size} bytes, expected {4 * dim}")
    vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
    return np.asarray(ids, dtype=np.int64), vecs


def parse_day(value: object) -> dt.date | None:
    """An ISO day (YYYY-MM-DD), or None when `value` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None
