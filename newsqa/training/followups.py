"""Follow-up questions for training, made from the training questions themselves.

In a chat, a follow-up reaches the models as search/followup.py resolves it: the previous query with the
new question's words after it ("How many flights did Lufthansa scrap when Bush flew in how many ran
late?"). A model trained on single questions reads such a query as two questions and answers the first
(docs/model.md). So a share of each step's questions are asked as a second turn: another question of the
same pool (a Wikipedia article, a quiz day) asked first, then this one with "And", resolved by the
product's own rules. The answer is still this question's; the previous question's answer is a negative.
Pure functions: the caller draws with its seeded `random.Random`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from newsqa.index.search.followup import resolve

from .examples import Example

# A question opening with one of these reads on after "And" in lower case ("And how many ran late?");
# any other first word (a name) keeps its capital.
_QUESTION_WORDS = frozenset(
    "what who whom whose which when where why how is are was were do does did can could will would "
    "should has have had in on at for by from".split()
)


@dataclass(frozen=True, slots=True)
class Turn:
    """A training question as the step asks it: `example` with `question` in its place and, for a
    follow-up, the previous question's answer, which the step always includes as a negative."""

    example: Example
    question: str
    previous_answer: str | None = None


def as_second_turn(question: str, previous: str) -> str:
    """`question` asked after `previous` with "And", as search resolves it."""
    first, _, rest = question.strip().partition(" ")
    if first.lower() in _QUESTION_WORDS:
        first = first.lower()
    return resolve(f"And {first} {rest}".strip(), previous)


def same_pool(examples: Sequence[Example]) -> dict[int, list[int]]:
    """For each example's index, the indices of the other examples of its pool (its `group`)."""
    by_group: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_group.setdefault(e.group, []).append(i)
    return {i: [j for j in by_group[e.group] if j != i] for i, e in enumerate(examples)}


def step_turns(
    examples: Sequence[Example],
    indices: Sequence[int],
    partners: Mapping[int, Sequence[int]],
    share: float,
    rng: random.Random,
) -> list[Turn]:
    """The step's questions: each, with probability `share` and when its pool holds another question,
    asked as the second turn after one drawn from its pool."""
    turns = []
    for i in indices:
        e = examples[i]
        others = partners.get(i, ())
        if share > 0 and others and rng.random() < share:
            before = examples[rng.choice(others)]
            answer = rng.choice(before.positives)
            previous = None if answer in e.positives else answer
            turns.append(Turn(e, as_second_turn(e.question, before.question), previous))
        else:
            turns.append(Turn(e, e.question))
    return turns
