"""Paraphrased questions: does the bot find the answer when people ask in their own words, alone or in a chat?

The set (tests/data/paraphrases.jsonl) names each answer by article id and character offsets; the
articles' text comes from the data files given on the command line and is never copied into the
repository. One line: {"id", "article", "question", "start", "end", "expect": [a few words of the
answer sentence, a readable check], "also": [ids of other articles holding the identical sentence,
optional]}. `start` and `end` are Python str offsets into the article's text as newsqa loads it (for
the BBC collection: its `text` field).

Every question is asked twice through `QuestionAnswerer.ask`, the bot's own answer path: alone (a fresh
`Conversation`, as after /reset) and in one chat, one after another in file order, where an unrelated
question may be taken for a follow-up of the one before and rewritten (`followup.resolve`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from newsqa.index.search.answer import Answer
from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.storage.library import Library

from .metrics import first_relevant_rank


class SetError(ValueError):
    """A problem with the set file or with its answers against the articles: one line, naming where."""


@dataclass(frozen=True, slots=True)
class Paraphrase:
    id: str
    article: str
    question: str
    start: int
    end: int
    expect: tuple[str, ...]
    also: tuple[str, ...] = ()  # other articles holding the identical answer sentence (copies)
    where: str = ""  # "file:line", for messages


@dataclass(frozen=True, slots=True)
class Gold:
    """What counts as the answer to one question, in the index's own ids."""

    sentences: frozenset[int]  # stored sentence ids overlapping the answer span (and its copies)
    articles: frozenset[str]  # the article and its copies
    answer: str = ""  # the answer span's text, to find it inside a quoted excerpt


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    rank: int | None  # 1-based rank of the first answer passage among those returned (None: not returned)
    article_rank: int | None  # the same for the first passage of the right article
    excerpt_rank: int | None  # the same for an excerpt (sentence and neighbours) holding the answer
    answered: bool  # False: the bot abstained
    query: str  # what was searched (differs from the question when rewritten as a follow-up)
    rewritten: bool


@dataclass(frozen=True, slots=True)
class Figures:
    questions: int
    hit_at_1: float
    hit_at_k: float
    article_at_k: float
    abstained: float
    rewritten: int
    k: int
    excerpt_at_k: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "hit@1": round(self.hit_at_1, 4),
            f"hit@{self.k}": round(self.hit_at_k, 4),
            f"article@{self.k}": round(self.article_at_k, 4),
            f"excerpt@{self.k}": round(self.excerpt_at_k, 4),
            "abstained": round(self.abstained, 4),
            "rewritten": self.rewritten,
        }


