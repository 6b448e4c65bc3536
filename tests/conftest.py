from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))  # test helpers (fakes, botapi_stub, web_fixture) import as top-level modules

from fakes import HashingEmbedder  # noqa: E402

from newsqa.index.storage.library import Library  # noqa: E402

SEEDS = ROOT / "seeds"


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def library(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Library]:
    lib = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The packaged all-MiniLM-L6-v2, loaded once per test session (slow tier only)."""
    from newsqa.index.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()
