"""A write interrupted at any step leaves an index that opens, is consistent, and holds old or new state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from newsqa.index.storage import datadir, store, vectors
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


class Boom(Exception):
    pass


def articles(prefix: str, n: int) -> list[Article]:
    return [
        Article(
            id=f"{prefix}{i}", title=f"{prefix} {i}", text=f"{prefix} sentence {i} one. And {prefix} two {i}."
        )
        for i in range(n)
    ]


def check(root: Path, embedder: HashingEmbedder, allowed: set[tuple[int, int]]) -> None:
    lib = Library(root, lambda: embedder, model_name=embedder.name)
    lib.refresh()
    counts = lib.counts()
    assert counts in allowed
    n_sent = lib.store.conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
    assert len(lib.vectors) == n_sent
    fts = lib.store.conn.execute(
        "SELECT COUNT(*) FROM sentences_fts WHERE sentences_fts MATCH 'one'"
    ).fetchone()[0]
    assert fts == n_sent // 2
    # and the index still takes writes afterwards
    lib.ingest(articles("after", 1))
    assert len(lib.vectors) == n_sent + 2
    lib.close()


def half_write_then_crash(path: Path, data: bytes) -> None:
    path.with_name(path.name + ".crash.tmp").write_bytes(data[: len(data) // 2])  # what a crash leaves
    raise Boom("mid-write")


def fail_on_second_call(real):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise Boom("second call")
        return real(*args, **kwargs)

    return wrapper


def raise_boom(*args: object, **kwargs: object) -> None:
    raise Boom("interrupted")


# step name -> (object, attribute, replacement factory)
STEPS = {
    "while embedding": (HashingEmbedder, "embed", lambda real: raise_boom),
    "between two articles of a transaction": (store.Store, "insert_sentences", fail_on_second_call),
    "while writing the FAISS snapshot": (vectors, "atomic_write_bytes", lambda real: half_write_then_crash),
    "while writing the manifest": (datadir, "atomic_write_bytes", lambda real: half_write_then_crash),
    "before truncating the change log": (store.Store, "truncate_changes", lambda real: raise_boom),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_interrupted_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, snapshot_every=1)
    lib.ingest(articles("old", 3))
    owner, name, make = STEPS[step]
    monkeypatch.setattr(owner, name, make(getattr(owner, name)))
    replacement = Article(id="old0", title="old 0", text="Replaced one. Replaced two.")
    with pytest.raises(Boom):
        lib.ingest([*articles("new", 3), replacement], batch_articles=2)
    monkeypatch.undo()
    lib.close()
    # old state (3 articles) or new (6), or the first committed batch of two (5, one of them new): never torn
    check(tmp_path, embedder, {(3, 6), (5, 10), (6, 12)})


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from fakes import HashingEmbedder
    from newsqa.index.text.article import Article
    from newsqa.index.storage.library import Library
    e = HashingEmbedder()
    lib = Library({root!r}, lambda: e, model_name=e.name, snapshot_every=50)
    i = 0
    while True:
        text = "Kill test sentence {{0}} here. Second {{0}}."
        batch = [Article(id=f"k{{i + j}}", title="t", text=text.format(i + j)) for j in range(20)]
        lib.ingest(batch, batch_articles=7)
        if i % 60 == 0:
            lib.remove([f"k{{i - 20 + j}}" for j in range(5)])
        i += 20
        print(i, flush=True)
    """
)


def test_kill_9_at_random_moments_leaves_a_consistent_index(tmp_path: Path) -> None:
    root = tmp_path / "data"
    script = WRITER.format(tests=str(Path(__file__).parent), root=str(root))
    embedder = HashingEmbedder()
    for delay in (0.0, 0.05, 0.13, 0.31, 0.5):
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # it has committed at least once: kill it somewhere in the next writes
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
        lib = Library(root, lambda: embedder, model_name=embedder.name)
        lib.refresh()
        n_sent = lib.store.conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
        assert n_sent > 0
        assert len(lib.vectors) == n_sent
        orphans = lib.store.conn.execute(
            "SELECT COUNT(*) FROM sentences s LEFT JOIN embeddings e ON e.text_hash = s.text_hash"
            " WHERE e.vector IS NULL"
        ).fetchone()[0]
        assert orphans == 0
        lib.close()
