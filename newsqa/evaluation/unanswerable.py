"""Unanswerable questions: does the bot abstain when no article answers?

The set (tests/data/unanswerable.jsonl) holds questions that no article of the collection answers, in
people's own words. One line: {"id", "question", "kind"}, where kind is "near" (the collection covers
the subject but does not state the fact asked for) or "off" (the subject is absent). No article ids: the
articles come from the data files given on the command line.

Every question is asked alone (a fresh `Conversation`) through `QuestionAnswerer.ask`, the bot's own
answer path. Recorded: whether it answered, and the ranking's confidence (the evidence the abstain
decision is made on, computed the same whatever the threshold), so the share abstained at any other
threshold is the share whose confidence falls below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer

from .paraphrases import SetError, read_set

KINDS = ("near", "off")

#: Thresholds the share abstained is also reported at, besides the current one.
THRESHOLDS = (0.35, 0.40, 0.42, 0.45, 0.50)


@dataclass(frozen=True, slots=True)
class Unanswerable:
    id: str
    question: str
    kind: str  # "near" or "off"
    where: str = ""  # "file:line", for messages


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    kind: str
    answered: bool  # False: the bot abstained (the right outcome here)
    confidence: float  # the ranking's confidence, compared with the abstain threshold
    top: str = ""  # the first passage's sentence when it answered, to read what it took for an answer


@dataclass(frozen=True, slots=True)
class Figures:
    questions: int
    abstained: float  # share abstained as asked (the current threshold)
    at: dict[float, float]  # share abstained at other thresholds, from the confidences

    def to_dict(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "abstained": round(self.abstained, 4),
            "abstained_at": {f"{t:.2f}": round(v, 4) for t, v in self.at.items()},
        }


def _row(raw: str, where: str) -> Unanswerable:
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SetError(f"{where}: not JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise SetError(f"{where}: expected one JSON object per line")
    missing = [k for k in ("id", "question", "kind") if k not in row]
    if missing:
        raise SetError(f"{where}: missing {', '.join(missing)}")
    for name in ("id", "question"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise SetError(f"{where}: {name} must be a non-empty string")
    if row["kind"] not in KINDS:
        raise SetError(f"{where}: kind must be one of {', '.join(KINDS)}, not {row['kind']!r}")
    return Unanswerable(row["id"], row["question"], row["kind"], where)


def load_unanswerable(path: Path) -> list[Unanswerable]:
    """The set's questions in file order; a malformed line or a repeated id raises SetError naming it."""
    return read_set(path, _row)


def evaluate(qa: QuestionAnswerer, items: Sequence[Unanswerable], *, k: int = 5) -> list[Outcome]:
    """Every question alone, as after /reset."""
    out: list[Outcome] = []
    for q in items:
        answer = qa.ask(q.question, Conversation(), k=k)
        top = answer.passages[0].sentence if answer.answered and answer.passages else ""
        out.append(Outcome(q.id, q.kind, answer.answered, answer.confidence, top))
    return out


def figures(outcomes: Sequence[Outcome], thresholds: Iterable[float] = THRESHOLDS) -> Figures:
    """The share abstained as asked, and at each of `thresholds` (confidence below it: abstain)."""
    n = len(outcomes)

    def share(flags: Iterable[bool]) -> float:
        return sum(flags) / n if n else 0.0

    return Figures(
        n,
        share(not o.answered for o in outcomes),
        {t: share(o.confidence < t for o in outcomes) for t in sorted(thresholds)},
    )


def by_kind(outcomes: Sequence[Outcome], thresholds: Iterable[float] = THRESHOLDS) -> dict[str, Figures]:
    """Figures per kind present ("near", "off"), then "all"."""
    ts = tuple(thresholds)
    out = {kind: figures([o for o in outcomes if o.kind == kind], ts) for kind in KINDS}
    out = {kind: f for kind, f in out.items() if f.questions}
    out["all"] = figures(outcomes, ts)
    return out


def render(rows: dict[str, Figures], current: float, title: str) -> str:
    thresholds = list(next(iter(rows.values())).at) if rows else list(THRESHOLDS)
    lines = [
        title,
        "",
        f"Share abstained (the right outcome: no article answers these): as asked, at the current"
        f" threshold {current:.2f}, and at other thresholds from each ranking's confidence.",
        "",
        "| kind | questions | abstained (current) | " + " | ".join(f"at {t:.2f}" for t in thresholds) + " |",
        "|---|---|---|" + "---|" * len(thresholds),
    ]
    for kind, f in rows.items():
        cells = " | ".join(f"{v:.3f}" for v in f.at.values())
        lines.append(f"| {kind} | {f.questions} | {f.abstained:.3f} | {cells} |")
    return "\n".join(lines)


def answered_lines(items: Sequence[Unanswerable], outcomes: Sequence[Outcome]) -> list[str]:
    """One line per question the bot answered: what it was asked and what it quoted first."""
    return [
        f"- {q.id} ({q.kind}, confidence {o.confidence:.3f}): {q.question!r} -> {o.top!r}"
        for q, o in zip(items, outcomes, strict=True)
        if o.answered
    ]
