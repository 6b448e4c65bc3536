"""newsqa's own question model: how search uses it, when the wiring loads it, and a damaged copy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder
from test_rerank import QUESTION, STORY  # the same story: a model that knows the answer reorders it

from newsqa.index.models.modelparts import InstallError
from newsqa.index.models.question_encoder import PAIRS_WITH, SHIPPED, WEIGHTS_DIR, card, load_trained_state
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.settings import Settings
from newsqa.wiring import Wiring

OPTIONS = SearchOptions(min_confidence=0.0, cue_weight=0.0, lexical_weight=0.0, paragraph_weight=0.0)


class AnswerAware:
    """A "trained" question model: it puts every question where the sentence about dredging lies."""

    name = "test/answer-aware"

    def __init__(self, index_model: HashingEmbedder) -> None:
        self.index_model = HashingEmbedder(index_model.dim, index_model.name)  # the same space, own counts
        self.dim = index_model.dim
        self.asked: list[str] = []

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.asked.extend(texts)
        return self.index_model.embed(
            ["Harbour budget. Spending on dredging rises to four million pounds."] * len(texts)
        )


def test_search_embeds_the_question_with_the_question_model(
    library: Library, embedder: HashingEmbedder
) -> None:
    library.ingest([STORY])
    plain = Searcher(library, OPTIONS).rank(QUESTION)
    assert "dredging" not in plain.rows[plain.hits[0].id].text  # the index model prefers shared words
    before = embedder.texts_embedded
    model = AnswerAware(embedder)
    trained = Searcher(library, OPTIONS, questions=model).rank(QUESTION)
    assert "dredging" in trained.rows[trained.hits[0].id].text
    assert model.asked == [QUESTION]
    # the index model embeds the question once more, to judge whether to answer on the scale the
    # threshold was measured on: the same sentences judged alike whichever model ranked them
    assert embedder.texts_embedded == before + 1
    assert trained.confidence == pytest.approx(plain.confidence)
    # the sentences keep the index's vectors: the same candidates, only the question moved
    assert {h.id for h in trained.hits} == {h.id for h in plain.hits}


def test_the_question_model_is_used_only_with_the_index_model_it_was_trained_against(tmp_path: Path) -> None:
    assert Wiring(Settings(data_dir=tmp_path, question_model=None)).question_encoder() is None
    assert Wiring(Settings(data_dir=tmp_path, model="all-mpnet-base-v2")).question_encoder() is None
    assert Wiring(Settings(data_dir=tmp_path), lambda: HashingEmbedder()).question_encoder() is None
    assert Settings().question_model == SHIPPED and card().index_model == PAIRS_WITH


def test_the_evaluations_keep_the_question_model(library: Library, embedder: HashingEmbedder) -> None:
    from newsqa.evaluation.runner import never_abstaining

    model = AnswerAware(embedder)
    assert never_abstaining(Searcher(library, OPTIONS, questions=model)).searcher.questions is model


def test_the_shipped_manifest_names_weights_within_the_size_limit() -> None:
    meta = card()
    assert meta.weights.parent == WEIGHTS_DIR and meta.weights.is_file()
    assert meta.weights.stat().st_size < 50 * 1024 * 1024
    assert len(meta.sha256) == 64


def _copy_shipped(tmp_path: Path) -> Path:
    meta = card()
    shutil.copy(meta.weights, tmp_path / meta.weights.name)
    shutil.copy(WEIGHTS_DIR / f"{SHIPPED}.json", tmp_path / f"{SHIPPED}.json")
    return tmp_path / f"{SHIPPED}.json"


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_damaged_copy_is_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    manifest = _copy_shipped(tmp_path)
    weights = card(str(manifest)).weights
    data = weights.read_bytes()
    weights.write_bytes({"truncate": data[: len(data) // 2], "flip": data[:-1] + b"\0", "empty": b""}[damage])
    with pytest.raises(InstallError) as err:
        load_trained_state(card(str(manifest)))
    assert "damaged" in str(err.value) and "\n" not in str(err.value)


def test_a_missing_or_unreadable_manifest_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="cannot read"):
        card("nope", tmp_path)
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InstallError, match="cannot read"):
        card("bad", tmp_path)
    manifest = _copy_shipped(tmp_path)
    meta = json.loads(manifest.read_text())
    (tmp_path / meta["weights"]).unlink()
    with pytest.raises(InstallError, match="cannot read"):
        load_trained_state(card(str(manifest)))
