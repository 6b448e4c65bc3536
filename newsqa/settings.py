"""The command line's settings (index, model, fetching), built once at the entry point from flags with
environment fallbacks; `newsqa serve` adds the bot's own beside them (bot/settings.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from newsqa.index.netguard import AllowList

DEFAULT_DATA_DIR = Path(os.path.expanduser("~/.local/share/newsqa"))


def _seeds() -> Path:
    """seeds/ of the checkout (editable install), else the copy a wheel installs as newsqa/seeds."""
    checkout = Path(__file__).resolve().parent.parent / "seeds"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "seeds"


PROJECT_SEEDS = _seeds()


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    batch_size: int = 64
    seeds: Path = PROJECT_SEEDS
    min_confidence: float | None = None  # None: the measured default in SearchOptions
    allow_hosts: AllowList = field(
        default_factory=AllowList
    )  # fetched besides public addresses (--allow-host)


def parse_ids(raw: str | None) -> frozenset[int]:
    """'123, -100456 789' -> {123, -100456, 789}; a bad entry is an error, not silently dropped."""
    if not raw:
        return frozenset()
    out = set()
    for part in raw.replace(",", " ").split():
        try:
            out.add(int(part))
        except ValueError:
            raise ValueError(f"not a Telegram id: {part!r}") from None
    return frozenset(out)
