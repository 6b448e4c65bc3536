from __future__ import annotations

from newsqa.cli import run

run()