def _row(raw: str, where: str) -> Paraphrase:
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SetError(f"{where}: not JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise SetError(f"{where}: expected one JSON object per line")
    missing = [k for k in ("id", "article", "question", "start", "end", "expect") if k not in row]
    if missing:
        raise SetError(f"{where}: missing {', '.join(missing)}")
    start, end = row["start"], row["end"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not 0 <= start < end:
        raise SetError(f"{where}: start and end must be whole numbers with 0 <= start < end")
    for name in ("id", "article", "question"):
        if not isinstance(row[name], str) or not row[name].strip():
            raise SetError(f"{where}: {name} must be a non-empty string")
    expect, also = row["expect"], row.get("also", [])
    if not isinstance(expect, list) or not expect or not all(isinstance(w, str) and w for w in expect):
        raise SetError(f"{where}: expect must be a non-empty list of words")
    if not isinstance(also, list) or not all(isinstance(a, str) and a for a in also):
        raise SetError(f"{where}: also must be a list of article ids")
    return Paraphrase(
        row["id"], row["article"], row["question"], start, end, tuple(expect), tuple(also), where
    )


class _Line(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def where(self) -> str: ...


L = TypeVar("L", bound=_Line)


def read_set(path: Path, parse: Callable[[str, str], L]) -> list[L]:
    """A hand-written set's lines in file order, each parsed by `parse(line, "file:line")`; a malformed
    line or a repeated id raises SetError naming file and line (the paraphrases, the unanswerable)."""
    out: list[L] = []
    seen: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            item = parse(line, f"{path}:{number}")
            if item.id in seen:
                raise SetError(f"{item.where}: id {item.id!r} already used at {seen[item.id]}")
            seen[item.id] = item.where
            out.append(item)
    return out


def load_paraphrases(path: Path) -> list[Paraphrase]:
    """The set's questions in file order; a malformed line raises SetError naming file and line."""
    return read_set(path, _row)


def resolve_gold(lib: Library, items: Sequence[Paraphrase]) -> dict[str, Gold]:
    """Each question's answer as stored sentence ids: those overlapping [start, end) of its article, and
    those overlapping the identical text in each `also` article. The offsets are checked against the
    indexed text (every `expect` word inside the span), so a set and an article file that disagree fail
    loudly instead of scoring zero."""
    out: dict[str, Gold] = {}
    for p in items:
        stored = lib.store.find_article(p.article)
        if stored is None:
            raise SetError(f"{p.where}: article {p.article!r} is not among the ARTICLES given")
        if p.end > len(stored.text):
            raise SetError(f"{p.where}: end {p.end} is past the end of {p.article} ({len(stored.text)})")
        answer = stored.text[p.start : p.end]
        absent = [w for w in p.expect if w not in answer]
        if absent:
            raise SetError(
                f"{p.where}: {', '.join(map(repr, absent))} not in {p.article}[{p.start}:{p.end}]"
                " (offsets do not match this article's text)"
            )
        spans = [(stored.rowid, p.start, p.end)]
        for other in p.also:
            copy = lib.store.find_article(other)
            at = copy.text.find(answer) if copy else -1
            if copy is None or at < 0:
                raise SetError(f"{p.where}: also {other!r} is not indexed or lacks the answer sentence")
            spans.append((copy.rowid, at, at + len(answer)))
        ids = {
            s.id
            for rowid, start, end in spans
            for s in lib.store.article_sentences(rowid)
            if s.start < end and start < s.end
        }
        out[p.id] = Gold(frozenset(ids), frozenset((p.article, *p.also)), answer)
    return out


def _outcome(p: Paraphrase, answer: Answer, gold: Gold) -> Outcome:
    return Outcome(
        p.id,
        first_relevant_rank((x.sentence_id for x in answer.passages), gold.sentences),
        next((i for i, x in enumerate(answer.passages, 1) if x.article.id in gold.articles), None),
        next(
            (
                i
                for i, x in enumerate(answer.passages, 1)
                if x.article.id in gold.articles and gold.answer and gold.answer in x.excerpt
            ),
            None,
        ),
        answer.answered,
        answer.query,
        answer.query != p.question,
    )


def evaluate(
    qa: QuestionAnswerer, items: Sequence[Paraphrase], gold: Mapping[str, Gold], *, k: int = 5
) -> dict[str, list[Outcome]]:
    """Every question alone (a fresh conversation each) and all in one chat, in order."""
    alone = [_outcome(p, qa.ask(p.question, Conversation(), k=k), gold[p.id]) for p in items]
    chat = Conversation()
    in_chat = []
    for p in items:
        answer = qa.ask(p.question, chat, k=k)
        chat = chat.then(answer.turn)
        in_chat.append(_outcome(p, answer, gold[p.id]))
    return {"alone": alone, "chat": in_chat}


def figures(outcomes: Sequence[Outcome], k: int) -> Figures:
    n = len(outcomes)

    def share(flags: Sequence[bool]) -> float:
        return sum(flags) / n if n else 0.0

    return Figures(
        n,
        share([o.rank == 1 for o in outcomes]),
        share([o.rank is not None and o.rank <= k for o in outcomes]),
        share([o.article_rank is not None and o.article_rank <= k for o in outcomes]),
        share([not o.answered for o in outcomes]),
        sum(o.rewritten for o in outcomes),
        k,
        share([o.excerpt_rank is not None and o.excerpt_rank <= k for o in outcomes]),
    )


def render(results: Mapping[str, Figures], title: str) -> str:
    k = next(iter(results.values())).k if results else 5
    lines = [
        title,
        "",
        f"A hit: a returned passage whose sentence overlaps the answer sentence (or its identical copy);"
        f" article@{k}: the right article among the first {k}; excerpt@{k}: the answer inside one of the"
        f" first {k} quoted excerpts (the sentence and its neighbours). An abstention counts as a miss.",
        "",
        f"| mode | questions | hit@1 | hit@{k} | excerpt@{k} | article@{k} | abstained |"
        " rewritten as follow-ups |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, f in results.items():
        lines.append(
            f"| {mode} | {f.questions} | {f.hit_at_1:.3f} | {f.hit_at_k:.3f} | {f.excerpt_at_k:.3f} | "
            f"{f.article_at_k:.3f} | "
            f"{f.abstained:.3f} | {f.rewritten} |"
        )
    return "\n".join(lines)


def changes(items: Sequence[Paraphrase], outcomes: Mapping[str, Sequence[Outcome]], k: int) -> list[str]:
    """One line per question the chat rewrote or that fares differently in the two modes."""
    out = []
    for p, a, c in zip(items, outcomes["alone"], outcomes["chat"], strict=True):
        hit_a, hit_c = (o.rank is not None and o.rank <= k for o in (a, c))
        if c.rewritten or hit_a != hit_c:
            marks = f"alone {'hit' if hit_a else 'miss'}, chat {'hit' if hit_c else 'miss'}"
            out.append(f"- {p.id} ({marks}): {p.question!r} -> {c.query!r}")
    return out
