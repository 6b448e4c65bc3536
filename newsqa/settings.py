"""The settings every `newsqa` command shares: built once, by the `newsqa` group from its flags and their
environment fallbacks, and frozen. A command's --allow-host makes a copy (`Wiring.allowing`); `newsqa
serve` adds the bot's own settings (`newsqa.bot.settings.BotSettings`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from newsqa.index.models.embedder import DEFAULT_MODEL
from newsqa.index.models.modelparts import DEFAULT_MODELS_DIR
from newsqa.index.models.question_encoder import SHIPPED as SHIPPED_QUESTION_MODEL
from newsqa.index.web.netguard import AllowList

DEFAULT_DATA_DIR = Path(os.path.expanduser("~/.local/share/newsqa"))


def _seeds() -> Path:
    """seeds/ of the checkout (editable install), else the copy a wheel installs as newsqa/seeds."""
    checkout = Path(__file__).resolve().parent.parent / "seeds"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "seeds"


PROJECT_SEEDS = _seeds()


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    # a PostgreSQL URL: the index and the bot's tables live there instead of data_dir (docs/deploy.md)
    store: str | None = field(default=None, repr=False)
    model: str = DEFAULT_MODEL
    # a second, stronger model re-ordering each question's first candidates (index/search/rerank.py)
    rerank_model: str | None = None
    # the model that embeds questions against an all-MiniLM-L6-v2 index (index/models/question_encoder.py);
    # None: questions are embedded by the index model itself
    question_model: str | None = SHIPPED_QUESTION_MODEL
    # a model judging whether each of a question's first candidates answers it, made by `newsqa model
    # train-answer` (index/models/answer_model.py); None: off, the default (the one trained here did not
    # win: docs/model.md)
    answer_model: str | None = None
    # where `newsqa model install` puts models (index/models/modelparts.py)
    models_dir: Path = DEFAULT_MODELS_DIR
    batch_size: int = 64
    seeds: Path = PROJECT_SEEDS
    min_confidence: float | None = None  # None: the measured default in SearchOptions
    # fetched besides public addresses: a command's --allow-host, applied by `Wiring.allowing`
    allow_hosts: AllowList = field(default_factory=AllowList)
