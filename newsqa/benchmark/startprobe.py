"""Run in a child process by `newsqa --store URL dev bench --replica-start`: start a replica's vectors.

Times what a starting `serve` does for its vectors (open the PostgreSQL index, `Library.refresh`: the
newest snapshot and the change log after it, or every vector when there is no usable snapshot) and
prints one JSON line: wall seconds, CPU seconds of this process and of its PostgreSQL backend, peak and
baseline resident memory, the vectors, their layout, and whether they came from a snapshot. The
embedding model is not loaded (a fixed ~90 MiB and a few seconds in `serve`). A fourth argument
`rows` starts the old way, every vector read, whatever snapshot is stored.
"""

from __future__ import annotations

import json
import logging
import sys
import time

import numpy as np

from .probe import cpu_seconds, peak_rss_bytes, rss_bytes


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def main(url: str, model: str, compressed: str, source: str = "snapshot") -> None:
    import faiss  # noqa: F401  (imports are not the vectors' memory)
    import psycopg  # noqa: F401

    from newsqa.index.storage.library import Library
    from newsqa.index.storage.pghome import PgHome
    from newsqa.index.storage.vectors import IndexPolicy

    lines = _Lines()
    logger = logging.getLogger("newsqa.index.storage.library")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)

    def no_model():  # type: ignore[no-untyped-def]
        raise RuntimeError("the probe never embeds")

    wanted = {"yes": True, "no": False}.get(compressed)
    if source == "rows":  # the old start: as if no snapshot were stored
        from newsqa.index.storage import pgsnapshot

        pgsnapshot.newest = lambda conn: None  # type: ignore[assignment]
    base = rss_bytes()
    started = time.perf_counter()
    cpu = time.process_time()
    lib = Library(
        PgHome(url), no_model, model_name=model, readonly=True, vector_policy=IndexPolicy(compressed=wanted)
    )
    backend = int(lib.store.conn.raw.info.backend_pid)  # the server process reading for this replica
    backend_cpu = cpu_seconds(backend)
    lib.refresh()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    backend_cpu = cpu_seconds(backend) - backend_cpu
    query = np.ones((1, lib.vectors.dim), dtype=np.float32) / np.sqrt(lib.vectors.dim)
    lib.vectors.search(query, 10)
    peak = peak_rss_bytes()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "server_cpu_seconds": backend_cpu,
                "peak_bytes": peak,
                "base_bytes": base,
                "vectors": len(lib.vectors),
                "layout": lib.vectors.layout.describe(),
                "from_snapshot": any("loaded from snapshot" in line for line in lines.lines),
                "log": lines.lines,
            }
        )
    )
    lib.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
