"""Follow-ups made from the training questions for the index model: asked as search resolves a second
turn, the previous question's answer a negative, and no draw at all when the share is 0 (so a run
without them reproduces the weights it made before)."""

from __future__ import annotations

import random

from newsqa.index.search.followup import resolve
from newsqa.training.config import IndexTrainConfig
from newsqa.training.examples import Example
from newsqa.training.followups import as_second_turn, same_pool, step_turns
from newsqa.training.index_trainer import step_texts


def _example(question: str, answer: str, group: str) -> Example:
    return Example(question, [answer], [f"{answer} (not quite)", "unrelated"], "squad", group)


EXAMPLES = [
    _example(
        "How many flights did Lufthansa scrap when Bush flew into Frankfurt?", "Lufthansa scrapped 60.", "a"
    ),
    _example("How many ran late?", "Another 92 ran late.", "a"),
    _example("Who won the Super Bowl?", "The Patriots won.", "b"),
]


def test_a_second_turn_reads_as_search_resolves_it() -> None:
    first, second = EXAMPLES[0].question, EXAMPLES[1].question
    asked = as_second_turn(second, first)
    assert asked == resolve("And how many ran late?", first)
    assert asked == "How many flights did Lufthansa scrap when Bush flew into Frankfurt how many ran late?"
    # a name keeps its capital; a time replaces the previous turn's time, as in a chat
    assert as_second_turn("Obama said what?", "What did he say?").endswith("Obama said what?")
    assert as_second_turn("Who was hit in April?", "Which airbase was hit in March?") == (
        "Which airbase was hit who was hit in April?"
    )


def test_partners_come_from_the_same_pool() -> None:
    assert same_pool(EXAMPLES) == {0: [1], 1: [0], 2: []}


def test_every_question_with_a_partner_becomes_a_second_turn_at_share_one() -> None:
    turns = step_turns(EXAMPLES, [0, 1, 2], same_pool(EXAMPLES), 1.0, random.Random(0))
    assert turns[0].question == as_second_turn(EXAMPLES[0].question, EXAMPLES[1].question)
    assert turns[0].previous_answer == "Another 92 ran late."  # the other turn's answer: a negative
    assert turns[1].previous_answer == "Lufthansa scrapped 60."
    assert turns[2].question == EXAMPLES[2].question and turns[2].previous_answer is None  # alone in its pool
    texts = step_texts(turns, IndexTrainConfig(hard=1, hard_pool=2), random.Random(0))
    assert "Another 92 ran late." in texts and "Lufthansa scrapped 60." in texts


def test_share_zero_draws_nothing() -> None:
    rng = random.Random(7)
    turns = step_turns(EXAMPLES, [0, 1, 2], same_pool(EXAMPLES), 0.0, rng)
    assert [t.question for t in turns] == [e.question for e in EXAMPLES]
    assert all(t.previous_answer is None for t in turns)
    assert rng.random() == random.Random(7).random()
