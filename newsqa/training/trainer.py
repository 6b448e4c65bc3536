"""The training loop: the question side of all-MiniLM-L6-v2 taught to land next to the sentences that
answer it, while the sentences keep the vectors the index already holds.

Why only the question side: the index's vectors stay valid (no re-embedding, no rebuild, no mismatch
between an index and a model), and answering costs what it costs today (one question embedded). The loss
is a softmax over each question's answers against its hard negatives, the other questions' candidates in
the batch and a random bank of pool sentences; since the sentence vectors are fixed, a bank of thousands
costs one matrix product. An optional anchor keeps question vectors near the index model's, so the
cosine scale that fusion weights and the abstain threshold were measured on does not drift far.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import IndexTrainConfig, TrainConfig
from .examples import Example, answer_pattern
from .runlog import RunLog


def untrained_docs(groups: Sequence[str], every: int = 10) -> list[str]:
    """The pools (quiz days, Wikipedia articles) a training run holds out: every `every`-th in sorted
    order. An abstain threshold for a trained model is chosen on these (`dev eval abstain`)."""
    return sorted(set(groups))[every - 1 :: every]


def split_heldout(examples: Sequence[Example], every: int) -> tuple[list[Example], list[Example]]:
    """(train, held out) by pool: every `every`-th distinct group of each source, in sorted order."""
    held: set[tuple[str, str]] = set()
    for source in sorted({e.source for e in examples}):
        groups = [e.group for e in examples if e.source == source]
        held |= {(source, g) for g in untrained_docs(groups, every)}
    train = [e for e in examples if (e.source, e.group) not in held]
    return train, [e for e in examples if (e.source, e.group) in held]


class _Candidates:
    """Every text any example names, as one fixed matrix of index-model vectors, and which text is which."""

    def __init__(self, examples: Sequence[Example], vectors: Callable[[Sequence[str]], np.ndarray]) -> None:
        texts = list(dict.fromkeys(t for e in examples for t in (*e.positives, *e.negatives)))
        self.texts = texts
        self.index = {t: i for i, t in enumerate(texts)}
        self.matrix = np.ascontiguousarray(vectors(texts), dtype=np.float32)


def _banned(example: Example, texts: Sequence[str], candidates: Sequence[int]) -> set[int]:
    """Candidates that hold one of the example's answer strings: possibly answers, never negatives."""
    pattern = answer_pattern(example.answers)
    if pattern is None:
        return set()
    return {i for i in candidates if pattern.search(texts[i])}


def heldout_figures(
    examples: Sequence[Example], questions: np.ndarray, pool: _Candidates, bank: np.ndarray
) -> dict[str, float]:
    """MRR and R@1 of each held-out question's best answer among its hard negatives and a fixed bank of
    pool sentences (those holding its answer string left out), per source and over all."""
    scores = questions @ pool.matrix.T
    by_source: dict[str, list[float]] = {}
    top1: dict[str, list[float]] = {}
    for e, row in zip(examples, scores, strict=True):
        pos = [pool.index[t] for t in e.positives]
        neg = [pool.index[t] for t in e.negatives]
        others = [int(i) for i in bank]
        banned = _banned(e, pool.texts, others) | set(pos)
        field_ = np.array(neg + [i for i in others if i not in banned], dtype=np.int64)
        best = float(row[pos].max())
        rank = 1 + int((row[field_] > best).sum())
        by_source.setdefault(e.source, []).append(1.0 / rank)
        top1.setdefault(e.source, []).append(float(rank == 1))
    out: dict[str, float] = {}
    for s in sorted(by_source):
        out[f"{s}_mrr"] = float(np.mean(by_source[s]))
        out[f"{s}_r1"] = float(np.mean(top1[s]))
    out["mrr"] = float(np.mean([x for v in by_source.values() for x in v]))
    return out


