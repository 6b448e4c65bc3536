"""The pipelined ingest (embedding overlapped with planning and writing) keeps the sequential semantics."""

from __future__ import annotations

from pathlib import Path

from fakes import HashingEmbedder

from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


def test_texts_shared_across_batches_in_flight_are_embedded_once(
    library: Library, embedder: HashingEmbedder
) -> None:
    # one headline for all: a sentence is embedded with its headline (index/text/context.py)
    shared = "Harbour walls were raised after the storm. "
    arts = [
        Article(id=f"a{i}", title="Harbour", text=shared + f"Unique line {i} about item{i}.")
        for i in range(9)
    ]
    report = library.ingest(arts, batch_articles=2)
    assert report.added + len(report.copies) == 9
    assert embedder.texts_embedded == report.embedded == 1 + report.added
    assert report.sentences == 2 * report.added
    ids = {r[0] for r in library.store.conn.execute("SELECT id FROM sentences")}
    assert len(library.vectors) == len(ids)


def test_an_article_repeated_in_later_batches_ends_in_its_last_version(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, copy_threshold=None)
    first = Article(id="x", title="x", text="Version one of the story. It rained.")
    same = Article(id="x", title="x", text="Version one of the story. It rained.")
    last = Article(id="x", title="x", text="Version two of the story. It snowed.")
    fillers = [Article(id=f"f{i}", title="f", text=f"Filler {i} text here.") for i in range(5)]
    report = lib.ingest([first, *fillers[:2], same, *fillers[2:], last], batch_articles=2)
    assert (report.added, report.unchanged, report.updated) == (6, 1, 1)
    stored = lib.store.find_article("x")
    assert stored is not None and "snowed" in stored.text
    rows = lib.store.conn.execute(
        "SELECT text FROM sentences WHERE article=? ORDER BY position", (stored.rowid,)
    ).fetchall()
    assert [r[0] for r in rows] == ["Version two of the story.", "It snowed."]
    assert len(lib.vectors) == lib.counts()[1]
    lib.close()
