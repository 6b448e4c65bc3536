"""The shipped index model, for real: its checksum, its scores against reference values recorded when it
was made, and what it answers on the seed article as the product searches with it, all-MiniLM-L6-v2
judging its abstaining (slow tier: `--model newsqa-minilm-qa`, opt-in)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS, assert_reference_scores

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.models.embedder import SentenceTransformerEmbedder
from newsqa.index.models.index_model import SHIPPED, index_model_card
from newsqa.index.models.modelparts import MINILM, file_sha256
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.storage.library import Library
from newsqa.settings import Settings
from newsqa.wiring import Wiring

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).parent / "data" / "index-model-reference.json"


@pytest.fixture(scope="module")
def own() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(SHIPPED)


def test_the_shipped_weights_match_their_checksum(own: SentenceTransformerEmbedder) -> None:
    card = index_model_card(SHIPPED)
    assert card is not None and file_sha256(card.weights) == card.sha256
    assert own.name == card.recorded and own.dim == 384


def test_scores_match_the_reference_recorded_when_it_was_made(own: SentenceTransformerEmbedder) -> None:
    assert_reference_scores(REFERENCE, own, own)


def test_it_answers_the_seed_question_and_abstains_on_the_capital_of_france(
    own: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    lib = Library(tmp_path, lambda: own, model_name=own.name)
    lib.ingest(iter_articles([SEEDS]))
    searcher = Wiring(Settings(model=SHIPPED)).searcher(lib)
    assert searcher.judge is not None and searcher.judge.name == MINILM
    qa = QuestionAnswerer(searcher)
    answer = qa.ask("Which airbase was targeted by drones shortly after midnight on Sunday?")
    assert answer.answered and answer.passages[0].sentence.startswith("Ain al-Asad airbase")
    assert not qa.ask("What is the capital of France?").answered
