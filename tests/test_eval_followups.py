"""The follow-up evaluation: the loader (kinds, copies), hit@1 and hit@k of each turn, the figures, and
the shipped hard set's lines (well formed, without needing the BBC articles)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from newsqa.evaluation.followups import (
    Dialogue,
    FollowupOutcome,
    answer_rank,
    by_kind,
    evaluate,
    figures,
    hit,
    load_dialogues,
    render_table,
)
from newsqa.index.search.answer import Answer, Citation, Passage
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

TESTS = Path(__file__).resolve().parent
HARD = TESTS / "data" / "followups-hard.jsonl"
ARTICLE_ID = re.compile(r"^(business|entertainment|politics|sport|tech)/\d{3}$")


def passage(article: str, sentence: str) -> Passage:
    return Passage(0, sentence, sentence, (0, len(sentence)), 0.5, Citation(article, "t", None, None, None))


def answer(*passages: Passage) -> Answer:
    return Answer("q", "q", bool(passages), list(passages))


def test_answer_rank_counts_the_expected_sentence_of_the_article_or_its_copy() -> None:
    got = answer(
        passage("sport/001", "Smith scored twice in the second half."),  # right words, wrong article
        passage("sport/002", "The coach praised the crowd."),  # right article, wrong sentence
        passage("sport/003", "Smith scored twice in the second half."),  # a copy of the story
        passage("sport/002", "Smith scored twice in the second half."),
    )
    expect = ("Smith", "twice")
    assert answer_rank(got, "sport/002", expect, 5) == 4
    assert answer_rank(got, ("sport/002", "sport/003"), expect, 5) == 3
    assert answer_rank(got, "sport/002", expect, 3) is None  # not among the first k
    assert hit(got, "sport/002", expect, 5) and not hit(got, "sport/002", expect, 3)
    assert answer_rank(answer(), "sport/002", expect, 5) is None  # an abstention is a miss


def test_figures_give_hit_at_1_and_k_with_context_and_alone() -> None:
    outcomes = [
        FollowupOutcome("a", True, True, "q", 1, 2, "time"),
        FollowupOutcome("b", True, False, "q", 4, None, "time"),
        FollowupOutcome("c", False, True, "q", None, 1, "pronoun"),
        FollowupOutcome("d", False, False, "q", None, None, "pronoun"),
    ]
    f = figures(outcomes, 5)
    assert (f.dialogues, f.with_context_at_1, f.with_context_at_k) == (4, 0.25, 0.5)
    assert (f.alone_at_1, f.alone_at_k) == (0.25, 0.5)
    assert f.to_dict() == {
        "dialogues": 4,
        "hit@1_with_context": 0.25,
        "hit@5_with_context": 0.5,
        "hit@1_without_context": 0.25,
        "hit@5_without_context": 0.5,
    }
    rows = by_kind(outcomes, 5)
    assert list(rows) == ["pronoun", "time", "all"]
    assert rows["time"].with_context_at_k == 1.0 and rows["pronoun"].alone_at_1 == 0.5
    table = render_table(rows)
    assert (
        "| kind | dialogues | with context hit@1 | with context hit@5 | alone hit@1 | alone hit@5 |" in table
    )
    assert "| all | 4 | 0.250 | 0.500 | 0.250 | 0.500 |" in table
    assert list(by_kind([FollowupOutcome("x", True, True, "q", 1, 1)], 5)) == ["all"]  # a set without kinds
    assert figures([], 5).with_context_at_k == 0.0


ARTICLES = [
    Article(
        "sport/010",
        "Marathon champion returns",
        "The Kenyan runner won the city marathon in two hours and six minutes.\n\n"
        "Last year she finished third after a hamstring injury in training.",
    ),
    Article(
        "tech/010",
        "Console sales climb",
        "The games console sold three million units in Japan. Its battery lasts about five hours.",
    ),
]


@pytest.fixture
def qa(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "index", lambda: embedder, model_name=embedder.name, copy_threshold=None)
    lib.ingest(ARTICLES)
    yield QuestionAnswerer(Searcher(lib, SearchOptions()), k=5)
    lib.close()


def test_evaluate_records_the_rank_with_context_and_alone(qa: QuestionAnswerer) -> None:
    dialogues = [
        Dialogue(
            "d1",
            "tech/010",
            ("How many units did the games console sell in Japan?", "And its battery?"),
            ("five hours",),
            "ellipsis",
        ),
        Dialogue(
            "d2",
            "sport/010",
            ("How fast did the Kenyan runner win the marathon?", "Which committee met on Tuesday?"),
            ("hamstring",),
        ),
    ]
    first, second = evaluate(qa, dialogues, k=5)
    assert first.kind == "ellipsis" and "console" in first.query  # resolved against the first turn
    assert first.rank_with_context is not None and first.with_context
    assert first.with_context_at_1 == (first.rank_with_context == 1)
    assert second.rank_with_context is None and second.rank_alone is None  # nothing answers it
    assert not second.with_context and not second.without_context


def test_the_loader_reads_kinds_and_copies(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"id": "a", "article": "sport/001", "kind": "time", "turns": ["x?", "and y?"], "expect": ["y"]},
        {"id": "b", "article": "tech/002", "turns": ["x?", "y?"], "expect": ["y"], "also": ["tech/003"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    a, b = load_dialogues(path)
    assert (a.kind, a.also, a.articles) == ("time", (), ("sport/001",))
    assert (b.kind, b.articles) == ("", ("tech/002", "tech/003"))
    path.write_text(json.dumps({**rows[0], "turns": ["only one"]}) + "\n")
    with pytest.raises(ValueError, match="exactly two turns"):
        load_dialogues(path)


def test_the_hard_set_is_well_formed() -> None:
    dialogues = load_dialogues(HARD)
    assert len(dialogues) >= 44
    assert len({d.id for d in dialogues}) == len(dialogues)
    kinds = Counter(d.kind for d in dialogues)
    assert set(kinds) == {"ellipsis", "pronoun", "subject", "time"}
    assert min(kinds.values()) >= 10  # about equal shares
    assert {d.article.split("/")[0] for d in dialogues} == {
        "business",
        "entertainment",
        "politics",
        "sport",
        "tech",
    }
    assert max(Counter(d.article for d in dialogues).values()) <= 2
    easy = {d.article for d in load_dialogues(TESTS / "data" / "followups.jsonl")}
    for d in dialogues:
        assert ARTICLE_ID.match(d.article), d.id
        assert all(ARTICLE_ID.match(a) and a != d.article for a in d.also), d.id
        assert d.article not in easy, d.id
        assert all(t.strip() for t in d.turns) and d.turns[0] != d.turns[1], d.id
        assert d.expect and all(w.strip() and len(w.split()) <= 3 for w in d.expect), d.id
