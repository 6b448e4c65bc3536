"""Run in a child process by `newsqa dev bench`: open an index, load its vectors, print resident memory.

Prints `<rss before> <rss after>` in bytes, after one lexical and one vector search touched everything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def rss_bytes(field: str = "VmRSS") -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM, of its own address space). Not `ru_maxrss`: Linux
    carries the parent's peak over into it across the fork and exec that started this process."""
    return rss_bytes("VmHWM")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used: on a machine shared with other work, a figure
    the other work does not inflate, unlike wall time (a PostgreSQL backend's too, by its pid)."""
    import os

    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(data_dir: Path) -> None:
    import faiss  # noqa: F401  (its import is not the index's memory)

    from newsqa.index.storage.datadir import DataDir
    from newsqa.index.storage.library import Library

    manifest = DataDir(data_dir).read_manifest()
    assert manifest is not None, f"no index in {data_dir}"

    def no_model():  # type: ignore[no-untyped-def]
        raise RuntimeError("the probe never embeds")

    lib = Library(data_dir, no_model, model_name=manifest.model, readonly=True)
    before = rss_bytes()
    lib.refresh()
    query = np.ones((1, manifest.dim), dtype=np.float32) / np.sqrt(manifest.dim)
    lib.vectors.search(query, 10)
    lib.store.lexical_search(["government", "minister"], 100)
    print(before, rss_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
