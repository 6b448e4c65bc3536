"""Watching a folder: new and changed files are indexed, deleted ones removed, without a rebuild.

Polling, not inotify: it works the same on every file system (network mounts included) and a scan of a
few thousand files costs milliseconds. A file is taken only once it has stopped changing, so a story
still being copied in is not indexed half-written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..storage.library import IngestReport, Library
from ..text.article import Article, LoadProblem
from .loaders import iter_articles, walk_files


@dataclass
class ScanReport:
    ingest: IngestReport | None = None
    removed: list[str] = field(default_factory=list)
    waiting: int = 0  # files still being written

    def __bool__(self) -> bool:
        """Worth printing: something was indexed, removed or skipped."""
        ing = self.ingest
        return bool(self.removed) or (ing is not None and bool(ing.added or ing.updated or ing.skipped))

    def __str__(self) -> str:
        parts = []
        if self.ingest is not None:
            parts.append(self.ingest.summary())
        if self.removed:
            parts.append(f"{len(self.removed)} removed (file deleted)")
        return "; ".join(parts)


class FolderWatcher:
    """Remembers which articles each file produced, so a deleted or shrunk file removes its articles."""

    def __init__(
        self, library: Library, folder: Path, *, settle_seconds: float = 1.0, follow_links: bool = False
    ) -> None:
        self.library = library
        self.folder = folder
        self.follow_links = follow_links  # links to files outside the folder (loaders.walk_files)
        self.settle_seconds = settle_seconds
        self._seen: dict[Path, tuple[int, int]] = {}  # path -> (mtime_ns, size) when last indexed
        self._ids: dict[Path, set[str]] = {}

    def scan(self, *, now: float | None = None) -> ScanReport:
        """One pass: index new or changed settled files, remove what disappeared. Caller holds the lock."""
        now = time.time() if now is None else now
        report = ScanReport()
        current: dict[Path, tuple[int, int]] = {}
        for item in walk_files(self.folder, follow_links=self.follow_links):
            if isinstance(item, LoadProblem):
                continue
            try:
                st = os.stat(item)
            except OSError:
                continue
            current[item] = (st.st_mtime_ns, st.st_size)
        ready = []
        for path, sig in current.items():
            if self._seen.get(path) == sig:
                continue
            if now - sig[0] / 1e9 < self.settle_seconds:
                report.waiting += 1
                continue
            ready.append(path)
        stale: list[str] = []
        for path in [p for p in self._seen if p not in current]:
            stale.extend(self._ids.pop(path, ()))
            del self._seen[path]
        if ready:
            produced: dict[Path, set[str]] = {p: set() for p in ready}

            def items() -> Iterator[Article | LoadProblem]:
                for path in ready:
                    for item in iter_articles([path], follow_links=self.follow_links):
                        if isinstance(item, Article):
                            produced[path].add(item.id)
                        yield item

            report.ingest = self.library.ingest(items())
            for path in ready:
                stale.extend(self._ids.get(path, set()) - produced[path])  # records dropped from a file
                self._ids[path] = produced[path]
                self._seen[path] = current[path]
        if stale:
            report.removed, _ = self.library.remove(sorted(set(stale)))
        return report
