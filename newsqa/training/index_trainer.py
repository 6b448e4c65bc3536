"""The index model's training loop: all-MiniLM-L6-v2 trained on both sides, questions and the sentences
that answer them, so the index itself holds vectors that put answers next to their questions.

Why both sides, when the question model (trainer.py) moves only the question: with the sentences fixed,
two sentences MiniLM put close together stay close together whatever a question vector does, so the
question model cannot learn to tell an answer from its near misses (docs/model.md). Training the
sentence side too costs a rebuilt index (a new model) and a slower step, since every candidate is
re-embedded with gradients: each step scores its questions against their answers and a few hard
non-answers each, every other question's texts in the step serving as negatives too.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import IndexTrainConfig
from .examples import Example
from .followups import Turn, same_pool, step_turns
from .trainer import (
    EpochLog,
    MiniLMTower,
    _banned,
    _Candidates,
    answers_softmax_loss,
    heldout_figures,
    run_data,
    run_epochs,
)


def step_texts(batch: Sequence[Turn], config: IndexTrainConfig, rng: random.Random) -> list[str]:
    """The step's candidate texts: for each question one of its answers and `hard` of its `hard_pool`
    hardest non-answers (and a follow-up's previous answer), without repeats."""
    texts: list[str] = []
    for turn in batch:
        e = turn.example
        texts.append(rng.choice(e.positives))
        hardest = list(e.negatives[: config.hard_pool])
        rng.shuffle(hardest)
        texts.extend(hardest[: config.hard])
        if turn.previous_answer is not None:
            texts.append(turn.previous_answer)
    return list(dict.fromkeys(texts))


def contrastive_loss(
    tower: MiniLMTower,
    turns: Sequence[Turn],
    texts: Sequence[str],
    pool: _Candidates,
    config: IndexTrainConfig,
) -> Any:
    """Softmax of each question over every text of the step, its answers in the numerator; a text holding
    the question's answer string is never its negative."""
    import torch

    follow_ups = any(t.question != t.example.question for t in turns)
    q = tower.encode([t.question for t in turns], config.followup_length if follow_ups else None)
    batch = [t.example for t in turns]
    s = tower.encode(texts, config.text_length)
    logits = config.scale * q @ s.T
    where = {t: j for j, t in enumerate(texts)}
    ids = [pool.index[t] for t in texts]
    positive = torch.zeros_like(logits, dtype=torch.bool)
    keep = torch.ones_like(logits, dtype=torch.bool)
    for r, e in enumerate(batch):
        answers = [where[t] for t in e.positives if t in where]
        positive[r, answers] = True
        banned = _banned(e, pool.texts, ids) - {pool.index[t] for t in e.positives}
        keep[r, [where[pool.texts[i]] for i in banned]] = False
    return answers_softmax_loss(logits, positive, keep)


def student_figures(
    tower: MiniLMTower,
    heldout: Sequence[Example],
    pool: _Candidates,
    bank: np.ndarray,
    text_length: int,
) -> dict[str, float]:
    """heldout_figures with both sides embedded by the model being trained: the held-out questions, and
    the texts they are ranked among (their answers, their hard non-answers, the bank)."""
    rows = sorted(
        {pool.index[t] for e in heldout for t in (*e.positives, *e.negatives)} | {int(i) for i in bank}
    )
    student = copy.copy(pool)
    student.matrix = np.zeros_like(pool.matrix)
    student.matrix[rows] = tower.encode_numpy([pool.texts[i] for i in rows], max_length=text_length)
    questions = tower.encode_numpy([e.question for e in heldout])
    return heldout_figures(heldout, questions, student, bank)


def train_index_model(
    tower: MiniLMTower,
    train_set: Sequence[Example],
    heldout: Sequence[Example],
    vectors: Callable[[Sequence[str]], np.ndarray],
    config: IndexTrainConfig,
    *,
    log_path: Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> tuple[dict[str, Any], list[EpochLog]]:
    """Train `tower` in place on both sides; return the state of the epoch best on the held-out pools
    (epoch 0, the untrained model scored from the cached `vectors`, included) and every epoch's figures.
    The held-out pools and bank are the question model's (trainer.py), so the two runs' figures compare."""
    run = run_data(train_set, heldout, vectors, config)
    pool, bank, rng = run.pool, run.bank, run.rng
    partners = same_pool(run.train_set) if config.followup_share else {}

    def step_loss(_: list[Example], indices: list[int]) -> Any:
        turns = step_turns(run.train_set, indices, partners, config.followup_share, rng)
        return contrastive_loss(tower, turns, step_texts(turns, config, rng), pool, config)

    return run_epochs(
        tower,
        run.train_set,
        config,
        rng=rng,
        step_loss=step_loss,
        base_figures=lambda: heldout_figures(heldout, vectors([e.question for e in heldout]), pool, bank),
        figures=lambda: student_figures(tower, heldout, pool, bank, config.text_length),
        heldout=len(heldout),
        log_path=log_path,
        progress=progress,
        say=say,
    )
