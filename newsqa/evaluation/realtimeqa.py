"""Dated news questions (RealTime QA, 2023 Q1): is the answer quoted when asked as of the question's date?

The set (a folder holding `questions.jsonl` and `articles.jsonl`, see its SOURCE.md) is test data only and
never part of the repository. A question counts as answered at k when one of its answer strings occurs
(case-insensitive) in the first k quoted sentences, or, less strictly, in their excerpts. The weeks of the
quiz split the set: the first `TUNING_WEEKS` to tune on, the rest to check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.index.search.answer import Answer

#: Weeks (quiz releases) tuned on; the later ones are only checked.
TUNING_WEEKS = 7


@dataclass(frozen=True, slots=True)
class DatedQuestion:
    id: str
    question: str
    date: dt.date  # ask as of this day
    answers: tuple[str, ...]
    week: str  # the quiz release, e.g. "20230106"


@dataclass(frozen=True, slots=True)
class DatedOutcome:
    id: str
    week: str
    answered: bool  # the bot quoted something (did not abstain)
    sentence_at: int | None  # 1-based rank of the first quoted sentence holding an answer string
    excerpt_at: int | None  # the same, in the excerpts
    quoted: int  # passages quoted (up to k)
    future: int  # of those, from articles published after the question's date
    newest_days: int | None  # age of the newest quoted article on the question's date


def load_questions(folder: Path) -> list[DatedQuestion]:
    path = Path(folder) / "questions.jsonl"
    out: list[DatedQuestion] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(
                    DatedQuestion(
                        str(row["id"]),
                        str(row["question"]),
                        dt.date.fromisoformat(str(row["date"])[:10]),
                        tuple(str(a) for a in row["answers"]),
                        str(row["id"]).split("_")[0],
                    )
                )
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{number}: not a dated question ({e})") from None
    return out


def tuning_weeks(questions: Sequence[DatedQuestion], n: int = TUNING_WEEKS) -> set[str]:
    return set(sorted({q.week for q in questions})[:n])


def first_holding(texts: Sequence[str], answers: Sequence[str]) -> int | None:
    """1-based position of the first text containing an answer string (case-insensitive)."""
    wanted = [a.lower() for a in answers if a.strip()]
    for rank, text in enumerate(texts, start=1):
        low = text.lower()
        if any(a in low for a in wanted):
            return rank
    return None


def _day(published: str | None) -> dt.date | None:
    if not published:
        return None
    try:
        return dt.date.fromisoformat(published[:10])
    except ValueError:
        return None


def score(q: DatedQuestion, answer: Answer) -> DatedOutcome:
    passages = answer.passages
    days = [_day(p.article.published) for p in passages]
    known = [d for d in days if d is not None]
    return DatedOutcome(
        q.id,
        q.week,
        answer.answered,
        first_holding([p.sentence for p in passages], q.answers),
        first_holding([p.excerpt for p in passages], q.answers),
        len(passages),
        sum(1 for d in known if d > q.date),
        (q.date - max(known)).days if known else None,
    )


def evaluate(
    ask: Callable[[DatedQuestion], Answer], questions: Sequence[DatedQuestion]
) -> list[DatedOutcome]:
    return [score(q, ask(q)) for q in questions]


@dataclass(frozen=True, slots=True)
class DatedFigures:
    questions: int
    sentence_at1: float
    sentence_at5: float
    excerpt_at1: float
    excerpt_at5: float
    abstained: float
    future_quotes: float  # share of quoted passages published after their question's date
    median_newest_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def summarise(outcomes: Sequence[DatedOutcome]) -> DatedFigures:
    n = len(outcomes) or 1

    def at(ranks: list[int | None], k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    sent = [o.sentence_at for o in outcomes]
    exc = [o.excerpt_at for o in outcomes]
    quoted = sum(o.quoted for o in outcomes)
    ages = sorted(o.newest_days for o in outcomes if o.newest_days is not None)
    return DatedFigures(
        len(outcomes),
        at(sent, 1),
        at(sent, 5),
        at(exc, 1),
        at(exc, 5),
        sum(1 for o in outcomes if not o.answered) / n,
        sum(o.future for o in outcomes) / quoted if quoted else 0.0,
        float(ages[len(ages) // 2]) if ages else None,
    )


def split(outcomes: Sequence[DatedOutcome], tuning: set[str]) -> dict[str, DatedFigures]:
    parts = {
        "tune": [o for o in outcomes if o.week in tuning],
        "other": [o for o in outcomes if o.week not in tuning],
        "all": list(outcomes),
    }
    return {name: summarise(part) for name, part in parts.items() if part}


def render(rows: dict[str, dict[str, DatedFigures]], title: str) -> str:
    """One row per (time handling, split)."""
    lines = [
        title,
        "",
        "answer@k: an answer string in the first k quoted sentences / excerpts; an abstention is a miss.",
        "",
        "| time | split | questions | sent@1 | sent@5 | exc@1 | exc@5 | abstained | quotes after date |"
        " newest quote, median age (days) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, figures in rows.items():
        for name, f in figures.items():
            age = "-" if f.median_newest_days is None else f"{f.median_newest_days:.0f}"
            lines.append(
                f"| {mode} | {name} | {f.questions} | {f.sentence_at1:.3f} | {f.sentence_at5:.3f} | "
                f"{f.excerpt_at1:.3f} | {f.excerpt_at5:.3f} | {f.abstained:.3f} | {f.future_quotes:.3f} | "
                f"{age} |"
            )
    return "\n".join(lines)
