"""The answer model's training loop: a cross-encoder taught to pick, among a question's candidates, the
sentence that answers it.

Each step takes a few questions and, for each, a group of texts: one answer and hard non-answers mined
by the index model (mining.py), so the model learns exactly the distinction search fails at, the answer
among sentences of the same story. Two losses, summed: a softmax over each group (rank the answer first)
and a per-pair binary cross-entropy (say "answers" or "does not" on an absolute scale, so the
probability can also judge whether to answer at all).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index.models.answer_model import pair_logits, trained_state

from .config import AnswerTrainConfig
from .examples import Example
from .runlog import RunLog
from .trainer import optimiser_step, warmup_then_linear


@dataclass(slots=True)
class AnswerEpochLog:
    epoch: int
    steps: int
    loss: float
    seconds: float
    heldout: dict[str, float]


def group_of(example: Example, size: int, rng: random.Random) -> list[str]:
    """One answer (chosen at random among the example's) then `size - 1` of its hard non-answers."""
    positive = rng.choice(example.positives)
    negatives = list(example.negatives)
    rng.shuffle(negatives)
    return [positive, *negatives[: size - 1]]


def epoch_examples(
    train_set: Sequence[Example], config: AnswerTrainConfig, rng: random.Random
) -> list[Example]:
    """One epoch's questions: `squad_per_epoch` ReQA questions drawn afresh, every news question
    `news_repeat` times (news in people's words is what newsqa is asked), shuffled."""
    squad = [e for e in train_set if e.source == "squad"]
    news = [e for e in train_set if e.source != "squad"]
    drawn = rng.sample(squad, min(config.squad_per_epoch, len(squad)))
    out = drawn + news * config.news_repeat
    rng.shuffle(out)
    return out


def heldout_figures(
    score: Callable[[str, Sequence[str]], np.ndarray], examples: Sequence[Example]
) -> dict[str, float]:
    """MRR and R@1 of each held-out question's best answer among its hard non-answers, per source and
    over all; `score` judges a question's texts (the model being trained, or a baseline)."""
    ranks: dict[str, list[int]] = {}
    for e in examples:
        texts = [*e.positives, *e.negatives]
        s = np.asarray(score(e.question, texts), dtype=np.float64)
        best = s[: len(e.positives)].max()
        ranks.setdefault(e.source, []).append(1 + int((s[len(e.positives) :] > best).sum()))
    out: dict[str, float] = {}
    for source in sorted(ranks):
        r = np.array(ranks[source])
        out[f"{source}_mrr"] = float(np.mean(1.0 / r))
        out[f"{source}_r1"] = float(np.mean(r == 1))
    every = np.array([x for r in ranks.values() for x in r])
    out["mrr"] = float(np.mean(1.0 / every)) if len(every) else 0.0
    return out


def train_answer_model(
    tokenizer: Any,
    module: Any,
    train_set: Sequence[Example],
    heldout: Sequence[Example],
    config: AnswerTrainConfig,
    *,
    baseline: Callable[[str, Sequence[str]], np.ndarray] | None = None,
    log_path: Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> tuple[dict[str, Any], list[AnswerEpochLog]]:
    """Train `module` in place; return the state of the epoch best on the held-out questions and every
    epoch's figures. Epoch 0 records `baseline` (the index model's cosine) on the same candidates, so the
    log says what the model adds."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    held = list(heldout)
    if len(held) > config.heldout_questions:
        held = random.Random(config.seed).sample(held, config.heldout_questions)

    def judge(question: str, texts: Sequence[str]) -> np.ndarray:
        module.eval()
        with torch.inference_mode():
            out = pair_logits(tokenizer, module, [question] * len(texts), texts, config.max_length).numpy()
        module.train()
        return out

    log = RunLog(log_path, say)
    log.start(config, train=len(train_set), heldout=len(held))
    record = log.epoch
    started = time.monotonic()
    if baseline is not None:
        record(AnswerEpochLog(0, 0, float("nan"), 0.0, heldout_figures(baseline, held)))
    params = [p for p in module.parameters() if p.requires_grad]
    per_epoch = len(epoch_examples(train_set, config, random.Random(0)))
    steps_per_epoch = -(-per_epoch // config.questions_per_step)
    total = steps_per_epoch * config.epochs
    optimiser, schedule = warmup_then_linear(params, config.learning_rate, total, config.warmup)
    bce = torch.nn.BCEWithLogitsLoss()
    module.train()
    best_state: dict[str, Any] | None = None
    best_mrr = -1.0
    logs: list[AnswerEpochLog] = []
    step = 0
    out_of_time = False
    for epoch in range(1, config.epochs + 1):
        chosen = epoch_examples(train_set, config, rng)
        losses: list[float] = []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=not progress)
        for b in bar:
            batch = chosen[b * config.questions_per_step : (b + 1) * config.questions_per_step]
            groups = [group_of(e, config.group, rng) for e in batch]
            questions = [e.question for e, g in zip(batch, groups, strict=True) for _ in g]
            texts = [t for g in groups for t in g]
            logits = pair_logits(tokenizer, module, questions, texts, config.max_length)
            labels = torch.zeros_like(logits)
            listwise = []
            at = 0
            for g in groups:
                labels[at] = 1.0
                listwise.append(torch.log_softmax(logits[at : at + len(g)], dim=0)[0])
                at += len(g)
            loss = -torch.stack(listwise).mean() + bce(logits, labels)
            losses.append(optimiser_step(loss, optimiser, schedule, params))
            step += 1
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if (time.monotonic() - started) / 60 > config.max_minutes:
                out_of_time = True
                break
        entry = AnswerEpochLog(
            epoch, step, float(np.mean(losses)), time.monotonic() - started, heldout_figures(judge, held)
        )
        record(entry)
        logs.append(entry)
        if entry.heldout["mrr"] > best_mrr:
            best_state, best_mrr = trained_state(module), entry.heldout["mrr"]
        if out_of_time:
            say(f"stopping after {config.max_minutes:g} minutes")
            break
    return best_state if best_state is not None else trained_state(module), logs
