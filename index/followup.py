"""Follow-up questions: rewrite "And in April?" into a full query using the conversation so far.

Pure text rules, no model: a follow-up is elliptic (a connective opening, few content words, or a
pronoun standing for something said before). Its slot (a time, a place) replaces the same slot of the
previous query; otherwise its words are added to the previous query's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexical import query_terms

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_TIME_WORD = (
    rf"(?:{_MONTHS}|{_DAYS}|midnight|noon|morning|afternoon|evening|night|tonight|today|yesterday|tomorrow"
    r"|weekend|(?:last|this|next)\s+(?:week|month|year|weekend)|(?:19|20)\d\d)"
)
_TIME_PHRASE = re.compile(
    rf"(?:\b(?:shortly|just|soon|early|late)\s+)?(?:\b(?:on|in|at|after|before|during|since|by|until|of)\s+)?"
    rf"(?:\bthe\s+)?(?:\b(?:early|late)\s+)?\b{_TIME_WORD}\b(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?",
    re.IGNORECASE,
)
_PLACE_PHRASE = re.compile(r"\b(?:in|at|near|from)\s+(?:the\s+)?(?:[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+)*")
_OPENERS = re.compile(
    r"^\s*(?:and|but|also|so|then|ok(?:ay)?|what\s+about|how\s+about|and\s+what\s+about|what\s+of|or)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(?:it|its|they|them|their|he|him|his|she|her|this|that|these|those|there)\b", re.I)


@dataclass
class Conversation:
    """What one chat has asked so far (the newest last), enough to resolve the next follow-up."""

    turns: list[tuple[str, str]] = field(default_factory=list)  # (question, resolved query)
    max_turns: int = 6

    def add(self, question: str, query: str) -> None:
        self.turns = [*self.turns, (question, query)][-self.max_turns :]

    @property
    def last_query(self) -> str | None:
        return self.turns[-1][1] if self.turns else None

    def to_json(self) -> dict[str, list[list[str]]]:
        return {"turns": [list(t) for t in self.turns]}

    @classmethod
    def from_json(cls, data: dict) -> Conversation:
        return cls(turns=[(str(q), str(r)) for q, r in data.get("turns", [])])


def is_follow_up(question: str) -> bool:
    terms = query_terms(question)
    if _OPENERS.match(question):
        return True
    if len(terms) <= 1:
        return True
    return bool(_PRONOUNS.search(question)) and len(terms) <= 3


def focus_terms(question: str, previous_query: str | None) -> list[str]:
    """The words a follow-up adds ("april" in "And in April?"): its point, so they must weigh most."""
    if not previous_query or not is_follow_up(question):
        return []
    return query_terms(_OPENERS.sub("", question))


def resolve(question: str, previous_query: str | None) -> str:
    """The query to search for `question`, given the previous resolved query (None at the start)."""
    question = question.strip()
    if not previous_query or not is_follow_up(question):
        return question
    rest = _OPENERS.sub("", question).strip()
    rest = rest.rstrip("?.! ").strip()
    base = previous_query.strip().rstrip("?.! ")
    if _TIME_PHRASE.search(rest):
        base = _TIME_PHRASE.sub("", base)
    if _PLACE_PHRASE.search(rest):
        base = _PLACE_PHRASE.sub("", base)
    base = re.sub(r"\s{2,}", " ", base).strip()
    if not rest:
        return previous_query
    if _PRONOUNS.search(rest) and not _OPENERS.match(question):
        # "What did he say?" : the new question leads; the old one supplies who "he" is.
        return f"{rest}? {base}"
    return f"{base} {rest}?"
