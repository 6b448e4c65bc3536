"""Figures only a fresh process shows: `newsqa --help`, a cold `newsqa ask`, resident memory of an index."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall_seconds(argv: list[str], *, repeat: int = 3) -> float:
    """Median wall time of running `argv` to completion (it must succeed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def newsqa_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsqa", *args]


def resident_bytes(data_dir: Path) -> tuple[int, int]:
    """(RSS of a process with the index opened but its vectors not loaded, the same after loading them).

    No model is loaded in that process."""
    out = subprocess.run(
        [sys.executable, "-m", "newsqa.benchmark.probe", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[-2]), int(out[-1])


def disk_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.iterdir() if p.is_file())