class MiniLMTower:
    """all-MiniLM-L6-v2's transformer, mean-pooled and normalised as sentence-transformers does, in
    training form: the question model's one side, or the index model's both. The word-embedding table
    stays frozen: the shipped weights leave it out and take it from the installed model package."""

    FROZEN = ("embeddings.word_embeddings.weight",)

    def __init__(self, model_path: str, *, max_length: int) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModel.from_pretrained(model_path)
        self.max_length = max_length
        for name, p in self.model.named_parameters():
            p.requires_grad = name not in self.FROZEN

    def encode(self, texts: Sequence[str], max_length: int | None = None) -> Any:
        """Normalised vectors with gradients; `max_length` tokens (default: the question length)."""
        import torch

        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length or self.max_length,
            return_tensors="pt",
        )
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def encode_numpy(
        self, texts: Sequence[str], batch_size: int = 128, max_length: int | None = None
    ) -> np.ndarray:
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                out.append(self.encode(texts[i : i + batch_size], max_length).numpy())
        self.model.train()
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)

    def trained_state(self) -> dict[str, Any]:
        """Every tensor but the frozen ones: what ships."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items() if k not in self.FROZEN}


@dataclass(frozen=True, slots=True)
class Teacher:
    """A stronger model's vectors: `texts` for passages and `questions` for questions, each a function from
    texts to L2-normalised rows (cached: the teacher is slow)."""

    texts: Callable[[Sequence[str]], np.ndarray]
    questions: Callable[[Sequence[str]], np.ndarray]


def distillation_loss(student_logits: Any, teacher_logits: Any) -> Any:
    """KL(teacher || student) over each row's candidates, averaged over rows."""
    import torch

    log_student = torch.log_softmax(student_logits, dim=1)
    log_teacher = torch.log_softmax(teacher_logits, dim=1)
    return (log_teacher.exp() * (log_teacher - log_student)).sum(1).mean()


