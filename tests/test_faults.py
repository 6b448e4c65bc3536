"""Fault tier: damaged files (manifest, snapshot, SQLite, change log), a full disk and kill -9 at each write
step. Whatever happens, nothing committed is lost and a person sees one line, never a traceback."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import SEEDS
from fakes import HashingEmbedder

from newsqa.bot.chatstore import ChatStore
from newsqa.cli import main
from newsqa.index.storage import store as store_module
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

pytestmark = pytest.mark.fault

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path / "data"), *args],
            obj={"embedder_factory": lambda: embedder},
            catch_exceptions=False,
        )

    return invoke


def one_line_error(result: Result, *expected: str) -> str:
    """The command failed with exactly one line that names the problem, and no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    progress = ("indexing:",)  # tqdm's bar on stderr is not an error line
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith(progress)]
    assert len(lines) == 1, result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def answers_airbase(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", AIRBASE, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["passages"][0]["sentence"] == AIN


def own_sentences_found(lib: Library) -> float:
    """Share of the index's own sentences whose vector finds that very sentence first."""
    lib.refresh()
    ids = [r[0] for r in lib.store.conn.execute("SELECT id FROM sentences ORDER BY id")]
    _, found = lib.vectors.search(lib.store.vectors_for_sentences(ids, lib.dim), 1)
    return float(np.mean(found[:, 0] == np.asarray(ids)))


# -- the manifest ---------------------------------------------------------------------------------------
MANIFEST_DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    "a list": lambda raw: b"[]",
    "a key missing": lambda raw: json.dumps(
        {k: v for k, v in json.loads(raw).items() if k != "dim"}
    ).encode(),
    "a wrong type": lambda raw: json.dumps({**json.loads(raw), "snapshot_seq": "many"}).encode(),
    "not text": lambda raw: b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("damage", list(MANIFEST_DAMAGE))
def test_a_damaged_manifest_is_one_line_and_the_index_still_answers(run, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    assert run("index", "build", str(SEEDS)).exit_code == 0
    manifest = tmp_path / "data" / "manifest.json"
    manifest.write_bytes(MANIFEST_DAMAGE[damage](manifest.read_bytes()))
    one_line_error(run("index", "stats"), "manifest.json is damaged", "index repair")
    answers_airbase(run)  # SQLite is fine: the vectors come from it meanwhile
    assert run("index", "repair").exit_code == 0
    stats = run("index", "stats", "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["articles"] > 0
    answers_airbase(run)


def test_a_deleted_manifest_is_named_with_the_repair_not_called_no_index(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("index", "build", str(SEEDS)).exit_code == 0
    (tmp_path / "data" / "manifest.json").unlink()
    line = one_line_error(run("index", "stats"), "manifest.json is missing", "index repair")
    assert "no index" not in line
    answers_airbase(run)
    assert run("index", "repair").exit_code == 0
    stats = run("index", "stats", "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["articles"] > 0


# -- the snapshot -------------------------------------------------------------------------------------
def many_articles(n: int) -> list[Article]:
    return [
        Article(
            id=f"s{i}", title=f"Story {i}", text=f"Report {i} names place{i} and person{i}. Item{i} cost{i}."
        )
        for i in range(n)
    ]


def test_scrambled_floats_in_a_snapshot_are_caught_by_the_checksum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest(many_articles(150))
    lib.checkpoint(force=True)
    lib.close()
    snapshot = next(tmp_path.glob("vectors-*.faiss"))
    raw = bytearray(snapshot.read_bytes())
    lo, hi = len(raw) // 5 // 4 * 4, len(raw) * 3 // 5 // 4 * 4  # the float payload, word-aligned
    words = np.frombuffer(bytes(raw[lo:hi]), dtype=np.float32).copy()
    np.random.default_rng(7).shuffle(words)
    raw[lo:hi] = words.tobytes()
    snapshot.write_bytes(bytes(raw))

    reader = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    with caplog.at_level(logging.WARNING):
        assert own_sentences_found(reader) == 1.0
    assert any("checksum" in r.getMessage() for r in caplog.records)
    reader.close()
    # the next write puts a good snapshot back: a later reader loads it without complaint
    writer = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    writer.ingest(many_articles(1))
    writer.close()
    caplog.clear()
    again = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    with caplog.at_level(logging.WARNING):
        assert own_sentences_found(again) == 1.0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    again.close()


def test_a_snapshot_of_the_wrong_shape_is_rebuilt(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest(many_articles(20))
    lib.close()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    other = HashingEmbedder(dim=64)  # a snapshot of another index put in its place
    elsewhere = Library(tmp_path / "other", lambda: other, model_name=other.name)
    elsewhere.ingest(many_articles(3))
    elsewhere.close()
    (tmp_path / manifest["snapshot"]).write_bytes(next((tmp_path / "other").glob("*.faiss")).read_bytes())
    manifest["snapshot_sha256"] = None  # even without a checksum, the dimension and count give it away
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    reader = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    assert own_sentences_found(reader) == 1.0
    reader.close()


# -- the change log -----------------------------------------------------------------------------------
def test_a_damaged_change_log_is_caught_on_load(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest(many_articles(10))
    lib.ingest(many_articles(12))  # two more, replayed from the log after the snapshot
    with lib.store.transaction():
        lib.store.conn.execute("DELETE FROM changes WHERE seq = (SELECT MAX(seq) FROM changes)")  # lost
        lib.store.conn.execute("INSERT INTO changes(op, sentence) VALUES(1, 999999)")  # invented
    lib.close()
    reader = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    assert own_sentences_found(reader) == 1.0
    assert len(reader.vectors) == reader.counts()[1]
    reader.close()


# -- the database ----------------------------------------------------------------------------------------
SQLITE_DAMAGE = {
    "a scrambled header": lambda raw: b"\x13" * 100 + raw[100:],
    "truncated": lambda raw: raw[: len(raw) // 3],
    "empty pages": lambda raw: raw[:8192] + b"\x00" * (len(raw) - 8192),
}


@pytest.mark.parametrize("damage", list(SQLITE_DAMAGE))
def test_a_damaged_database_is_one_line_naming_the_rebuild(run, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    assert run("index", "build", str(SEEDS)).exit_code == 0
    db = tmp_path / "data" / "newsqa.sqlite"
    db.write_bytes(SQLITE_DAMAGE[damage](db.read_bytes()))
    for command in (("index", "stats"), ("ask", AIRBASE), ("index", "add", str(SEEDS)), ("index", "repair")):
        one_line_error(run(*command), "newsqa.sqlite is damaged", "index build --rebuild")
    # and the rebuild gets a working index back
    assert run("index", "build", "--rebuild", str(SEEDS)).exit_code == 0
    answers_airbase(run)


# -- a full disk ------------------------------------------------------------------------------------------
def test_a_full_disk_is_one_line_and_nothing_is_written(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    assert run("index", "build", str(SEEDS)).exit_code == 0
    before = json.loads(run("index", "stats", "--json").stdout)
    real_connect = store_module.connect

    def almost_full(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
        conn = real_connect(path, readonly=readonly)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages + 1}")  # SQLITE_FULL on the next growth
        return conn

    monkeypatch.setattr(store_module, "connect", almost_full)
    big = tmp_path / "big.jsonl"
    big.write_text(
        "\n".join(
            json.dumps({"id": f"big{i}", "title": f"Big {i}", "text": f"Word{i} filler. " * 400})
            for i in range(40)
        )
    )
    one_line_error(run("index", "add", str(big)), "disk full: nothing was written")
    monkeypatch.undo()
    after = json.loads(run("index", "stats", "--json").stdout)
    assert (after["articles"], after["sentences"]) == (before["articles"], before["sentences"])
    answers_airbase(run)


# -- stats ------------------------------------------------------------------------------------------------
def test_stats_counts_come_from_the_database_not_a_lagging_manifest(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("index", "build", str(SEEDS)).exit_code == 0
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    with lib.store.transaction():  # committed, then a crash before the manifest was rewritten
        rowid = lib.store.insert_article(Article(id="late", title="Late", text="Late news. More of it."))
        lib.store.conn.execute("UPDATE articles SET rowid=rowid WHERE rowid=?", (rowid,))
    articles, sentences = lib.counts()
    lib.close()
    stats = json.loads(run("index", "stats", "--json").stdout)
    assert (stats["articles"], stats["sentences"]) == (articles, sentences)


# -- kill -9 at each write step ----------------------------------------------------------------------------
KILL_AT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from fakes import HashingEmbedder
    from newsqa.bot import chatstore
    from newsqa.index.storage import datadir, store
    from newsqa.index.text.article import Article
    from newsqa.index.storage.library import Library
    root, step = Path(sys.argv[1]), sys.argv[2]

    def kill_on(owner, name, n=1, test=lambda *a: True):
        real, calls = getattr(owner, name), [0]
        def wrapper(*args, **kwargs):
            if test(*args):
                calls[0] += 1
                if calls[0] == n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        setattr(owner, name, wrapper)

    steps = {{
        "while embedding": lambda: kill_on(HashingEmbedder, "embed"),
        "between two articles of a transaction": lambda: kill_on(store.Store, "insert_sentences", 2),
        "before the snapshot is renamed": lambda: kill_on(
            datadir.os, "replace", test=lambda src, dst: str(dst).endswith(".faiss")),
        "before the manifest is written": lambda: kill_on(
            datadir, "atomic_write_bytes", test=lambda path, data: path.name == "manifest.json"),
        "before the change log is truncated": lambda: kill_on(store.Store, "truncate_changes"),
        "while expiring old rows": lambda: kill_on(chatstore.ChatStore, "expire"),
    }}
    steps[step]()
    e = HashingEmbedder()
    lib = Library(root, lambda: e, model_name=e.name, snapshot_every=1)
    text = "New sentence {{0}} one. New two {{0}}."
    new = [Article(id=f"new{{i}}", title=f"new {{i}}", text=text.format(i)) for i in range(4)]
    lib.ingest(new, batch_articles=2)
    chatstore.ChatStore(lib.store).expire()  # what the bot does as it writes its own rows
    print("not killed", flush=True)
    """
)
KILL_STEPS = [
    "while embedding",
    "between two articles of a transaction",
    "before the snapshot is renamed",
    "before the manifest is written",
    "before the change log is truncated",
    "while expiring old rows",
]


@pytest.mark.parametrize("step", KILL_STEPS)
def test_kill_9_at_each_write_step_loses_nothing_committed(run, tmp_path: Path, step: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    embedder = HashingEmbedder()
    lib = Library(root, lambda: embedder, model_name=embedder.name)
    old = [
        Article(id=f"old{i}", title=f"old {i}", text=f"Old sentence {i} one. Old two {i}.") for i in range(3)
    ]
    lib.ingest(old)
    ChatStore(lib.store).save_conversation("chat", "kept")
    lib.close()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT.format(tests=str(Path(__file__).parent)), str(root), step],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr

    after = Library(root, lambda: embedder, model_name=embedder.name)
    ids = set(after.store.article_ids())
    assert {a.id for a in old} <= ids  # committed before the kill: still there
    assert ids - {a.id for a in old} in ({"new0", "new1"}, {"new0", "new1", "new2", "new3"}, set())
    assert own_sentences_found(after) == 1.0 and len(after.vectors) == after.counts()[1]
    assert ChatStore(after.store).load_conversation("chat") == "kept"
    after.close()
    stats = run("index", "stats", "--json")
    assert stats.exit_code == 0 and json.loads(stats.stdout)["articles"] == len(ids)
    # damage on top of what the kill left: still one line, still repairable from SQLite
    (root / "manifest.json").write_bytes((root / "manifest.json").read_bytes()[:7])
    one_line_error(run("index", "stats"), "manifest.json is damaged")
    assert run("index", "repair").exit_code == 0
    assert json.loads(run("index", "stats", "--json").stdout)["articles"] == len(ids)


def test_a_full_disk_while_writing_the_snapshot_is_one_line_and_the_articles_stay(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import errno

    from newsqa.index.storage import vectors

    assert run("index", "build", str(SEEDS)).exit_code == 0

    def no_space(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(vectors, "atomic_write_bytes", no_space)
    one_line_error(run("index", "repair"), "disk full while writing vectors-", "index repair")
    monkeypatch.undo()
    assert not list((tmp_path / "data").glob("*.tmp"))
    assert run("index", "repair").exit_code == 0
    answers_airbase(run)


def test_an_index_that_never_held_an_article_loads_without_complaint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest([])  # a build of an empty folder: a snapshot, and no dimension recorded yet
    lib.close()
    again = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    with caplog.at_level(logging.WARNING):
        again.refresh()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    again.close()
