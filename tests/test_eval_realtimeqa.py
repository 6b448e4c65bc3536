"""`newsqa dev eval realtimeqa`: dated questions asked as of their day, scored by answer strings."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.evaluation.realtimeqa import first_holding, load_questions, tuning_weeks

ARTICLES = [
    {
        "id": "a-2019",
        "title": "Harbour bridge toll",
        "text": "The harbour bridge toll was set at two pounds by the council.",
        "published": "2019-05-02",
        "source": "Old Times",
    },
    {
        "id": "a-2023",
        "title": "Harbour bridge toll",
        "text": "The harbour bridge toll was raised to four pounds by the council this week.",
        "published": "2023-01-03",
        "source": "New Times",
    },
    {
        "id": "a-later",
        "title": "Harbour bridge toll",
        "text": "The harbour bridge toll was raised to nine pounds by the council.",
        "published": "2023-05-01",
        "source": "Later Times",
    },
]
QUESTIONS = [
    {
        "id": "20230106_0",
        "question": "What is the harbour bridge toll set by the council now?",
        "date": "2023-01-05",
        "answers": ["four pounds"],
    },
    {
        "id": "20230303_0",
        "question": "How much is the harbour bridge toll the council set?",
        "date": "2023-03-02",
        "answers": ["four pounds"],
    },
]


def write_set(folder: Path) -> Path:
    folder.mkdir()
    (folder / "articles.jsonl").write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n")
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return folder


def test_scoring_is_case_insensitive_and_ranked() -> None:
    assert first_holding(["nothing here", "It cost Four Pounds."], ["four pounds"]) == 2
    assert first_holding(["nothing"], ["four pounds", ""]) is None


def test_weeks_split_the_set(tmp_path: Path) -> None:
    questions = load_questions(write_set(tmp_path / "set"))
    assert [q.week for q in questions] == ["20230106", "20230303"]
    assert tuning_weeks(questions, 1) == {"20230106"}


def test_the_command_reports_both_modes_and_no_quote_after_the_date(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set")
    embedder = HashingEmbedder()
    result = CliRunner().invoke(
        main,
        ["dev", "eval", "realtimeqa", str(folder), "--work", str(tmp_path / "work"), "--json"],
        obj={"embedder_factory": lambda: embedder},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["on"]["all"]["questions"] == 2
    assert data["on"]["all"]["future_quotes"] == 0.0
    assert data["off"]["all"]["future_quotes"] > 0.0  # with time off, the later article is quoted
    assert data["on"]["all"]["sentence_at5"] == 1.0
    assert set(data["on"]) == {"tune", "all"}  # both weeks are among the first seven
