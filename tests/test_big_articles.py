"""A huge article is embedded in bounded calls with progress, commits its vectors as it goes, and still
appears all at once (or not at all); a huge run without punctuation becomes bounded sentences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article
from newsqa.index.text.sentences import MAX_SENTENCE_CHARS, split_sentences


class Boom(Exception):
    pass


class RecordingEmbedder(HashingEmbedder):
    """Remembers each call's size; fails at call `fail_at` (1-based) when set."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.fail_at = fail_at

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if self.fail_at is not None and len(self.sizes) + 1 == self.fail_at:
            raise Boom("the machine went down")
        self.sizes.append(len(texts))
        return super().embed(texts, progress=progress)


def huge(n: int, article_id: str = "huge") -> Article:
    text = " ".join(f"Sentence {i} says that item{i} costs {i} pounds." for i in range(n))
    return Article(id=article_id, title="A very long story", text=text)


def test_a_huge_article_is_embedded_in_bounded_calls_with_progress(tmp_path: Path) -> None:
    embedder = RecordingEmbedder()
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, embed_chunk=100)
    ticks: list[int] = []
    report = lib.ingest([huge(1050)], on_embedded=ticks.append)
    assert report.added == 1 and report.sentences == report.embedded == 1050
    assert max(embedder.sizes) <= 100 and sum(embedder.sizes) == 1050
    assert len(ticks) == len(embedder.sizes) and sum(ticks) == 1050
    lib.close()


def test_a_crash_inside_a_huge_article_shows_none_of_it_and_keeps_the_work_done(tmp_path: Path) -> None:
    embedder = RecordingEmbedder(fail_at=6)
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, embed_chunk=100)
    with pytest.raises(Boom):
        lib.ingest([huge(1050)])
    assert lib.counts() == (0, 0)  # no half article, to readers or anyone
    kept = lib.store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert kept == 500  # five chunks were committed before the crash
    embedder.fail_at = None
    before = sum(embedder.sizes)
    report = lib.ingest([huge(1050)])
    assert report.added == 1 and lib.counts() == (1, 1050)
    assert sum(embedder.sizes) - before == 550  # only what was not done yet
    assert len(lib.vectors) == 1050
    lib.close()


def test_a_megabyte_without_punctuation_becomes_bounded_sentences() -> None:
    for text in ("word " * 400_000, "x" * 2_000_000, "— " * 500_000):
        sentences = split_sentences(text)
        assert max(s.end - s.start for s in sentences) <= MAX_SENTENCE_CHARS
        assert "".join("".join(text[s.start : s.end].split()) for s in sentences) == "".join(text.split())


def test_build_progress_counts_sentences(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("A long story\n" + huge(3000).text, encoding="utf-8")
    embedder = HashingEmbedder()
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "data"), "index", "build", str(path)],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "3000 sentences" in result.stderr and "1 articles" in result.stderr, result.stderr