def warmup_then_linear(
    params: Sequence[Any], learning_rate: float, total: int, warmup: float
) -> tuple[Any, Any]:
    """(AdamW, its schedule): the rate rises over the first `warmup` share of `total` steps, then falls
    linearly to zero. Every training loop here (question, index and answer models) schedules this way."""
    import torch

    optimiser = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
    warm = max(1, int(total * warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    return optimiser, schedule


def optimiser_step(loss: Any, optimiser: Any, schedule: Any, params: Sequence[Any]) -> float:
    """Backpropagate `loss`, clip the gradients at 1.0, step the optimiser and its schedule; the loss as a
    float. Both training loops (this one and answer_trainer.py) step the same way."""
    import torch

    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimiser.step()
    schedule.step()
    return float(loss.detach())


@dataclass(slots=True)
class EpochLog:
    epoch: int
    steps: int
    loss: float
    seconds: float
    heldout: dict[str, float]


@dataclass(slots=True)
class RunData:
    """What both MiniLM runs start from: the shuffling rng, every candidate's index-model vector, the rng
    drawing random sentences and the fixed bank the held-out figures rank among, and the training set
    with each news question repeated `news_repeat` times."""

    rng: random.Random
    pool: _Candidates
    bank_rng: np.random.Generator
    bank: np.ndarray
    train_set: list[Example]


def run_data(
    train_set: Sequence[Example],
    heldout: Sequence[Example],
    vectors: Callable[[Sequence[str]], np.ndarray],
    config: TrainConfig | IndexTrainConfig,
) -> RunData:
    """Seeds torch too, and sets its threads: a run starts here."""
    import torch

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    pool = _Candidates([*train_set, *heldout], vectors)
    bank_rng = np.random.default_rng(config.seed)
    return RunData(
        rng=random.Random(config.seed),
        pool=pool,
        bank_rng=bank_rng,
        bank=bank_rng.choice(len(pool.texts), size=min(5000, len(pool.texts)), replace=False),
        train_set=[
            e for e in train_set for _ in range(config.news_repeat if e.source == "realtimeqa" else 1)
        ],
    )


def answers_softmax_loss(logits: Any, positive: Any, keep: Any) -> Any:
    """Each row's softmax over its kept candidates, less the share of its answers (`positive`), as a
    mean negative log: what both MiniLM runs minimise."""
    import torch

    neg_inf = torch.finfo(logits.dtype).min
    return (
        torch.logsumexp(logits.masked_fill(~keep, neg_inf), dim=1)
        - torch.logsumexp(logits.masked_fill(~positive, neg_inf), dim=1)
    ).mean()


def run_epochs(
    tower: MiniLMTower,
    train_set: Sequence[Example],
    config: TrainConfig | IndexTrainConfig,
    *,
    rng: random.Random,
    step_loss: Callable[[list[Example], list[int]], Any],
    base_figures: Callable[[], dict[str, float]],
    figures: Callable[[], dict[str, float]],
    heldout: int,
    log_path: Path | None,
    progress: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[EpochLog]]:
    """The loop both MiniLM runs share: shuffle with `rng`, one optimiser step on `step_loss(batch, its
    indices)` per batch, the held-out `figures` after each epoch (after `base_figures` for epoch 0, the
    untrained model: a run that does not help says so), a log line per epoch, a stop past
    `max_minutes`; returns the state of the best epoch and every epoch's figures."""
    from tqdm import tqdm

    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    params = [p for p in tower.model.parameters() if p.requires_grad]
    optimiser, schedule = warmup_then_linear(
        params, config.learning_rate, steps_per_epoch * config.epochs, config.warmup
    )
    log = RunLog(log_path, say)
    started = time.monotonic()
    log.start(config, train=len(train_set), heldout=heldout)
    base = base_figures()
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
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            loss = step_loss([train_set[i] for i in idx], idx)
            losses.append(optimiser_step(loss, optimiser, schedule, params))
            step += 1
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if (time.monotonic() - started) / 60 > config.max_minutes:
                break
        held = figures()
        entry = EpochLog(epoch, step, float(np.mean(losses)), time.monotonic() - started, held)
        log.epoch(entry)
        logs.append(entry)
        if held["mrr"] > best_mrr:
            best_state, best_mrr = tower.trained_state(), held["mrr"]
        if (time.monotonic() - started) / 60 > config.max_minutes:
            say(f"stopping after {config.max_minutes:g} minutes")
            break
    return best_state, logs


def train(
    tower: MiniLMTower,
    train_set: Sequence[Example],
    heldout: Sequence[Example],
    vectors: Callable[[Sequence[str]], np.ndarray],
    config: TrainConfig,
    *,
    log_path: Path | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    teacher: Teacher | None = None,
) -> tuple[dict[str, Any], list[EpochLog]]:
    """Train `tower` in place; return the state of the epoch best on the held-out set (epoch 0, the
    untrained model, included: a run that does not help says so) and every epoch's figures."""
    import torch

    run = run_data(train_set, heldout, vectors, config)
    pool, bank_rng, fixed_bank, train_set = run.pool, run.bank_rng, run.bank, run.train_set
    matrix = torch.from_numpy(pool.matrix)
    held_q = [e.question for e in heldout]
    anchors = vectors([e.question for e in train_set]) if config.anchor_weight else None
    taught = teacher is not None and config.teacher_weight > 0
    if taught:
        assert teacher is not None
        teacher_matrix = torch.from_numpy(np.ascontiguousarray(teacher.texts(pool.texts), dtype=np.float32))
        teacher_q = np.ascontiguousarray(teacher.questions([e.question for e in train_set]), dtype=np.float32)

    def step_loss(batch: list[Example], idx: list[int]) -> Any:
        mine_ = [[pool.index[t] for t in (*e.positives, *e.negatives)] for e in batch]
        bank = bank_rng.choice(len(pool.texts), size=min(config.bank, len(pool.texts)), replace=False)
        cand = list(dict.fromkeys([i for ids in mine_ for i in ids] + bank.tolist()))
        where = {c: j for j, c in enumerate(cand)}
        q = tower.encode([e.question for e in batch])
        logits = config.scale * q @ matrix[cand].T
        pos_mask = torch.zeros_like(logits, dtype=torch.bool)
        keep = torch.ones_like(logits, dtype=torch.bool)
        for r, e in enumerate(batch):
            pos = [where[pool.index[t]] for t in e.positives]
            pos_mask[r, pos] = True
            banned = _banned(e, pool.texts, cand) - {pool.index[t] for t in e.positives}
            keep[r, [where[i] for i in banned]] = False
        loss = answers_softmax_loss(logits, pos_mask, keep)
        if taught:
            t_logits = config.teacher_scale * torch.from_numpy(teacher_q[idx]) @ teacher_matrix[cand].T
            loss = loss + config.teacher_weight * distillation_loss(logits, t_logits)
        if anchors is not None:
            a = torch.from_numpy(anchors[idx])
            loss = loss + config.anchor_weight * (1 - (q * a).sum(-1)).mean()
        return loss

    return run_epochs(
        tower,
        train_set,
        config,
        rng=run.rng,
        step_loss=step_loss,
        base_figures=lambda: heldout_figures(heldout, vectors(held_q), pool, fixed_bank),
        figures=lambda: heldout_figures(heldout, tower.encode_numpy(held_q), pool, fixed_bank),
        heldout=len(heldout),
        log_path=log_path,
        progress=progress,
        say=say,
    )
