"""newsqa's own index model: how it is named, recorded and refused, its abstain threshold, and a tiny real
training run on both sides (a two-layer BERT, on the CPU in seconds) whose saved weights reload to the
same vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from newsqa.index.models.embedder import DEFAULT_MODEL, model_name
from newsqa.index.models.index_model import KIND, SHIPPED, index_model_card, load_index_state
from newsqa.index.models.modelparts import MINILM, InstallError, file_sha256
from newsqa.settings import Settings
from newsqa.training.config import IndexTrainConfig
from newsqa.wiring import Wiring
from tests.test_training import _topic_examples, unit_vectors


def _manifest(folder: Path, name: str, *, kind: str = KIND, threshold: float | None = 0.5) -> Path:
    weights = folder / f"{name}.safetensors"
    weights.write_bytes(b"not really tensors")
    meta = {"weights": weights.name, "sha256": file_sha256(weights), "min_confidence": threshold}
    if kind:
        meta["kind"] = kind
    path = folder / f"{name}.json"
    path.write_text(json.dumps(meta), encoding="utf-8")
    return path


def test_the_shipped_index_model_is_recorded_with_its_weights() -> None:
    card = index_model_card(SHIPPED)
    assert card is not None and DEFAULT_MODEL == MINILM  # opt-in (docs/model.md)
    assert model_name(SHIPPED) == card.recorded == f"{SHIPPED}@{card.sha256[:12]}"
    assert card.weights.is_file() and file_sha256(card.weights) == card.sha256
    assert card.min_confidence is not None  # measured for its own cosines (docs/model.md)
    assert model_name(card.recorded) == card.recorded  # what an index records names it again
    assert model_name("all-MiniLM-L6-v2") == MINILM and index_model_card(MINILM) is None


def test_weights_an_index_was_built_with_but_no_longer_installed_are_one_line_naming_a_rebuild() -> None:
    with pytest.raises(InstallError, match="index build --rebuild"):
        index_model_card(f"{SHIPPED}@000000000000")


def test_a_just_trained_manifest_is_an_index_model_and_another_models_manifest_is_refused(
    tmp_path: Path,
) -> None:
    card = index_model_card(str(_manifest(tmp_path, "fresh", threshold=0.61)))
    assert card is not None and card.name == "fresh" and card.min_confidence == 0.61
    with pytest.raises(InstallError, match="not an index model"):
        index_model_card(str(_manifest(tmp_path, "question", kind="")))


def test_damaged_weights_are_one_line_before_any_model_loads(tmp_path: Path) -> None:
    path = _manifest(tmp_path, "fresh")
    (tmp_path / "fresh.safetensors").write_bytes(b"changed")
    card = index_model_card(str(path))
    assert card is not None
    with pytest.raises(InstallError, match="damaged"):
        load_index_state(card)


def test_an_index_of_replaced_weights_is_opened_with_the_installed_ones_so_a_rebuild_uses_them() -> None:
    from newsqa.index.models.index_model import followed_spec

    card = index_model_card(SHIPPED)
    assert card is not None
    assert followed_spec(card.recorded) == card.recorded
    assert followed_spec(f"{SHIPPED}@000000000000") == SHIPPED
    assert followed_spec(MINILM) == MINILM


def test_search_abstains_at_the_threshold_measured_for_the_index_model(tmp_path: Path) -> None:
    shipped = index_model_card(SHIPPED)
    assert shipped is not None
    own = Wiring(Settings(model=SHIPPED))
    # all-MiniLM-L6-v2 judges its abstaining, so the threshold measured on all-MiniLM-L6-v2's cosines holds
    assert shipped.judge == MINILM and own.search_options().min_confidence == shipped.min_confidence == 0.42
    mine = Wiring(Settings(model=SHIPPED, min_confidence=0.3))
    assert mine.search_options().min_confidence == 0.3  # the user's wins
    assert Wiring(Settings()).search_options().min_confidence == 0.42  # all-MiniLM-L6-v2's, on its cosines
    fresh = Wiring(Settings(model=str(_manifest(tmp_path, "fresh", threshold=0.61))))
    assert fresh.search_options().min_confidence == 0.61
    none = Wiring(Settings(model=str(_manifest(tmp_path, "unmeasured", threshold=None))))
    assert none.search_options().min_confidence == 0.42


def test_a_tiny_run_trains_both_sides_and_reloads_to_the_same_vectors(
    tiny_model: str, tmp_path: Path
) -> None:
    import torch

    from newsqa.training.command import save_weights
    from newsqa.training.index_trainer import train_index_model
    from newsqa.training.trainer import MiniLMTower

    examples = _topic_examples()
    texts = [t for e in examples for t in (*e.positives, *e.negatives)]
    config = IndexTrainConfig(
        epochs=6, batch_size=4, learning_rate=2e-3, warmup=0.0, max_length=16, text_length=16, hard=2
    )
    tower = MiniLMTower(tiny_model, max_length=16)
    before = tower.encode_numpy(texts, max_length=16)
    state, logs = train_index_model(
        tower, examples, examples[:2], unit_vectors, config, progress=False, say=lambda _: None
    )
    assert logs[-1].loss < logs[0].loss * 0.8
    assert logs[-1].heldout["mrr"] >= logs[0].heldout["mrr"]
    assert "embeddings.word_embeddings.weight" not in state  # frozen: read from the installed model
    tower.model.load_state_dict(state, strict=False)
    assert not np.allclose(tower.encode_numpy(texts, max_length=16), before, atol=1e-3)  # sentences moved

    weights = save_weights(state, tmp_path, "tiny", {"kind": KIND, "min_confidence": None})
    card = index_model_card(str(tmp_path / "tiny.json"))
    assert card is not None and card.weights == weights
    for p in tower.model.parameters():  # what ships is fp16: compare against the same rounding
        p.data = p.data.half().float()
    expected = tower.encode_numpy(texts, max_length=16)
    fresh = MiniLMTower(tiny_model, max_length=16)
    missing, unexpected = fresh.model.load_state_dict(load_index_state(card), strict=False)
    assert missing == ["embeddings.word_embeddings.weight"] and not unexpected
    fresh.model.embeddings.word_embeddings.weight.data = tower.model.embeddings.word_embeddings.weight.data
    assert np.allclose(fresh.encode_numpy(texts, max_length=16), expected, atol=1e-6)
    assert all(v.dtype == torch.float32 for v in load_index_state(card).values())
