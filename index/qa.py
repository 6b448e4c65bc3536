"""Question in, Answer out: follow-up resolution, then search, then passages. Shared by every front end."""

from __future__ import annotations

from .answer import Answer
from .followup import Conversation, focus_terms, resolve
from .search import Searcher
from .textclean import clean_text


class QuestionAnswerer:
    """The one answer path the terminal, the JSON CLI, the bot and the evaluation all use."""

    def __init__(self, searcher: Searcher, *, k: int = 5) -> None:
        self.searcher = searcher
        self.k = k

    def ask(
        self,
        question: str,
        conversation: Conversation | None = None,
        *,
        k: int | None = None,
        offset: int = 0,
    ) -> Answer:
        """Answer `question`; with a conversation, resolve a follow-up against it and record the turn."""
        # as article text is cleaned: half an emoji must not break storing or printing the turn, and a
        # zero-width space must not split the word it sits in
        question = clean_text(question)
        previous = conversation.last_query if conversation else None
        query = resolve(question, previous)
        focus = tuple(focus_terms(question, previous))
        ranking = self.searcher.rank(query, focus=focus)
        passages = self.searcher.passages(ranking, offset=offset, k=k or self.k) if ranking.answered else []
        if conversation is not None:
            conversation.add(question, query)
        return Answer(question, query, bool(passages), passages, ranking.confidence, focus)

    def more(self, query: str, *, offset: int, k: int | None = None, focus: tuple[str, ...] = ()) -> Answer:
        """The next page of an earlier answer: its resolved query and focus give the same ranking again."""
        ranking = self.searcher.rank(query, focus=focus)
        passages = self.searcher.passages(ranking, offset=offset, k=k or self.k) if ranking.answered else []
        return Answer(query, query, bool(passages), passages, ranking.confidence, focus)
