"""The exit codes of `newsqa`, in one place so the README, the commands and scripts agree.

A cron job or script notices a failure only by the exit code, so a run that could not index something it
was asked to must not end with 0 (README, "Exit codes").
"""

from __future__ import annotations

OK = 0
ERROR = 1  # the command could not do its work: no index, a damaged file, a full disk, a busy writer
USAGE = 2  # a bad flag or argument (click's own code)
SKIPPED = 3  # the run finished, but some input asked for was not indexed (`--skip-bad` makes this 0)
