"""The shared answer path: follow-ups and paging (the bot's More button) rank the same way."""

from __future__ import annotations

from conftest import SEEDS

from newsqa.bot.chatstate import ChatState
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.search.followup import Conversation
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


def test_more_after_a_follow_up_continues_the_same_ranking(library: Library) -> None:
    library.ingest(iter_articles([SEEDS]))
    qa = QuestionAnswerer(Searcher(library))
    conversation = Conversation().then(qa.ask(AIRBASE).turn)
    whole = qa.ask("And in April?", conversation, k=4)
    assert whole.focus == ("april",)
    first = qa.ask("And in April?", conversation, k=2)
    rest = qa.more(first.query, offset=2, k=2, focus=first.focus)
    assert [p.sentence for p in first.passages + rest.passages] == [p.sentence for p in whole.passages]
    assert [p.rank for p in rest.passages] == [3, 4]


def test_ask_returns_the_turn_and_leaves_the_callers_conversation(library: Library) -> None:
    library.ingest(iter_articles([SEEDS]))
    qa = QuestionAnswerer(Searcher(library))
    conversation = Conversation().then((AIRBASE, AIRBASE))
    answer = qa.ask("And in April?", conversation)
    assert conversation.turns == [(AIRBASE, AIRBASE)]  # as it was
    assert answer.turn == ("And in April?", "Which airbase was targeted by drones in April?")
    assert conversation.then(answer.turn).last_query == answer.query


def test_chat_state_keeps_focus_and_reads_old_state() -> None:
    state = ChatState()
    number = state.remember("Which airbase was targeted by drones in April?", ("april",))
    again = ChatState.from_json(state.to_json())
    assert again.query_of(number) == "Which airbase was targeted by drones in April?"
    assert again.focus_of(number) == ("april",)
    old = ChatState.from_json('{"turns": [], "answers": {"3": "an older query"}, "next_answer": 4}')
    assert old.query_of(3) == "an older query" and old.focus_of(3) == ()
