"""`newsqa index watch`: files landing, changing and disappearing in a folder."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from newsqa.index.ingest.watch import FolderWatcher
from newsqa.index.storage.library import Library


def later() -> float:
    return time.time() + 10  # past the settle delay


def test_new_changed_deleted_files(tmp_path: Path, library: Library) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = FolderWatcher(library, inbox)
    assert not watcher.scan(now=later())

    (inbox / "zoo.txt").write_text("Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    report = watcher.scan(now=later())
    assert report.ingest is not None and report.ingest.added == 1
    assert not watcher.scan(now=later())  # nothing changed: nothing done

    (inbox / "zoo.txt").write_text("Zoo news\nFour zebras escaped from the city zoo on Friday.\n")
    os.utime(inbox / "zoo.txt", ns=(time.time_ns(), time.time_ns() + 1_000_000))
    report = watcher.scan(now=later())
    assert report.ingest is not None and report.ingest.updated == 1

    feed = inbox / "wire.jsonl"
    feed.write_text(
        "\n".join(json.dumps({"id": f"w{i}", "title": f"W{i}", "text": f"Wire story {i}."}) for i in range(3))
    )
    assert watcher.scan(now=later()).ingest.added == 3  # type: ignore[union-attr]
    feed.write_text(json.dumps({"id": "w0", "title": "W0", "text": "Wire story 0."}))
    os.utime(feed, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    report = watcher.scan(now=later())
    assert sorted(report.removed) == ["w1", "w2"]  # records dropped from the file go too

    (inbox / "zoo.txt").unlink()
    report = watcher.scan(now=later())
    assert len(report.removed) == 1 and library.counts()[0] == 1


def test_file_still_being_written_waits(tmp_path: Path, library: Library) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "partial.txt").write_text("Half\nA story being copied in.")
    watcher = FolderWatcher(library, inbox, settle_seconds=30)
    report = watcher.scan()
    assert report.waiting == 1 and report.ingest is None and library.counts() == (0, 0)
