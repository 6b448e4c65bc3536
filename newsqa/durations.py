"""Durations as people type them ('90s', '10m', '1h'): `index watch --every` and `serve --every` alike."""

from __future__ import annotations

UNITS = {"s": 1, "m": 60, "h": 3600}
#: Between rounds of `index watch` and feed polls of `serve`: one default, so the two never disagree.
DEFAULT_EVERY = "10m"


def parse_every(value: str) -> float:
    """'90', '90s', '10m', '1h' -> seconds; ValueError names what was wrong."""
    raw = value.strip().lower()
    try:
        seconds = float(raw[:-1]) * UNITS[raw[-1]] if raw and raw[-1] in UNITS else float(raw)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration like 30s, 10m or 1h") from None
    if seconds <= 0:
        raise ValueError("must be more than zero")
    return seconds
