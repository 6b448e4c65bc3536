"""Durations as people type them ('90s', '10m', '1h'): `index watch --every` and `serve --every` alike.

Bounded to a sane range: below a second a watcher busy-loops (`1e-9s`), and `nan`, `inf` or `99999999999h`
ended in a traceback from the sleep that took them.
"""

from __future__ import annotations

import math

UNITS = {"s": 1, "m": 60, "h": 3600}
#: Between rounds of `index watch` and feed polls of `serve`: one default, so the two never disagree.
DEFAULT_EVERY = "10m"
SHORTEST = 1.0  # seconds
LONGEST = 7 * 24 * 3600.0  # a week


def parse_every(value: str) -> float:
    """'90', '90s', '10m', '1h' -> seconds, from 1 s to a week; ValueError names what was wrong."""
    raw = value.strip().lower()
    try:
        seconds = float(raw[:-1]) * UNITS[raw[-1]] if raw and raw[-1] in UNITS else float(raw)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration like 30s, 10m or 1h") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration like 30s, 10m or 1h")
    if seconds <= 0:
        raise ValueError("must be more than zero")
    if not SHORTEST <= seconds <= LONGEST:
        raise ValueError(f"{value!r} is outside 1s to 168h (a week)")
    return seconds
