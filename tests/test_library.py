"""Store + vectors + change log: add, replace, remove, skip unchanged, reopen, readers, snapshots."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import SEEDS
from fakes import HashingEmbedder

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.datadir import IndexLocked, ModelMismatch
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article, LoadProblem

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


def top_sentence(lib: Library, query: str) -> str | None:
    searcher = Searcher(lib)
    ranking = searcher.rank(query)
    passages = searcher.passages(ranking, k=1)
    return passages[0].sentence if passages else None


def consistent(lib: Library) -> None:
    """Every live sentence has exactly one vector and no vector points at a missing sentence."""
    lib.refresh()
    ids = {r[0] for r in lib.store.conn.execute("SELECT id FROM sentences")}
    assert len(lib.vectors) == len(ids)
    if ids:
        _, found = lib.vectors.search(lib.store.vectors_for_sentences(sorted(ids)[:5], lib.dim), 1)
        assert set(found[:, 0].tolist()) <= ids


def article(i: int, text: str | None = None) -> Article:
    return Article(
        id=f"a{i}",
        title=f"Story {i}",
        text=text or f"Story number {i} is about topic{i}. It has a second sentence about item{i}.",
    )


def test_seed_ingest_and_search(library: Library) -> None:
    report = library.ingest(iter_articles([SEEDS]))
    assert (report.added, report.updated, report.unchanged, report.skipped) == (1, 0, 0, [])
    assert report.sentences >= 10
    assert top_sentence(library, AIRBASE) == (
        "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."
    )
    consistent(library)


def test_unchanged_articles_are_skipped_without_embedding(
    library: Library, embedder: HashingEmbedder
) -> None:
    library.ingest([article(1), article(2)])
    texts_before = embedder.texts_embedded
    report = library.ingest([article(1), article(2)])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)
    assert embedder.texts_embedded == texts_before


def test_identical_sentences_are_embedded_once(library: Library, embedder: HashingEmbedder) -> None:
    # a sentence is embedded with its headline (index/text/context.py): copies of a wire story share both
    same = "The same wire sentence appears in both copies."
    first, second = article(1, same + " First outlet adds this."), article(2, same + " Second adds that.")
    report = library.ingest([first, dataclasses.replace(second, title=first.title)])
    assert report.sentences == 4 and report.embedded == 3


def test_replace_changed_article(library: Library) -> None:
    library.ingest([article(1, "Zebras escaped from the city zoo on Friday.")])
    report = library.ingest([article(1, "Giraffes escaped from the city zoo on Friday.")])
    assert (report.added, report.updated) == (0, 1)
    assert library.counts() == (1, 1)
    assert top_sentence(library, "giraffes escaped zoo") == "Giraffes escaped from the city zoo on Friday."
    assert top_sentence(library, "zebras") != "Zebras escaped from the city zoo on Friday."
    consistent(library)


def test_remove_articles(library: Library) -> None:
    library.ingest([article(1), article(2)])
    removed, missing = library.remove(["a1", "nope"])
    assert removed == ["a1"] and missing == ["nope"]
    assert library.counts() == (1, 2)
    assert library.store.find_article("a1") is None
    consistent(library)
    # vectors of removed sentences are pruned, the others kept
    assert library.store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 2


def test_duplicate_id_within_one_batch_last_wins(library: Library) -> None:
    report = library.ingest([article(1, "First version of it."), article(1, "Second version of it.")])
    assert report.added == 1 and report.updated == 1
    assert library.counts() == (1, 1)


def test_problems_are_counted_and_run_goes_on(library: Library) -> None:
    items: list[Article | LoadProblem] = [LoadProblem("bad.json:3", "invalid JSON"), article(1)]
    items.append(Article(id="empty", title="t", text="   \n  "))
    report = library.ingest(items)
    assert report.added == 1
    assert sorted(p.reason for p in report.skipped) == ["invalid JSON", "no text to index"]
    assert "2 skipped" in report.summary()


def test_reopen_gives_same_results(tmp_path: Path, embedder: HashingEmbedder) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest(iter_articles([SEEDS]))
    before = top_sentence(lib, AIRBASE)
    lib.close()
    again = Library(tmp_path, lambda: embedder, model_name=embedder.name, readonly=True)
    assert top_sentence(again, AIRBASE) == before
    consistent(again)


@pytest.mark.parametrize("snapshot_every", [1, 3, 1000])
def test_snapshot_then_replay_matches_rebuild(
    tmp_path: Path, embedder: HashingEmbedder, snapshot_every: int
) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, snapshot_every=snapshot_every)
    for i in range(6):
        lib.ingest([article(i)])
    lib.remove(["a2"])
    lib.ingest([article(3, "Story three was rewritten entirely. Nothing else remains.")])
    expected = lib.counts()
    lib.close()
    fresh = Library(tmp_path, lambda: embedder, model_name=embedder.name, readonly=True)
    assert fresh.counts() == expected
    consistent(fresh)
    assert top_sentence(fresh, "rewritten entirely") == "Story three was rewritten entirely."
    assert len(list(tmp_path.glob("vectors-*.faiss"))) == 1


def test_reader_follows_writer(tmp_path: Path, embedder: HashingEmbedder) -> None:
    writer = Library(tmp_path, lambda: embedder, model_name=embedder.name, snapshot_every=2)
    writer.ingest([article(1)])
    reader = Library(tmp_path, lambda: embedder, model_name=embedder.name, readonly=True)
    assert top_sentence(reader, "topic1") is not None
    for i in range(2, 7):  # several snapshots and log truncations happen behind the reader's back
        writer.ingest([article(i)])
    writer.remove(["a1"])
    reader.refresh()
    consistent(reader)
    assert reader.counts() == writer.counts()
    assert top_sentence(reader, "topic6") == "Story number 6 is about topic6."


def test_other_model_is_refused_with_rebuild_hint(tmp_path: Path, embedder: HashingEmbedder) -> None:
    Library(tmp_path, lambda: embedder, model_name=embedder.name).ingest([article(1)])
    other = HashingEmbedder(name="other/model")
    with pytest.raises(ModelMismatch, match="rebuild"):
        Library(tmp_path, lambda: other, model_name=other.name)


def test_one_writer_at_a_time(tmp_path: Path, embedder: HashingEmbedder) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    with lib.dir.writer_lock(), pytest.raises(IndexLocked), lib.dir.writer_lock():
        pass


def test_damaged_snapshot_is_rebuilt_from_database(tmp_path: Path, embedder: HashingEmbedder) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    lib.ingest([article(1), article(2)])
    lib.close()
    (snap,) = tmp_path.glob("vectors-*.faiss")
    snap.write_bytes(snap.read_bytes()[:100])  # truncated, as by a broken disk
    fresh = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    consistent(fresh)
    assert np.isfinite(fresh.vectors.search(embedder.embed(["topic1"]), 1)[0]).all()
