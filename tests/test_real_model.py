"""The real model (all-MiniLM-L6-v2, packaged) on the seed article: what the README promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library

pytestmark = pytest.mark.slow

AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."


@pytest.fixture(scope="module")
def qa(real_embedder, tmp_path_factory: pytest.TempPathFactory) -> QuestionAnswerer:  # type: ignore[no-untyped-def]
    lib = Library(Path(tmp_path_factory.mktemp("seed")), lambda: real_embedder, model_name=real_embedder.name)
    lib.ingest(iter_articles([SEEDS]))
    return QuestionAnswerer(Searcher(lib))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which airbase was targeted by drones shortly after midnight on Sunday?", AIN),
        (
            "Why are armed groups resorting to drone attacks?",
            "Speaking with reporters, Commander General Kenneth",
        ),
        ("What was Erbil airport attacked with?", "Erbil International Airport was also targeted"),
        ("When did attacks on Iraqi bases increase?", "Attacks on Iraqi bases, especially those hosting US"),
        ("What hit near the Baghdad Diplomatic Support Center?", "The attack on the BDSC was a rocket"),
    ],
)
def test_answers_seed_questions(qa: QuestionAnswerer, question: str, expected: str) -> None:
    answer = qa.ask(question)
    assert answer.answered
    assert any(p.sentence.startswith(expected) for p in answer.passages[:2]), [
        p.sentence for p in answer.passages
    ]


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "How do I bake sourdough bread?", "Who won the 2018 World Cup final?"],
)
def test_abstains_when_articles_do_not_answer(qa: QuestionAnswerer, question: str) -> None:
    answer = qa.ask(question)
    assert not answer.answered and answer.passages == []


def test_follow_up_in_april(qa: QuestionAnswerer) -> None:
    conversation = Conversation()
    first = qa.ask("Which airbase was targeted by drones shortly after midnight on Sunday?", conversation)
    assert first.passages[0].sentence == AIN
    second = qa.ask("And in April?", conversation.then(first.turn))
    assert second.query == "Which airbase was targeted by drones in April?"
    assert second.passages[0].sentence.startswith("Erbil International Airport was also targeted")
