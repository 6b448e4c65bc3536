"""Training examples from open data: a question, the texts that answer it, texts that do not.

Two sources, both read as newsqa reads articles (the index's own splitter, "headline. sentence" as the
embedded text), so the encoder learns on what it will be asked to match:

* ReQA SQuAD dev, the tuning half only (the first `SQUAD_TUNING_DOCS` Wikipedia articles in file order,
  the half every weight of the ranking was already tuned on). The other half stays unseen: ReQA figures
  are reported on it.
* RealTime QA training weeks (2022-2024, never 2023 Q1): dated news-quiz questions in people's words.
  Labels are weak (an answer string in a sentence), so a sentence counts as an answer only when it holds
  an answer string as a whole word, and `select` later keeps only the ones the question is closest to.

Pure text work here; embedding and choosing among candidates is mining.py's.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsqa.index.search.lexical import coverage, query_terms
from newsqa.index.text.context import embedding_text
from newsqa.index.text.sentences import split_sentences

#: ReQA SQuAD dev articles (in file order) that tuning may read; the rest only measure.
SQUAD_TUNING_DOCS = 24

#: Sentences of a question's pages kept as candidates before embedding: the answer-bearing ones and the
#: best of the rest by shared words (embedding every sentence of 4,000 pages takes hours on two cores).
MAX_ANSWER_CANDIDATES = 6
MAX_OTHER_CANDIDATES = 24

#: An answer string this short ("4", "UK") is found in too many sentences to label anything.
MIN_ANSWER_CHARS = 3


@dataclass(slots=True)
class Example:
    """One question with the texts (as embedded) that answer it and candidate texts that do not.

    `group` names the pool it came from (a Wikipedia article, a quiz week): held-out splits are made by
    group, so no question is checked against a pool it trained on.
    """

    question: str
    positives: list[str]
    negatives: list[str]
    source: str  # "squad" or "realtimeqa"
    group: str
    answers: tuple[str, ...] = ()  # answer strings, where known: no negative may hold one
    pool: list[str] = field(default_factory=list)  # every sentence of its pool (SQuAD): all negatives


def answer_pattern(answers: Sequence[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for the answer strings long enough to mean something."""
    usable = sorted({a.strip() for a in answers if len(a.strip()) >= MIN_ANSWER_CHARS}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in usable) + r")(?!\w)", re.IGNORECASE)


def read_jsonl(path: Path) -> Iterator[dict]:
    """One JSON object a line, gzip or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def squad_examples(reqa_dir: Path, *, docs: int = SQUAD_TUNING_DOCS) -> list[Example]:
    """The questions about the first `docs` articles of a ReQA pool, each with its article's sentences."""
    sentences = list(read_jsonl(reqa_dir / "sentences.jsonl"))
    order: list[str] = []
    for s in sentences:
        if s["doc"] not in order:
            order.append(s["doc"])
    allowed = set(order[:docs])
    texts: dict[int, str] = {}
    by_doc: dict[str, list[int]] = {}
    for s in sentences:
        if s["doc"] in allowed:
            texts[int(s["id"])] = embedding_text(s["doc"].replace("_", " "), s["text"])
            by_doc.setdefault(s["doc"], []).append(int(s["id"]))
    out = []
    for q in read_jsonl(reqa_dir / "questions.jsonl"):
        if q["doc"] not in allowed:
            continue
        gold = {int(i) for i in q["answer_sentence_ids_incl_identical_text"]}
        pool = by_doc[q["doc"]]
        out.append(
            Example(
                question=q["question"],
                positives=[texts[i] for i in sorted(gold)],
                negatives=[texts[i] for i in pool if i not in gold],
                source="squad",
                group=q["doc"],
                answers=tuple(q.get("answers") or ()),
            )
        )
    return out


def page_sentences(page: dict) -> list[tuple[str, str]]:
    """A page's sentences, split as newsqa splits: (the sentence, the text the index embeds for it)."""
    text = page.get("text") or ""
    title = page.get("title") or ""
    return [
        (text[s.start : s.end], embedding_text(title, text[s.start : s.end])) for s in split_sentences(text)
    ]


def realtimeqa_candidates(data_dir: Path) -> list[Example]:
    """Each usable training question with its candidate answers and non-answers, before selection.

    Candidates come from the pages that hold an answer string (published on or before the question's
    day): sentences holding an answer string are candidate positives, the rest, ranked by the share of
    the question's words they hold, candidate hard negatives (same story, same week: the hardest kind).
    """
    questions = list(read_jsonl(data_dir / "questions.jsonl"))
    wanted = {a for q in questions for a in q["supporting_articles"]}
    pages: dict[str, list[tuple[str, str]]] = {}
    for page in read_jsonl(data_dir / "articles.jsonl.gz"):
        if page["id"] in wanted:
            pages[page["id"]] = page_sentences(page)
    out = []
    for q in questions:
        pattern = answer_pattern(q["answers"])
        if pattern is None:
            continue
        terms = query_terms(q["question"])
        answers: list[str] = []
        others: list[str] = []
        seen: set[str] = set()
        for page_id in q["supporting_articles"]:
            for sentence, text in pages.get(page_id, ()):
                if text in seen:
                    continue
                seen.add(text)
                # the sentence itself must hold the answer: a headline naming it would label every line
                (answers if pattern.search(sentence) else others).append(text)
        if not answers or not others:
            continue
        answers.sort(key=lambda t: -coverage(terms, t))
        others.sort(key=lambda t: -coverage(terms, t))
        out.append(
            Example(
                question=q["question"],
                positives=answers[:MAX_ANSWER_CANDIDATES],
                negatives=others[:MAX_OTHER_CANDIDATES],
                source="realtimeqa",
                group=q["date"],
                answers=tuple(q["answers"]),
            )
        )
    return out
