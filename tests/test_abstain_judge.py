"""The abstain judge: where the index model's cosines are not on the threshold's scale (newsqa's own index
model), a judge model reads the question and the first candidates afresh, and abstaining is decided on
its cosines; ranking is left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsqa.index.models.index_model import KIND, index_model_card
from newsqa.index.models.modelparts import MINILM, file_sha256
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.search.rerank import Reranker
from newsqa.index.storage.library import Library
from newsqa.settings import Settings
from newsqa.wiring import Wiring
from tests.test_rerank import QUESTION, STORY, KeywordEmbedder

OPTIONS = SearchOptions(min_confidence=0.5, cue_weight=0.0)


def test_the_judges_cosines_decide_abstaining_and_the_ranking_stays(library: Library) -> None:
    library.ingest([STORY])
    plain = Searcher(library, OPTIONS).rank(QUESTION)
    assert plain.hits  # the index model's cosines: confident enough
    blind = KeywordEmbedder("absent")  # a judge finding no candidate near the question
    judged = Searcher(library, OPTIONS, judge=Reranker(blind)).rank(QUESTION)
    assert not judged.hits and judged.confidence < plain.confidence
    # it read the question and the first candidates as the index embeds them: with their headline
    assert blind.embedded[0] == QUESTION
    assert blind.embedded[1:] and all(t.startswith("Harbour budget. ") for t in blind.embedded[1:])
    sure = Searcher(library, OPTIONS, judge=Reranker(KeywordEmbedder("harbour"))).rank(QUESTION)
    assert [h.id for h in sure.hits] == [h.id for h in plain.hits]  # the order is the index model's
    assert sure.confidence > plain.confidence


def test_the_evaluations_keep_the_judge(library: Library) -> None:
    from newsqa.evaluation.runner import never_abstaining

    judge = Reranker(KeywordEmbedder("x"))
    assert never_abstaining(Searcher(library, OPTIONS, judge=judge)).searcher.judge is judge


def _manifest(folder: Path, judge: str | None) -> Path:
    weights = folder / "fresh.safetensors"
    weights.write_bytes(b"not really tensors")
    meta = {"weights": weights.name, "sha256": file_sha256(weights), "kind": KIND, "min_confidence": 0.42}
    if judge is not None:
        meta["abstain_judge"] = judge
    path = folder / "fresh.json"
    path.write_text(json.dumps(meta), encoding="utf-8")
    return path


def test_the_manifest_names_the_judge_and_the_wiring_loads_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newsqa.index.models.embedder as embedder_module

    loaded: list[str] = []

    def fake(spec: str, **_: object) -> KeywordEmbedder:
        loaded.append(spec)
        return KeywordEmbedder("x")

    monkeypatch.setattr(embedder_module, "SentenceTransformerEmbedder", fake)
    path = _manifest(tmp_path, MINILM)
    card = index_model_card(str(path))
    assert card is not None and card.judge == MINILM
    # models_dir: this test's own, so the process-wide cache of shared models holds this fake nowhere else
    wiring = Wiring(Settings(data_dir=tmp_path, model=str(path), models_dir=tmp_path))
    judge = wiring.abstain_judge()
    assert judge is not None and wiring.abstain_judge() is judge and loaded == [MINILM]
    assert Wiring(Settings(data_dir=tmp_path)).abstain_judge() is None  # all-MiniLM-L6-v2 judges itself
    other = tmp_path / "unjudged"
    other.mkdir()
    unjudged = Wiring(Settings(data_dir=tmp_path, model=str(_manifest(other, None)), models_dir=tmp_path))
    assert unjudged.abstain_judge() is None
