"""What a training run does (`newsqa model train` flags); no heavy imports, so `newsqa --help` stays fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What a run does; the defaults made the shipped model (docs/model.md)."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup: float = 0.1  # share of the steps with a rising learning rate
    scale: float = 20.0  # cosine -> logit (the temperature's inverse)
    bank: int = 2048  # random pool sentences added as negatives at each step
    anchor_weight: float = 0.0  # pull toward the index model's question vector
    max_length: int = 64  # question tokens
    seed: int = 13
    threads: int = 2
    max_minutes: float = 85.0  # stop (keeping the best epoch so far) past this
    news_repeat: int = 1  # each RealTime QA question seen this many times an epoch (news in people's words)
    heldout_every: int = 10  # one pool (quiz day, Wikipedia article) in this many is held out
    teacher_weight: float = 0.0  # the teacher's ranking of each step's candidates, as a second loss
    teacher_scale: float = (
        40.0  # the teacher's cosine -> logit: nomic's cosines spread half as wide as MiniLM's
    )


@dataclass(frozen=True, slots=True)
class AnswerTrainConfig:
    """What an answer-model run does (`newsqa model train-answer`); the defaults made the shipped model."""

    layers: int = 3  # all-MiniLM-L6-v2's first layers kept: half the cost of six at answer time
    epochs: int = 2
    questions_per_step: int = 8
    group: int = 8  # texts judged per question at a step: one answer, the rest hard non-answers
    learning_rate: float = 5e-5
    warmup: float = 0.1
    max_length: int = 96  # question and "headline. sentence" tokens together
    squad_per_epoch: int = 3000  # ReQA tuning-half questions drawn afresh each epoch
    news_repeat: int = 2  # each RealTime QA question seen this many times an epoch
    heldout_questions: int = 600  # held-out questions scored after each epoch
    seed: int = 13
    threads: int = 2
    max_minutes: float = 85.0
    heldout_every: int = 10


@dataclass(frozen=True, slots=True)
class IndexTrainConfig:
    """What an index-model run does (`newsqa model train-index`); the defaults made the shipped model."""

    epochs: int = 2
    batch_size: int = 32  # questions a step; their texts are the step's candidates
    hard: int = 2  # hard non-answers per question a step, drawn from its `hard_pool` hardest
    hard_pool: int = 8
    learning_rate: float = 3e-5
    warmup: float = 0.1
    scale: float = 20.0
    max_length: int = 64  # question tokens
    text_length: int = 128  # "headline. sentence" tokens in training (the index reads up to 256)
    followup_share: float = 0.0  # questions asked as a resolved second turn (followups.py)
    followup_length: int = 96  # question tokens in a step holding such a turn (two questions run together)
    seed: int = 13
    threads: int = 2
    max_minutes: float = 85.0
    news_repeat: int = 1
    heldout_every: int = 10
