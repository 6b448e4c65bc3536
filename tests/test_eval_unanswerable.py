"""The unanswerable evaluation: the loader and its checks, the shares abstained per kind and threshold,
and the shipped set's lines (well formed, without needing the BBC articles)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from newsqa.evaluation.paraphrases import SetError
from newsqa.evaluation.unanswerable import (
    THRESHOLDS,
    Outcome,
    Unanswerable,
    answered_lines,
    by_kind,
    evaluate,
    figures,
    load_unanswerable,
    render,
)
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

TESTS = Path(__file__).resolve().parent
SET = TESTS / "data" / "unanswerable.jsonl"


def write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_loader_reads_the_lines_and_names_a_bad_one(tmp_path: Path) -> None:
    rows = [
        {"id": "u1", "question": "Who won?", "kind": "near"},
        {"id": "u2", "question": "How deep is it?", "kind": "off"},
    ]
    items = load_unanswerable(write(tmp_path / "ok.jsonl", rows))
    assert [(q.id, q.kind) for q in items] == [("u1", "near"), ("u2", "off")]
    assert items[0].where.endswith("ok.jsonl:1")
    bad = {
        "kind must be one of near, off": [{**rows[0], "kind": "far"}],
        "missing question": [{"id": "u1", "kind": "near"}],
        "question must be a non-empty string": [{**rows[0], "question": " "}],
        r"id 'u1' already used at .*:1": [rows[0], rows[0]],
        "expected one JSON object": [["u1"]],
    }
    for message, lines in bad.items():
        with pytest.raises(SetError, match=message):
            load_unanswerable(write(tmp_path / "bad.jsonl", lines))


def test_figures_per_kind_and_threshold() -> None:
    outcomes = [
        Outcome("a", "near", False, 0.30),
        Outcome("b", "near", True, 0.44),
        Outcome("c", "near", True, 0.60),
        Outcome("d", "off", False, 0.10),
    ]
    rows = by_kind(outcomes)
    assert list(rows) == ["near", "off", "all"]
    near = rows["near"]
    assert near.questions == 3 and near.abstained == pytest.approx(1 / 3)
    assert list(near.at) == sorted(THRESHOLDS)
    assert near.at[0.35] == pytest.approx(1 / 3) and near.at[0.45] == pytest.approx(2 / 3)
    assert near.at[0.50] == pytest.approx(2 / 3)
    assert rows["off"].abstained == 1.0 and rows["all"].abstained == 0.5
    assert rows["all"].at[0.42] == 0.5 and rows["all"].at[0.45] == 0.75
    assert figures(outcomes, [0.44]).at == {0.44: 0.5}  # a confidence equal to the threshold answers
    assert rows["all"].to_dict()["abstained_at"]["0.45"] == 0.75
    assert list(by_kind(outcomes[:1])) == ["near", "all"]  # kinds absent from the set are left out
    assert figures([]).abstained == 0.0
    table = render(rows, 0.42, "title")
    assert (
        "| kind | questions | abstained (current) | at 0.35 | at 0.40 | at 0.42 | at 0.45 | at 0.50 |"
        in table
    )
    assert "| all | 4 | 0.500 | 0.500 | 0.500 | 0.500 | 0.750 | 0.750 |" in table


@pytest.fixture
def qa(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "index", lambda: embedder, model_name=embedder.name, copy_threshold=None)
    lib.ingest(
        [
            Article(
                "tech/001",
                "Probe reaches Mars",
                "The probe reached Mars after seven months in space. It will study the planet's dust storms.",
            )
        ]
    )
    yield QuestionAnswerer(Searcher(lib, SearchOptions()), k=5)
    lib.close()


def test_evaluate_asks_each_question_alone(qa: QuestionAnswerer) -> None:
    items = [
        Unanswerable("u1", "How long did the probe take to reach Mars?", "near"),  # answered: a mistake here
        Unanswerable("u2", "Which committee met on Tuesday?", "off"),
    ]
    answered, abstained = evaluate(qa, items)
    assert answered.answered and "seven months" in answered.top
    assert not abstained.answered and abstained.top == ""
    assert abstained.confidence < qa.searcher.options.min_confidence <= answered.confidence
    lines = answered_lines(items, [answered, abstained])
    assert len(lines) == 1 and lines[0].startswith("- u1 (near, confidence")


def test_the_shipped_set_is_well_formed() -> None:
    items = load_unanswerable(SET)  # ids unique, kinds known, questions non-empty (else SetError)
    assert len(items) >= 60
    kinds = Counter(q.kind for q in items)
    assert kinds["near"] > kinds["off"] >= 10  # mostly hard: the subject is covered, the fact is not
    assert len({q.question.lower() for q in items}) == len(items)
    assert all(q.question.rstrip().endswith("?") for q in items)
    for line in SET.read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) == {"id", "question", "kind"}  # no article ids, no answers
