"""`index build --rebuild` beside a running reader: built aside, swapped in atomically, nothing else lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder

from newsqa.bot.chatstore import ChatStore
from newsqa.bot.topics import Follows
from newsqa.cli import main
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.datadir import ModelMismatch
from newsqa.index.storage.library import Library
from newsqa.index.web.feeds import FeedState, FeedStateStore

pytestmark = pytest.mark.fault

OLD = "The old harbour bridge was closed for repairs on Monday."
NEW = "A new tram line opened across the valley on Friday."


def write_articles(folder: Path, prefix: str, text: str, n: int) -> Path:
    """n articles of two sentences each, distinct enough not to be taken for copies of one story."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"{prefix}{i}",
            "title": f"{prefix} story {i}",
            "text": f"{text} " + " ".join(f"{prefix}{i}w{j}" for j in range(12)) + ".",
        }
        for i in range(n)
    ]
    path = folder / f"{prefix}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def cli(root: Path, embedder: HashingEmbedder, *args: str) -> Result:
    return CliRunner().invoke(
        main,
        ["--data-dir", str(root), *args],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )


def top(lib: Library, query: str) -> str | None:
    searcher = Searcher(lib)
    found = searcher.passages(searcher.rank(query), k=1)
    return found[0].sentence if found else None


def test_a_reader_open_across_a_rebuild_sees_the_new_index_and_keeps_its_rows(tmp_path: Path) -> None:
    root, embedder = tmp_path / "data", HashingEmbedder()
    assert (
        cli(root, embedder, "index", "build", str(write_articles(tmp_path / "a", "old", OLD, 4))).exit_code
        == 0
    )
    bot = Library(root, lambda: embedder, model_name=embedder.name)  # another process, e.g. the bot
    assert top(bot, "harbour bridge closed") == OLD
    chats = ChatStore(bot.store)
    chats.save_conversation("chat1", "before")
    Follows(chats).follow("chat1", "tram line")
    feeds = FeedStateStore(bot.dir.db_path)
    feeds.save(FeedState("https://example.com/feed.xml", etag="e1"))

    result = cli(
        root, embedder, "index", "build", "--rebuild", str(write_articles(tmp_path / "b", "new", NEW, 3))
    )
    assert result.exit_code == 0, result.output

    bot.refresh()
    assert top(bot, "tram line opened valley") == NEW
    assert top(bot, "harbour bridge closed") != OLD
    assert bot.counts() == (3, 6) and len(bot.vectors) == 6
    chats.save_conversation("chat2", "after")  # written through the handle opened before the swap
    feeds.save(FeedState("https://example.com/other.xml", etag="e2"))
    feeds.close()
    bot.close()

    fresh = Library(root, lambda: embedder, model_name=embedder.name)
    fresh_chats = ChatStore(fresh.store)
    assert fresh_chats.load_conversation("chat1") == "before"
    assert fresh_chats.load_conversation("chat2") == "after"
    assert [f.topic for f in Follows(fresh_chats).following("chat1")] == ["tram line"]
    again = FeedStateStore(fresh.dir.db_path)
    assert again.load("https://example.com/feed.xml").etag == "e1"
    assert again.load("https://example.com/other.xml").etag == "e2"
    again.close()
    assert top(fresh, "tram line opened valley") == NEW
    assert not (root / "rebuild").exists()
    fresh.close()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from fakes import HashingEmbedder
    from newsqa.cli import main
    from newsqa.index.storage import datadir, vectors
    root, source, step = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def when(real, test):
        def wrapper(*args, **kwargs):
            if test(*args):
                die()
            return real(*args, **kwargs)
        return wrapper

    calls = {{"n": 0}}
    def nth(n):
        def test(*args):
            calls["n"] += 1
            return calls["n"] == n
        return test

    if step == "while embedding":
        HashingEmbedder.embed = when(HashingEmbedder.embed, nth(1))
    elif step == "inside the swap transaction":
        from newsqa.index.storage import rebuild
        rebuild._set_counter = when(rebuild._set_counter, nth(1))
    elif step == "after the swap, before the snapshot":
        vectors.VectorIndex.save = when(vectors.VectorIndex.save, lambda self, path: path.parent == root)
    elif step == "after the snapshot, before the manifest":
        datadir.atomic_write_bytes = when(
            datadir.atomic_write_bytes, lambda path, data: path == root / "manifest.json"
        )
    elif step == "before the staging folder is removed":
        from newsqa.index.storage import rebuild
        rebuild.clear_staging = when(rebuild.clear_staging, nth(2))
    e = HashingEmbedder()
    main(["--data-dir", str(root), "index", "build", "--rebuild", source],
         obj={{"embedder_factory": lambda: e}}, standalone_mode=False)
    """
)
REBUILD_STEPS = [
    "while embedding",
    "inside the swap transaction",
    "after the swap, before the snapshot",
    "after the snapshot, before the manifest",
    "before the staging folder is removed",
]


@pytest.mark.parametrize("step", REBUILD_STEPS)
def test_kill_9_at_each_step_of_a_rebuild_leaves_a_loadable_index(tmp_path: Path, step: str) -> None:
    root, embedder = tmp_path / "data", HashingEmbedder()
    assert (
        cli(root, embedder, "index", "build", str(write_articles(tmp_path / "a", "old", OLD, 30))).exit_code
        == 0
    )
    lib = Library(root, lambda: embedder, model_name=embedder.name)
    ChatStore(lib.store).save_conversation("chat", "kept")
    lib.close()
    source = write_articles(tmp_path / "b", "new", NEW, 20)
    script = KILLER.format(tests=str(Path(__file__).parent))
    proc = subprocess.run(
        [sys.executable, "-c", script, str(root), str(source), step],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    after = Library(root, lambda: embedder, model_name=embedder.name)
    after.refresh()
    assert after.counts() in {(30, 60), (20, 40)}  # the old index, or the new one: never neither
    assert len(after.vectors) == after.counts()[1]
    expected = OLD if after.counts() == (30, 60) else NEW
    assert top(after, expected) == expected
    assert ChatStore(after.store).load_conversation("chat") == "kept"
    after.close()
    stats = cli(root, embedder, "index", "stats", "--json")
    assert stats.exit_code == 0, stats.output
    # and the next rebuild finishes the job
    assert cli(root, embedder, "index", "build", "--rebuild", str(source)).exit_code == 0
    final = Library(root, lambda: embedder, model_name=embedder.name)
    assert final.counts() == (20, 40) and top(final, NEW) == NEW
    assert ChatStore(final.store).load_conversation("chat") == "kept"
    assert sorted(p.name for p in root.glob("vectors-*.faiss")) == [
        json.loads((root / "manifest.json").read_text())["snapshot"]
    ]
    final.close()
    assert not os.path.exists(root / "rebuild")


def test_a_reader_of_the_old_model_is_told_in_one_line_after_a_rebuild_with_another(tmp_path: Path) -> None:
    root, embedder, other = tmp_path / "data", HashingEmbedder(), HashingEmbedder(name="test/other-256")
    assert (
        cli(root, embedder, "index", "build", str(write_articles(tmp_path / "a", "old", OLD, 2))).exit_code
        == 0
    )
    bot = Library(root, lambda: embedder, model_name=embedder.name)
    bot.refresh()
    assert (
        cli(
            root, other, "index", "build", "--rebuild", str(write_articles(tmp_path / "b", "new", NEW, 2))
        ).exit_code
        == 0
    )
    with pytest.raises(ModelMismatch, match="--model test/other-256"):
        bot.refresh()
    bot.close()
    assert cli(root, other, "ask", "tram line opened", "--json").exit_code == 0
    locked = Library(root, lambda: other, model_name=other.name)
    with locked.dir.writer_lock():  # another writer at work: the rebuild says so in one line
        busy = cli(root, other, "index", "build", "--rebuild", str(tmp_path / "b"))
    locked.close()
    assert busy.exit_code == 1 and busy.output.strip().splitlines()[-1].startswith(
        "Error: another newsqa process"
    )


def test_a_rebuild_that_finds_nothing_keeps_the_old_index(tmp_path: Path) -> None:
    root, embedder = tmp_path / "data", HashingEmbedder()
    assert (
        cli(root, embedder, "index", "build", str(write_articles(tmp_path / "a", "old", OLD, 2))).exit_code
        == 0
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(root, embedder, "index", "build", "--rebuild", str(empty))
    assert result.exit_code == 1 and "kept as it was" in result.output.strip().splitlines()[-1]
    lib = Library(root, lambda: embedder, model_name=embedder.name)
    assert lib.counts() == (2, 4) and top(lib, OLD) == OLD
    lib.close()
    assert not (root / "rebuild").exists()


def test_a_reader_asking_and_writing_throughout_a_rebuild_never_fails_or_loses_a_row(tmp_path: Path) -> None:
    import threading

    root, embedder = tmp_path / "data", HashingEmbedder()
    assert (
        cli(root, embedder, "index", "build", str(write_articles(tmp_path / "a", "old", OLD, 30))).exit_code
        == 0
    )
    bot = Library(root, lambda: embedder, model_name=embedder.name)
    stop, errors, seen, written = threading.Event(), [], set(), []

    def serve() -> None:
        i = 0
        while not stop.is_set():
            try:
                bot.refresh()
                seen.add(top(bot, "harbour bridge closed tram line opened"))
                ChatStore(bot.store).save_conversation(f"chat{i}", str(i))
                written.append(f"chat{i}")
                i += 1
            except Exception as exc:  # any failure is the finding
                errors.append(exc)
                return

    worker = threading.Thread(target=serve)
    worker.start()
    result = cli(
        root, embedder, "index", "build", "--rebuild", str(write_articles(tmp_path / "b", "new", NEW, 20))
    )
    bot.refresh()
    after = top(bot, "tram line opened valley")
    stop.set()
    worker.join()
    assert result.exit_code == 0, result.output
    assert not errors, errors
    assert after == NEW and seen <= {OLD, NEW, None}  # None: abstained in the instant of the swap
    bot.close()
    fresh = Library(root, lambda: embedder, model_name=embedder.name)
    assert written and all(ChatStore(fresh.store).load_conversation(c) is not None for c in written)
    fresh.close()
