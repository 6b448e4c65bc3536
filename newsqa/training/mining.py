"""Choosing what to train on with the index's own model: the weak labels' best answers, the hardest
non-answers.

The encoder being trained replaces the index model on the question side only; the sentences keep the
vectors the index model gave them. So the candidates are judged exactly as search judges them today: the
non-answers the index model puts closest to the question are the ones worth learning to push away, and of
the sentences holding a weak label's answer string, those closest to the question are the likeliest to
really answer it (an answer string alone, "Biden", is in many sentences that do not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .examples import Example, answer_pattern

#: Positives kept per weakly labelled question, and hard negatives per question.
WEAK_POSITIVES = 2
HARD_NEGATIVES = 15

#: A weakly labelled answer this far from its question (index-model cosine) is more likely a stray
#: answer string than an answer: the question is dropped rather than taught a wrong pair.
MIN_WEAK_COSINE = 0.25


class VectorCache:
    """Index-model vectors by text, kept in one .npy/.txt pair so a second run embeds nothing again."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], path: Path | None = None) -> None:
        self._embed = embed
        self._path = path
        self._vectors: dict[str, np.ndarray] = {}
        if path is not None and path.with_suffix(".npy").exists():
            keys = path.with_suffix(".keys").read_text(encoding="utf-8").split("\n")
            matrix = np.load(path.with_suffix(".npy"))
            self._vectors = dict(zip(keys, matrix, strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def missing(self, texts: Sequence[str]) -> list[str]:
        """Those of `texts` with no vector yet, once each, in order."""
        return list(dict.fromkeys(t for t in texts if self._key(t) not in self._vectors))

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts` in order, embedding those not seen before in one call."""
        missing = self.missing(texts)
        if missing:
            fresh = self._embed(missing)
            for t, v in zip(missing, fresh, strict=True):
                self._vectors[self._key(t)] = v
        return np.stack([self._vectors[self._key(t)] for t in texts]) if texts else np.zeros((0, 0))

    def save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        tmp = self._path.with_suffix(".tmp.npy")
        np.save(tmp, np.stack([self._vectors[k] for k in keys]).astype(np.float32))
        tmp.replace(self._path.with_suffix(".npy"))
        self._path.with_suffix(".keys").write_text("\n".join(keys), encoding="utf-8")


def mine(
    examples: Sequence[Example], cache: VectorCache, *, progress: Callable[[str], None] = print
) -> list[Example]:
    """Each example with its positives and hard negatives chosen by the index model's cosine.

    Weakly labelled examples keep their `WEAK_POSITIVES` answers closest to the question, or are dropped
    when even the closest is under `MIN_WEAK_COSINE`. Every example keeps its `HARD_NEGATIVES` closest
    non-answers; a negative holding an answer string is never kept (the weak label may have missed it).
    """
    texts = list(dict.fromkeys(t for e in examples for t in (*e.positives, *e.negatives)))
    progress(
        f"embedding {len(texts):,} candidate sentences and {len(examples):,} questions with the index model"
    )
    cache.get(texts)
    questions = cache.get([e.question for e in examples])
    cache.save()
    out = []
    for e, q in zip(examples, questions, strict=True):
        pattern = answer_pattern(e.answers)
        negatives = [t for t in e.negatives if pattern is None or not pattern.search(t)]
        if not negatives:
            continue
        neg_cos = cache.get(negatives) @ q
        hard = [negatives[i] for i in np.argsort(-neg_cos)[:HARD_NEGATIVES]]
        positives = e.positives
        if e.source == "realtimeqa":
            pos_cos = cache.get(positives) @ q
            order = np.argsort(-pos_cos)
            if pos_cos[order[0]] < MIN_WEAK_COSINE:
                continue
            positives = [positives[i] for i in order[:WEAK_POSITIVES]]
        out.append(replace(e, positives=positives, negatives=hard))
    return out
