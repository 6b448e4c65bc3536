"""nomic-embed-text-v1.5 run from its GGUF file: the vocabulary, the forward pass, questions vs passages.

A tiny random nomic-bert (2 layers, width 8) written with the gguf package stands in for the real
1.1 GB download; the real model's figures are in docs/quality.md and tests/test_real_model.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsqa.index.models.embedder import embed_queries, model_name, reranker_embedder
from newsqa.index.models.modelparts import NOMIC, InstallError
from newsqa.index.models.nomic import NomicEmbedder, wordpiece_vocab

TOKENS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "\u2581who",
    "\u2581won",
    "\u2581the",
    "\u2581cup",
    "s",
    "?",
    "\u2581.",
]
TOKENS += ["\u2581search", "_", "\u2581query", "\u2581document", "\u2581:", "\u2581_"]


def tiny_gguf(path: Path, *, seed: int = 7) -> Path:
    from gguf import GGUFWriter

    rng = np.random.default_rng(seed)
    dim, ffn, layers = 8, 16, 2

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    w = GGUFWriter(str(path), "nomic-bert")
    w.add_embedding_length(dim)
    w.add_block_count(layers)
    w.add_head_count(2)
    w.add_layer_norm_eps(1e-12)
    w.add_rope_freq_base(1000.0)
    w.add_token_list(TOKENS)
    w.add_pad_token_id(0)
    w.add_tensor("token_embd.weight", r(len(TOKENS), dim))
    w.add_tensor("token_types.weight", r(2, dim))
    w.add_tensor("token_embd_norm.weight", np.ones(dim, np.float32))
    w.add_tensor("token_embd_norm.bias", np.zeros(dim, np.float32))
    for n in range(layers):
        p = f"blk.{n}."
        w.add_tensor(p + "attn_qkv.weight", r(3 * dim, dim))
        w.add_tensor(p + "attn_output.weight", r(dim, dim))
        w.add_tensor(p + "ffn_up.weight", r(ffn, dim))
        w.add_tensor(p + "ffn_gate.weight", r(ffn, dim))
        w.add_tensor(p + "ffn_down.weight", r(dim, ffn))
        for norm in ("attn_output_norm", "layer_output_norm"):
            w.add_tensor(p + norm + ".weight", np.ones(dim, np.float32))
            w.add_tensor(p + norm + ".bias", np.zeros(dim, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> NomicEmbedder:
    return NomicEmbedder(tiny_gguf(tmp_path_factory.mktemp("nomic") / "tiny.gguf"), name="test/tiny-nomic")


def test_the_vocabulary_is_bert_wordpiece_again() -> None:
    vocab = wordpiece_vocab(["[PAD]", "\u2581cup", "s", "[CLS]"])
    assert vocab == {"[PAD]": 0, "cup": 1, "##s": 2, "[CLS]": 3}


def test_tokens_are_lowercased_word_pieces(tiny: NomicEmbedder) -> None:
    assert tiny.tokenizer.encode("Who won the Cups?").tokens == [
        "[CLS]",
        "who",
        "won",
        "the",
        "cup",
        "##s",
        "[UNK]",
        "[SEP]",
    ]  # "?" is only known as a continuation here: unknown as a word


def test_vectors_are_normalised_and_a_batch_does_not_change_them(tiny: NomicEmbedder) -> None:
    short, long = "who won", "who won the cups the cups the cups"
    alone = tiny.embed([short])
    batched = tiny.embed([short, long])  # padded to the longer text: the mask must hide the padding
    assert alone.shape == (1, 8) and alone.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.allclose(alone[0], batched[0], atol=1e-5)
    assert not np.allclose(batched[0], batched[1], atol=1e-3)
    assert tiny.embed([]).shape == (0, 8)


def test_questions_and_passages_get_their_own_prefix(tiny: NomicEmbedder) -> None:
    text = "who won the cups"
    as_query = embed_queries(tiny, [text])[0]
    as_passage = tiny.embed([text])[0]
    assert not np.allclose(as_query, as_passage, atol=1e-3)
    assert np.allclose(as_query, tiny._encode(["search_query: " + text])[0], atol=1e-6)


def test_word_order_matters(tiny: NomicEmbedder) -> None:
    """Rotary positions: the same words in another order are another text."""
    a, b = tiny.embed(["who won the cup", "the cup won who"])
    assert not np.allclose(a, b, atol=1e-3)


def test_another_architecture_is_refused(tmp_path: Path) -> None:
    from gguf import GGUFWriter

    path = tmp_path / "llama.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_tensor("x", np.zeros(2, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ValueError, match="not nomic-bert"):
        NomicEmbedder(path)


def test_the_reranker_needs_it_installed_and_the_index_cannot_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import hashlib

    from newsqa.index.models import modelparts
    from newsqa.index.models.embedder import SentenceTransformerEmbedder

    with pytest.raises(InstallError, match=r"newsqa model install nomic-embed-text-v1\.5"):
        reranker_embedder("nomic-embed-text-v1.5", tmp_path)
    with pytest.raises(InstallError, match="--rerank-model, not --model"):
        SentenceTransformerEmbedder("nomic-embed-text-v1.5", models_dir=tmp_path)
    assert model_name("nomic-embed-text-v1.5") == "nomic-ai/nomic-embed-text-v1.5"
    folder = tmp_path / NOMIC.name
    folder.mkdir()
    tiny_gguf(folder / NOMIC.weights)
    with pytest.raises(InstallError, match=r"is damaged .*`newsqa model install nomic-embed-text-v1\.5`"):
        reranker_embedder("nomic-ai/nomic-embed-text-v1.5", tmp_path)  # not the recorded weights
    tiny = dataclasses.replace(
        NOMIC, weights_sha256=hashlib.sha256((folder / NOMIC.weights).read_bytes()).hexdigest()
    )
    monkeypatch.setitem(modelparts.KNOWN, NOMIC.name, tiny)
    monkeypatch.setitem(modelparts.KNOWN, NOMIC.hub_name, tiny)
    found = reranker_embedder("nomic-ai/nomic-embed-text-v1.5", tmp_path)
    assert isinstance(found, NomicEmbedder) and found.name == "nomic-ai/nomic-embed-text-v1.5"


def test_each_reranker_brings_its_measured_weight() -> None:
    from newsqa.settings import Settings
    from newsqa.wiring import Wiring

    def weight(spec: str | None) -> float:
        return Wiring(Settings(rerank_model=spec)).search_options().rerank_weight

    assert weight("nomic-embed-text-v1.5") == NOMIC.rerank_weight == 1.5
    assert weight("all-mpnet-base-v2") == weight(None) == 1.0


def test_a_reranker_not_installed_is_one_line_at_the_command(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from fakes import HashingEmbedder

    from newsqa.cli import main

    embedder = HashingEmbedder()
    args = ["--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "models")]
    result = CliRunner().invoke(
        main,
        [*args, "--rerank-model", "nomic-embed-text-v1.5", "ask", "Which airbase was targeted?"],
        obj={"embedder_factory": lambda: embedder},
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: nomic-embed-text-v1.5 is not installed:"
        " run `newsqa model install nomic-embed-text-v1.5` first"
    )
