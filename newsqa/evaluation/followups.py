"""Follow-up conversations: does the second question find its answer with the first one as context?

The set (tests/data/followups.jsonl) names articles by id only (the seed article, BBC articles by
"section/NNN"); their text comes from the data files given on the command line and is never copied into
the repository. One line: {"id", "article", "turns": [first question, follow-up], "expect": [words
all found in the sentence that answers the follow-up]}. An article is named by its id, or for a file by
its file name (file ids are absolute paths, which differ between machines).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsqa.index.search.answer import Answer
from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer


@dataclass(frozen=True, slots=True)
class Dialogue:
    id: str
    article: str  # the article id the answers come from
    turns: tuple[str, str]
    expect: tuple[str, ...]  # words all found in the sentence that answers the second turn


@dataclass(frozen=True, slots=True)
class FollowupOutcome:
    id: str
    with_context: bool  # hit@k for the second turn asked after the first
    without_context: bool  # hit@k for the second turn asked on its own
    query: str  # what the follow-up was resolved to


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
            out.append(
                Dialogue(str(row["id"]), str(row["article"]), (turns[0], turns[1]), tuple(row["expect"]))
            )
    return out


def same_article(article_id: str, name: str) -> bool:
    return article_id == name or article_id.replace("\\", "/").endswith("/" + name)


def hit(answer: Answer, article: str, expect: Sequence[str], k: int) -> bool:
    """Whether a top-k passage is the expected sentence (all `expect` words) of the expected article."""
    return any(
        same_article(p.article.id, article) and all(w in p.sentence for w in expect)
        for p in answer.passages[:k]
    )


def evaluate(qa: QuestionAnswerer, dialogues: Sequence[Dialogue], *, k: int = 5) -> list[FollowupOutcome]:
    """Each dialogue twice: the follow-up after its first turn, and the follow-up alone."""
    out: list[FollowupOutcome] = []
    for d in dialogues:
        conversation = Conversation()
        qa.ask(d.turns[0], conversation, k=k)
        second = qa.ask(d.turns[1], conversation, k=k)
        alone = qa.ask(d.turns[1], k=k)
        out.append(
            FollowupOutcome(
                d.id, hit(second, d.article, d.expect, k), hit(alone, d.article, d.expect, k), second.query
            )
        )
    return out
