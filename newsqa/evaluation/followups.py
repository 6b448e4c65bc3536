"""Follow-up conversations: does the second question find its answer with the first one as context?

The sets (tests/data/followups.jsonl, tests/data/followups-hard.jsonl) name articles by id only (the seed
article, BBC articles by "section/NNN"); their text comes from the data files given on the command line
and is never copied into the repository. One line: {"id", "article", "turns": [first question,
follow-up], "expect": [words all found in the sentence that answers the follow-up]}, and optionally
"kind" (what sort of follow-up it is, e.g. "ellipsis", "pronoun", "subject", "time": figures are also
given per kind) and "also" (other article ids holding the identical answer sentence: the BBC collection
has duplicate stories, and a passage from a copy is the same answer). An article is named by its id, or
for a file by its file name (file ids are absolute paths, which differ between machines).

Each follow-up is asked twice: after its first turn in one conversation (with context) and on its own
(alone). Recorded: the rank of the answer passage among the first k returned, so hit@1 and hit@k of both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.index.search.answer import Answer
from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer


@dataclass(frozen=True, slots=True)
class Dialogue:
    id: str
    article: str  # the article id the answers come from
    turns: tuple[str, str]
    expect: tuple[str, ...]  # words all found in the sentence that answers the second turn
    kind: str = ""  # what sort of follow-up ("ellipsis", "pronoun", ...); "" when the set does not say
    also: tuple[str, ...] = ()  # other articles holding the identical answer sentence (copies)

    @property
    def articles(self) -> tuple[str, ...]:
        return (self.article, *self.also)


@dataclass(frozen=True, slots=True)
class FollowupOutcome:
    id: str
    with_context: bool  # hit@k for the second turn asked after the first
    without_context: bool  # hit@k for the second turn asked on its own
    query: str  # what the follow-up was resolved to
    rank_with_context: int | None = None  # 1-based rank of the answer passage (None: not among the k)
    rank_alone: int | None = None
    kind: str = ""

    @property
    def with_context_at_1(self) -> bool:
        return self.rank_with_context == 1

    @property
    def without_context_at_1(self) -> bool:
        return self.rank_alone == 1


@dataclass(frozen=True, slots=True)
class FollowupFigures:
    dialogues: int
    k: int
    with_context_at_1: float
    with_context_at_k: float
    alone_at_1: float
    alone_at_k: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialogues": self.dialogues,
            "hit@1_with_context": round(self.with_context_at_1, 4),
            f"hit@{self.k}_with_context": round(self.with_context_at_k, 4),
            "hit@1_without_context": round(self.alone_at_1, 4),
            f"hit@{self.k}_without_context": round(self.alone_at_k, 4),
        }


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(w, str) and w for w in value)


def load_dialogues(path: Path) -> list[Dialogue]:
    out: list[Dialogue] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            turns = row["turns"]
            if len(turns) != 2:
                raise ValueError(f"{path}:{number}: a dialogue has exactly two turns")
            also = row.get("also", [])
            if not _strings(also):
                raise ValueError(f"{path}:{number}: also must be a list of article ids")
            out.append(
                Dialogue(
                    str(row["id"]),
                    str(row["article"]),
                    (turns[0], turns[1]),
                    tuple(row["expect"]),
                    str(row.get("kind", "")),
                    tuple(also),
                )
            )
    return out


def same_article(article_id: str, name: str) -> bool:
    return article_id == name or article_id.replace("\\", "/").endswith("/" + name)


def answer_rank(answer: Answer, articles: str | Sequence[str], expect: Sequence[str], k: int) -> int | None:
    """1-based rank of the first top-k passage that is the expected sentence (all `expect` words) of one
    of `articles` (the article and its copies); None when none of the first k is."""
    names = (articles,) if isinstance(articles, str) else tuple(articles)
    for i, p in enumerate(answer.passages[:k], start=1):
        if any(same_article(p.article.id, a) for a in names) and all(w in p.sentence for w in expect):
            return i
    return None


def hit(answer: Answer, article: str | Sequence[str], expect: Sequence[str], k: int) -> bool:
    """Whether a top-k passage is the expected sentence (all `expect` words) of the expected article."""
    return answer_rank(answer, article, expect, k) is not None


def evaluate(qa: QuestionAnswerer, dialogues: Sequence[Dialogue], *, k: int = 5) -> list[FollowupOutcome]:
    """Each dialogue twice: the follow-up after its first turn, and the follow-up alone."""
    out: list[FollowupOutcome] = []
    for d in dialogues:
        first = qa.ask(d.turns[0], k=k)
        second = qa.ask(d.turns[1], Conversation().then(first.turn), k=k)
        alone = qa.ask(d.turns[1], k=k)
        with_context = answer_rank(second, d.articles, d.expect, k)
        without = answer_rank(alone, d.articles, d.expect, k)
        out.append(
            FollowupOutcome(
                d.id,
                with_context is not None,
                without is not None,
                second.query,
                with_context,
                without,
                d.kind,
            )
        )
    return out


def figures(outcomes: Sequence[FollowupOutcome], k: int) -> FollowupFigures:
    """hit@1 and hit@k of the second turns, with context and alone (an abstention is a miss)."""
    n = len(outcomes)

    def share(flags: Sequence[bool]) -> float:
        return sum(flags) / n if n else 0.0

    return FollowupFigures(
        n,
        k,
        share([o.with_context_at_1 for o in outcomes]),
        share([o.with_context for o in outcomes]),
        share([o.without_context_at_1 for o in outcomes]),
        share([o.without_context for o in outcomes]),
    )


def by_kind(outcomes: Sequence[FollowupOutcome], k: int) -> dict[str, FollowupFigures]:
    """Figures per kind of follow-up (in alphabetical order), then "all"; only "all" when the set gives
    no kinds."""
    kinds = sorted({o.kind for o in outcomes if o.kind})
    out = {kind: figures([o for o in outcomes if o.kind == kind], k) for kind in kinds}
    out["all"] = figures(outcomes, k)
    return out


def render_table(rows: dict[str, FollowupFigures]) -> str:
    """The second turns' hit@1 and hit@k, with the first turn as context and alone, one row per kind."""
    k = next(iter(rows.values())).k if rows else 5
    lines = [
        f"| kind | dialogues | with context hit@1 | with context hit@{k} | alone hit@1 | alone hit@{k} |",
        "|---|---|---|---|---|---|",
    ]
    for kind, f in rows.items():
        lines.append(
            f"| {kind} | {f.dialogues} | {f.with_context_at_1:.3f} | {f.with_context_at_k:.3f} | "
            f"{f.alone_at_1:.3f} | {f.alone_at_k:.3f} |"
        )
    return "\n".join(lines)
