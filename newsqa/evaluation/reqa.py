"""The ReQA SQuAD dev pool as newsqa articles, indexed exactly as given (no re-splitting).

One Wikipedia article of the pool is one newsqa article: its title is the headline and its paragraphs,
rebuilt from the sentences' own offsets, are the body separated by blank lines. Each pool sentence keeps
its id, so a ranking of newsqa sentences maps straight back to the gold ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsqa.index.text.article import Article
from newsqa.index.text.sentences import Sentence

PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True, slots=True)
class PoolSentence:
    id: int
    text: str
    doc: str
    para: int
    start: int  # offset in its paragraph
    end: int


@dataclass(frozen=True, slots=True)
class Question:
    qid: str
    question: str
    doc: str
    gold: frozenset[int]  # ids of the sentences that hold the answer (identical text included)


@dataclass
class Pool:
    """The articles to index, how each splits into the pool's sentences, and which id each span is."""

    articles: list[Article] = field(default_factory=list)
    spans: dict[str, list[Sentence]] = field(default_factory=dict)  # article id -> its sentences
    ids: dict[tuple[str, int], int] = field(default_factory=dict)  # (article id, position) -> pool id
    docs: list[str] = field(default_factory=list)  # in file order

    def splitter(self, article: Article) -> list[Sentence]:
        """The `Library.ingest` hook: the pool's own sentence boundaries."""
        return self.spans[article.id]


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_sentences(path: Path) -> list[PoolSentence]:
    return [
        PoolSentence(int(r["id"]), r["text"], r["doc"], int(r["para"]), int(r["start"]), int(r["end"]))
        for r in read_jsonl(path)
    ]


def load_questions(path: Path) -> list[Question]:
    return [
        Question(
            str(r["qid"]), r["question"], r["doc"], frozenset(r["answer_sentence_ids_incl_identical_text"])
        )
        for r in read_jsonl(path)
    ]


def paragraph_text(sentences: list[PoolSentence]) -> str:
    """A paragraph rebuilt from its sentences: each at its own offset, the gaps filled with spaces."""
    out: list[str] = []
    length = 0
    for s in sorted(sentences, key=lambda s: s.start):
        if s.start < length:
            raise ValueError(f"sentence {s.id} overlaps the one before it")
        out.append(" " * (s.start - length))
        out.append(s.text)
        length = s.start + len(s.text)
    return "".join(out)


def build_pool(sentences: list[PoolSentence]) -> Pool:
    """Group the sentences into articles (document order kept) with spans into the rebuilt text."""
    pool = Pool()
    by_doc: dict[str, dict[int, list[PoolSentence]]] = {}
    for s in sentences:
        by_doc.setdefault(s.doc, {}).setdefault(s.para, []).append(s)
    for doc, paragraphs in by_doc.items():
        parts: list[str] = []
        spans: list[Sentence] = []
        offset = 0
        for number, para in enumerate(sorted(paragraphs)):
            ordered = sorted(paragraphs[para], key=lambda s: s.start)
            if parts:
                parts.append(PARAGRAPH_BREAK)
                offset += len(PARAGRAPH_BREAK)
            parts.append(paragraph_text(ordered))
            for s in ordered:
                pool.ids[(doc, len(spans))] = s.id
                spans.append(Sentence(offset + s.start, offset + s.start + len(s.text), number, len(spans)))
            offset += len(parts[-1])
        pool.articles.append(Article(id=doc, title=doc.replace("_", " "), text="".join(parts)))
        pool.spans[doc] = spans
        pool.docs.append(doc)
    return pool


def load_pool(directory: Path) -> tuple[Pool, list[Question]]:
    """sentences.jsonl and questions.jsonl of a ReQA pool directory."""
    directory = Path(directory)
    return build_pool(load_sentences(directory / "sentences.jsonl")), load_questions(
        directory / "questions.jsonl"
    )
