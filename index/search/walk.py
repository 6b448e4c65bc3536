"""One question's way through the ranking stages (stages.py): what each stage found, for the next ones.

`Searcher.rank` starts a Walk per question, lets each stage add to it in order, and reads the ranking and
the abstain decision off the end. The helpers here are what several stages share: lifting scores and
keeping the distinct candidates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..storage.store import StoredSentence
from .cues import Expects, expected_kind
from .fusion import Scored
from .lexical import query_terms
from .timerank import QueryTime


@dataclass(slots=True)
class Walk:
    """The state of one question's ranking; each stage reads what earlier ones left and adds its own.

    Mutable on purpose: it lives for one `Searcher.rank` call, and each field is written by the stage
    named beside it (stages.py), read by the later ones.
    """

    query: str
    focus: tuple[str, ...] = ()  # a follow-up's own words
    when: QueryTime | None = None  # the moment of asking and the days asked about; None: time off
    prior: bool = True  # prefer recent coverage when the question names no days
    terms: list[str] = field(init=False)  # the question's content words
    kind: Expects | None = field(init=False)  # the kind of answer it asks for (cues.py)
    vector: np.ndarray = field(init=False)  # question: the vector searched with
    judge: np.ndarray | None = None  # question: the index model's vector, when a question model ranks
    dense: dict[int, float] = field(default_factory=dict)  # dense, rows: cosine per candidate
    read: dict[int, StoredSentence] = field(default_factory=dict)  # dense: rows it had to read
    match: list[str] = field(init=False)  # lexical: the terms BM25 searched with (within its budget)
    lexical: dict[int, float] = field(default_factory=dict)  # lexical: BM25 per sentence
    about_period: list[int] = field(default_factory=list)  # period: sentences naming the asked days
    sentences: dict[int, StoredSentence] = field(default_factory=dict)  # rows: every candidate's row
    texts: dict[int, str] = field(default_factory=dict)  # rows: every candidate's text
    days: dict[int, dt.date | None] = field(default_factory=dict)  # rows: publish day (with `when`)
    in_paragraph: dict[int, float] = field(default_factory=dict)  # paragraphs: BM25 of its paragraph
    lexical_scale: float = 1.0  # trust: how far BM25's weights count for this question
    covered: dict[int, float] = field(default_factory=dict)  # trust: BM25's best matches' coverage
    fused: list[Scored] = field(default_factory=list)  # fuse, then every lift: candidates, best first
    evidence: dict[int, float] = field(default_factory=dict)  # evidence: cosines abstaining is judged on
    hits: list[Scored] = field(default_factory=list)  # diversify, vote: the ranking returned

    def __post_init__(self) -> None:
        self.terms = query_terms(self.query)
        self.kind = expected_kind(self.query)
        self.vector = np.zeros(0, dtype=np.float32)
        self.match = self.terms


def lift(fused: list[Scored], bonus: Callable[[Scored], float]) -> list[Scored]:
    """Add `bonus` to each score and re-rank (ties by id, as `fuse` does)."""
    out = [replace(s, score=s.score + b) if (b := bonus(s)) else s for s in fused]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


_SPACE = re.compile(r"\s+")


def dedupe_key(text: str) -> str:
    """Copies of one wire story differ in spacing and case only: count them once."""
    return _SPACE.sub(" ", text).strip().lower()


def distinct(
    fused: Sequence[Scored],
    sentences: Mapping[int, StoredSentence],
    *,
    per_article: int = 0,
    limit: int | None = None,
) -> list[Scored]:
    """The candidates still stored, copies of one text (a wire story run twice) counted once, at most
    `per_article` from one article (0: no cap), the first `limit` of them (None: all)."""
    out: list[Scored] = []
    seen: set[str] = set()
    counts: dict[int, int] = {}
    for s in fused:
        if limit is not None and len(out) >= limit:
            break
        row = sentences.get(s.id)
        if row is None:  # removed after the vectors were read
            continue
        key = dedupe_key(row.text)
        if key in seen or (per_article and counts.get(row.article, 0) >= per_article):
            continue
        seen.add(key)
        counts[row.article] = counts.get(row.article, 0) + 1
        out.append(s)
    return out


def after(day: dt.date | None, when: QueryTime) -> bool:
    """Published after the moment of asking: never quoted (undated articles always may be)."""
    return day is not None and day > when.as_of
