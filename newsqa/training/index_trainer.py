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
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import IndexTrainConfig
from .examples import Example
from .runlog import RunLog
from .trainer import (
    EpochLog,
    MiniLMTower,
    _banned,
    _Candidates,
    heldout_figures,
    optimiser_step,
    warmup_then_linear,
)


def step_texts(batch: Sequence[Example], config: IndexTrainConfig, rng: random.Random) -> list[str]:
    """The step's candidate texts: for each question one of its answers and `hard` of its `hard_pool`
    hardest non-answers, without repeats."""
    texts: list[str] = []
    for e in batch:
        texts.append(rng.choice(e.positives))
        hardest = list(e.negatives[: config.hard_pool])
        rng.shuffle(hardest)
        texts.extend(hardest[: config.hard])
    return list(dict.fromkeys(texts))


def contrastive_loss(
    tower: MiniLMTower,
    batch: Sequence[Example],
    texts: Sequence[str],
    pool: _Candidates,
    config: IndexTrainConfig,
) -> Any:
    """Softmax of each question over every text of the step, its answers in the numerator; a text holding
    the question's answer string is never its negative."""
    import torch

    q = tower.encode([e.question for e in batch])
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
    neg_inf = torch.finfo(logits.dtype).min
    return (
        torch.logsumexp(logits.masked_fill(~keep, neg_inf), dim=1)
        - torch.logsumexp(logits.masked_fill(~positive, neg_inf), dim=1)
    ).mean()


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
    import torch
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    pool = _Candidates([*train_set, *heldout], vectors)
    bank = np.random.default_rng(config.seed).choice(
        len(pool.texts), size=min(5000, len(pool.texts)), replace=False
    )
    train_set = [e for e in train_set for _ in range(config.news_repeat if e.source == "realtimeqa" else 1)]

    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total = steps_per_epoch * config.epochs
    params = [p for p in tower.model.parameters() if p.requires_grad]
    optimiser, schedule = warmup_then_linear(params, config.learning_rate, total, config.warmup)

    log = RunLog(log_path, say)
    started = time.monotonic()
    log.start(config, train=len(train_set), heldout=len(heldout))
    base = heldout_figures(heldout, vectors([e.question for e in heldout]), pool, bank)
    log.epoch(EpochLog(0, 0, float("nan"), 0.0, base))
    best_state, best_mrr = tower.trained_state(), base["mrr"]
    logs = []
    order = list(range(len(train_set)))
    step = 0
    for epoch in range(1, config.epochs + 1):
        rng.shuffle(order)
        losses = []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=not progress)
        for b in bar:
            batch = [train_set[i] for i in order[b * config.batch_size : (b + 1) * config.batch_size]]
            texts = step_texts(batch, config, rng)
            loss = contrastive_loss(tower, batch, texts, pool, config)
            losses.append(optimiser_step(loss, optimiser, schedule, params))
            step += 1
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if (time.monotonic() - started) / 60 > config.max_minutes:
                break
        figures = student_figures(tower, heldout, pool, bank, config.text_length)
        entry = EpochLog(epoch, step, float(np.mean(losses)), time.monotonic() - started, figures)
        log.epoch(entry)
        logs.append(entry)
        if figures["mrr"] > best_mrr:
            best_state, best_mrr = tower.trained_state(), figures["mrr"]
        if (time.monotonic() - started) / 60 > config.max_minutes:
            say(f"stopping after {config.max_minutes:g} minutes")
            break
    return best_state, logs
