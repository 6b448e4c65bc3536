"""A training run's log: one JSON object a line in `--work` (the configuration, then each epoch's loss
and held-out figures), each epoch also said on the terminal. Shared by both models' loops."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any


class RunLog:
    def __init__(self, path: Path | None, say: Callable[[str], None]) -> None:
        self.path = path
        self.say = say

    def _write(self, line: str) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def start(self, config: Any, *, train: int, heldout: int) -> None:
        """The run's configuration and sizes, to the file only."""
        self._write(json.dumps({"config": asdict(config), "train": train, "heldout": heldout}))

    def epoch(self, entry: Any) -> None:
        """One epoch's figures (a dataclass), said and written."""
        line = json.dumps(asdict(entry))
        self.say(line)
        self._write(line)
