"""SQuAD v1.1 paragraphs as newsqa articles, split by the project's own splitter.

A question is answered when a returned sentence contains one of its answer spans whole, so a sentence
boundary drawn through an answer counts against the splitter: splitting is measured too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsqa.index.text.article import Article


@dataclass(frozen=True, slots=True)
class SquadQuestion:
    qid: str
    question: str
    doc: str  # the Wikipedia article's title
    article_id: str  # the paragraph's article id in the index
    answers: tuple[tuple[int, int], ...]  # (start, end) character spans in the paragraph


@dataclass(frozen=True, slots=True)
class Squad:
    articles: list[Article]
    questions: list[SquadQuestion]
    docs: list[str]  # Wikipedia titles in file order


def paragraph_id(title: str, number: int) -> str:
    return f"{title}#{number}"


def parse_squad(data: dict) -> Squad:
    """The SQuAD JSON object -> one article per paragraph (headline: the Wikipedia title)."""
    articles: list[Article] = []
    questions: list[SquadQuestion] = []
    docs: list[str] = []
    for doc in data["data"]:
        title = doc["title"]
        docs.append(title)
        for number, para in enumerate(doc["paragraphs"]):
            aid = paragraph_id(title, number)
            articles.append(Article(id=aid, title=title.replace("_", " "), text=para["context"]))
            for qa in para["qas"]:
                spans = tuple(
                    sorted({(a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]})
                )
                questions.append(SquadQuestion(qa["id"], qa["question"], title, aid, spans))
    return Squad(articles, questions, docs)


def load_squad(path: Path) -> Squad:
    with open(path, encoding="utf-8") as f:
        return parse_squad(json.load(f))


def holds_answer(start: int, end: int, answers: Sequence[tuple[int, int]]) -> bool:
    """True when the sentence span [start, end) contains one answer span whole."""
    return any(start <= a and b <= end for a, b in answers)
