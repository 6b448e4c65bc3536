"""Follow-up questions: rewrite "And in April?" into a full query using the conversation so far.

Pure text rules, no model: a follow-up is elliptic (a connective opening, few content words, or a
pronoun standing for something said before); a question that names its own subject (a name, a number)
without such an opening is a new question, never rewritten. A follow-up's slot (a time, a place, or a
name standing alone: "And Carolina Kluft?") replaces the same slot of the previous query; otherwise its
words are added to the previous query's. The resolved query is capped (`MAX_QUERY_WORDS`), so it never
grows turn after turn.
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
# A time named alone ("May", "Sunday", "2023", "May 5"), without the preposition its sentence needs.
_BARE_TIME = re.compile(
    rf"(?P<month>(?:{_MONTHS})(?P<day>\s+\d{{1,2}}(?:st|nd|rd|th)?)?|(?:19|20)\d\d)"
    rf"|(?P<weekday>{_DAYS})|(?P<clock>midnight|noon)",
    re.IGNORECASE,
)
_PLACE_PHRASE = re.compile(r"\b(?:in|at|near|from)\s+(?:the\s+)?(?:[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+)*")
_OPENERS = re.compile(
    r"^\s*(?:and|but|also|so|then|ok(?:ay)?|what\s+about|how\s+about|and\s+what\s+about|what\s+of|or)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(?:it|its|they|them|their|he|him|his|she|her|this|these|those)\b", re.I)
# A capitalised word not opening the question (a name), an acronym, or a number: the question's own subject.
_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b(?:[A-Z][\w'’&.-]*[a-z0-9][\w'’&.-]*|[A-Z]{2,}s?)\b|\b\d[\d,.]*\b")
_NAME_PHRASE = re.compile(r"(?:[A-Z][\w'’&.-]+)(?:\s+(?:(?:of|the|de|la|van|von|and|&)\s+)?[A-Z][\w'’&.-]+)*")
_NOT_NAMES = {"I", "I'm", "I've", "I'd", "OK", "Ok"}
#: A resolved query keeps at most this many words: the start of the conversation's question (its
#: subject) and the newest words (what was asked last).
MAX_QUERY_WORDS = 48
_HEAD_WORDS = 16


@dataclass
class Conversation:
    """What one chat has asked so far (the newest last), enough to resolve the next follow-up."""

    turns: list[tuple[str, str]] = field(default_factory=list)  # (question, resolved query)
    max_turns: int = 6

    def then(self, turn: tuple[str, str]) -> Conversation:
        """This conversation with `turn` (question, resolved query: `Answer.turn`) added, the oldest
        forgotten past `max_turns`; this one is left as it was."""
        return Conversation([*self.turns, turn][-self.max_turns :], self.max_turns)

    @property
    def last_query(self) -> str | None:
        return self.turns[-1][1] if self.turns else None

    def to_json(self) -> dict[str, list[list[str]]]:
        return {"turns": [list(t) for t in self.turns]}

    @classmethod
    def from_json(cls, data: dict) -> Conversation:
        return cls(turns=[(str(q), str(r)) for q, r in data.get("turns", [])])


def names_own_subject(question: str) -> bool:
    """A name (not the question's first word), an acronym or a number: it says what it is about."""
    body = question.strip()
    return any(m.group(0) not in _NOT_NAMES for m in _NAME.finditer(body))


def is_follow_up(question: str) -> bool:
    """Elliptic: opens with a connective ("And ...", "What about ..."), or has hardly any content words,
    or leans on a pronoun with few words of its own, and does not name a subject of its own."""
    if _OPENERS.match(question):
        return True
    terms = query_terms(question)
    if names_own_subject(question) and len(terms) >= 2:
        return False
    if len(terms) <= 1:
        return True
    return _leans_back(question) and len(terms) <= 3


_ANTECEDENT = re.compile(r"\b(?:the|a|an|this|that)\s+[a-z][\w'’-]+", re.IGNORECASE)


def _leans_back(question: str) -> bool:
    """A pronoun with nothing before it in the question to stand for ("What did he say?"), not one that
    points inside the question itself ("Why did the firm say its profits fell?")."""
    m = _PRONOUNS.search(question)
    if m is None:
        return False
    return _ANTECEDENT.search(question[: m.start()]) is None


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
    if not rest:
        return previous_query
    if _TIME_PHRASE.search(rest):
        base = _TIME_PHRASE.sub("", base)
    if _PLACE_PHRASE.search(rest):
        base = _PLACE_PHRASE.sub("", base)
    elif _is_name_only(rest):
        swapped = _swap_subject(base, rest)
        if swapped is not None:
            return _capped(f"{swapped}?")
    base = re.sub(r"\s{2,}", " ", base).strip()
    rest = _with_preposition(rest)
    if _PRONOUNS.search(rest) and not _OPENERS.match(question):
        # "What did he say?" : the new question leads; the old one supplies who "he" is.
        return _capped(f"{rest}? {base}", keep_head=False)
    return _capped(f"{base} {rest}?")


def _with_preposition(rest: str) -> str:
    """ "May" -> "in May", "Sunday" -> "on Sunday": the time that replaced the old one reads as it did
    ("... targeted by drones in May?"), and the time rules (text/timeexpr.py) read a period from it."""
    m = _BARE_TIME.fullmatch(rest.strip())
    if m is None:
        return rest
    if m.group("clock"):
        return f"at {rest}"
    return f"on {rest}" if m.group("weekday") or m.group("day") else f"in {rest}"


def _is_name_only(rest: str) -> bool:
    """'Carolina Kluft', 'Nintendo's DS': a follow-up that only names another subject."""
    m = _NAME_PHRASE.fullmatch(rest.strip())
    return m is not None and len(rest.split()) <= 5


def _swap_subject(base: str, name: str) -> str | None:
    """The previous query about `name` instead: its first name that is not a place ("in Birmingham")."""
    places = [(m.start(), m.end()) for m in _PLACE_PHRASE.finditer(base)]
    for m in _NAME_PHRASE.finditer(base):
        if m.start() == 0 and len(m.group(0).split()) == 1:
            continue  # the question's first word ("Which", "How") is capitalised, not a name
        if any(s <= m.start() < e for s, e in places):
            continue
        return f"{base[: m.start()]}{name}{base[m.end() :]}"
    return None


def _capped(query: str, *, keep_head: bool = True) -> str:
    """At most MAX_QUERY_WORDS words: the head (the subject) and the newest words; the middle goes."""
    words = query.split()
    if len(words) <= MAX_QUERY_WORDS:
        return query
    if not keep_head:
        return " ".join(words[:MAX_QUERY_WORDS])
    tail = MAX_QUERY_WORDS - _HEAD_WORDS
    return " ".join(words[:_HEAD_WORDS] + words[-tail:])
