"""`newsqa dev eval`: retrieval quality measured through the bot's own search (see docs/quality.md).

metrics.py holds the pure metric functions; reqa.py, squad.py, abstain.py and followups.py each load
one benchmark and measure one thing; command.py is the click group.
"""

from __future__ import annotations
