"""Follow-up resolution: what is a follow-up, what it replaces, and a query that never grows."""

from __future__ import annotations

import pytest

from newsqa.index.search.followup import MAX_QUERY_WORDS, Conversation, focus_terms, is_follow_up, resolve

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
HOLMES = "Which event is Kelly Holmes running at the Norwich Union Grand Prix in Birmingham?"


@pytest.mark.parametrize(
    "question",
    [
        "And in April?",
        "What about Carolina Kluft?",
        "Who bought it?",
        "What did he say?",
        "Where is it?",
        "How much did they pay?",
        "And the non-fiction prize?",
    ],
)
def test_elliptic_questions_are_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "How many jobs were cut at Ford?",  # names its own subject
        "How much did Apple pay for it?",  # a pronoun, but a subject of its own
        "Why did the firm say its profits fell?",  # the pronoun points inside the question
        "What did the 2004 report find?",
        "Which airbase was targeted by drones?",
    ],
)
def test_questions_with_a_subject_of_their_own_are_new(question: str) -> None:
    assert not is_follow_up(question)
    assert resolve(question, AIRBASE) == question
    assert focus_terms(question, AIRBASE) == []


def test_a_new_time_replaces_the_old_one() -> None:
    assert resolve("And in April?", AIRBASE) == "Which airbase was targeted by drones in April?"


def test_a_name_alone_switches_the_subject() -> None:
    """'And Carolina Kluft?' asks the same about someone else: the old name goes, the place stays."""
    assert resolve("And Carolina Kluft?", HOLMES) == (
        "Which event is Carolina Kluft running at the Norwich Union Grand Prix in Birmingham?"
    )
    assert resolve("What about Carolina Kluft?", HOLMES).startswith("Which event is Carolina Kluft running")


def test_a_pronoun_question_leads_and_the_old_one_says_who() -> None:
    resolved = resolve("What did he say?", "Who is General McKenzie?")
    assert resolved == "What did he say? Who is General McKenzie"


def test_the_query_never_grows_turn_after_turn() -> None:
    conversation = Conversation()
    query = resolve(AIRBASE, None)
    conversation = conversation.then((AIRBASE, query))
    for i in range(60):
        question = f"And what was said about the rockets and the militias number {i} afterwards?"
        query = resolve(question, conversation.last_query)
        conversation = conversation.then((question, query))
    assert len(query.split()) <= MAX_QUERY_WORDS
    assert query.startswith("Which airbase was targeted")  # the subject stays
    assert "number 59" in query  # and the newest words are kept
    assert len(str(conversation.to_json())) < 5_000


def test_the_conversation_keeps_only_recent_turns() -> None:
    conversation = Conversation()
    for i in range(20):
        longer = conversation.then((f"q{i}", f"r{i}"))
        assert longer is not conversation and len(conversation.turns) == min(i, conversation.max_turns)
        conversation = longer
    assert len(conversation.turns) == conversation.max_turns and conversation.last_query == "r19"


@pytest.mark.parametrize(
    ("follow_up", "query"),
    [
        ("what about May?", "Which airbase was targeted by drones in May?"),
        ("And May?", "Which airbase was targeted by drones in May?"),
        ("What about Monday?", "Which airbase was targeted by drones on Monday?"),
        ("and 2022?", "Which airbase was targeted by drones in 2022?"),
        ("What about May 5?", "Which airbase was targeted by drones on May 5?"),
        ("And at noon?", "Which airbase was targeted by drones at noon?"),
        ("And last week?", "Which airbase was targeted by drones last week?"),
    ],
)
def test_a_time_named_alone_gets_the_preposition_it_needs(follow_up: str, query: str) -> None:
    assert resolve(follow_up, AIRBASE) == query
