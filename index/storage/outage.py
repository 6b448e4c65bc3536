"""Waiting out a database outage: what a long-running process (serve, index watch) does while its
PostgreSQL server is down or restarting, instead of exiting.

It tries again with a doubling pause, says so once (not once per try), and says when it is back. What
counts as an outage is `pgconn.unavailable`: a wrong database name or password is not waited for, it is
reported at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .pgconn import unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: seconds between tries: doubling from the first to the last (a database back is noticed this fast)
BACKOFF = (0.5, 5.0)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def wait_for(
    call: Callable[[], T],
    *,
    where: str,
    stop: threading.Event | None = None,
    backoff: tuple[float, float] = BACKOFF,
    say: Callable[[str], None] | None = None,
) -> T:
    """`call()`, tried again while it fails because the database is unavailable; any other error is
    raised. `where` names the database in messages (no password); `say` gets the two one-line messages
    (default: the log). With `stop` set meanwhile, the last error is raised."""
    tell = say or log.warning
    pause = backoff[0]
    waiting = False
    while True:
        try:
            result = call()
        except Exception as exc:
            if not unavailable(exc) or (stop is not None and stop.is_set()):
                raise
            if not waiting:
                tell(f"the database at {where} is unavailable ({first_line(exc)}); waiting for it")
                waiting = True
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
            pause = min(pause * 2, backoff[1])
            continue
        if waiting:
            tell(f"the database at {where} is back")
        return result
