"""newsqa: conversational question answering over news articles.

    import newsqa

    with newsqa.open(data_dir="news") as n:
        n.add(["articles/"])
        print(n.ask("Which airbase was targeted by drones?").to_dict())

`open` is the front door (newsqa/frontdoor.py); importing this package loads nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsqa.frontdoor import Newsqa

__version__ = "0.1.0"
__all__ = ["open"]


def open(*args: Any, **kwargs: Any) -> Newsqa:
    """Open an index: `newsqa.open(data_dir=...)`, or `newsqa.open(settings)`; see `newsqa.frontdoor.open`."""
    from newsqa.frontdoor import open as open_index

    return open_index(*args, **kwargs)
