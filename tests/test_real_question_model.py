"""The shipped question model, for real: its checksum, its scores against reference values recorded when
it was trained, and what it answers on the seed article (slow tier: loads MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, assert_reference_scores

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.models.modelparts import file_sha256
from newsqa.index.models.question_encoder import SHIPPED, WEIGHTS_DIR, QuestionEncoder, card
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).parent / "data" / "question-model-reference.json"


@pytest.fixture(scope="module")
def encoder() -> QuestionEncoder:
    return QuestionEncoder()


def test_the_shipped_weights_match_their_checksum() -> None:
    meta = card()
    assert file_sha256(meta.weights) == meta.sha256
    assert json.loads((WEIGHTS_DIR / f"{SHIPPED}.json").read_text())["index_model"] == meta.index_model


def test_scores_match_the_reference_recorded_at_training(encoder: QuestionEncoder, real_embedder) -> None:  # type: ignore[no-untyped-def]
    assert_reference_scores(REFERENCE, encoder, real_embedder)


def test_it_answers_the_seed_questions_and_abstains_on_the_capital_of_france(
    encoder: QuestionEncoder,
    real_embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    lib = Library(tmp_path, lambda: real_embedder, model_name=real_embedder.name)
    lib.ingest(iter_articles([SEEDS]))
    qa = QuestionAnswerer(Searcher(lib, questions=encoder))
    answer = qa.ask("Which airbase was targeted by drones shortly after midnight on Sunday?")
    assert answer.answered and answer.passages[0].sentence.startswith("Ain al-Asad airbase")
    assert not qa.ask("What is the capital of France?").answered
