"""A link in an added or watched folder to a file outside it is not followed unless asked: a memo
outside the folder was indexed and quoted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.ingest.watch import FolderWatcher
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article, LoadProblem

MEMO = "Memo\nThe board will cut the pension fund by half in March.\n"


@pytest.fixture
def news(tmp_path: Path) -> Path:
    """news/ with a story, a link to a story inside it and a link to a private memo outside it."""
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "memo.txt").write_text(MEMO)
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "zoo.txt").write_text("Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    (folder / "sub" / "dam.txt").write_text("Dam news\nThe new dam opened on Monday after ten years.\n")
    (folder / "dam-link.txt").symlink_to(folder / "sub" / "dam.txt")
    (folder / "memo.txt").symlink_to(tmp_path / "private" / "memo.txt")
    (folder / "relative.txt").symlink_to(Path("..") / "private" / "memo.txt")
    return folder


def test_links_leaving_the_folder_are_problems_not_articles(news: Path) -> None:
    items = list(iter_articles([news]))
    titles = sorted(a.title for a in items if isinstance(a, Article))
    assert titles == ["Dam news", "Dam news", "Zoo news"]  # the link inside the folder is fine
    problems = sorted(Path(p.where).name for p in items if isinstance(p, LoadProblem))
    assert problems == ["memo.txt", "relative.txt"]
    followed = [a.title for a in iter_articles([news], follow_links=True) if isinstance(a, Article)]
    assert followed.count("Memo") == 2


def test_a_watched_folder_does_not_index_a_memo_linked_from_outside(tmp_path: Path, news: Path) -> None:
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    try:
        report = FolderWatcher(lib, news).scan(now=time.time() + 10)
        assert report.ingest is not None and report.ingest.added == 2  # the dam's link: the same article
        texts = [r[0] for r in lib.store.conn.execute("SELECT text FROM articles")]
        assert not any("pension" in t for t in texts)
    finally:
        lib.close()


def test_index_add_skips_the_link_and_follows_it_when_asked(tmp_path: Path, news: Path) -> None:
    embedder = HashingEmbedder()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            main, ["--data-dir", str(tmp_path / "data"), *args], obj={"embedder_factory": lambda: embedder}
        )

    added = run("index", "add", str(news))
    assert added.exit_code == 3, added.output  # something asked for was not indexed (README, exit codes)
    assert "outside the folder" in added.output
    stats = run("index", "stats", "--list")
    assert "Memo" not in stats.output and "memo.txt" not in stats.output
    followed = run("index", "add", str(news), "--follow-links")
    assert followed.exit_code == 0, followed.output
    assert "memo.txt" in run("index", "stats", "--list").output
