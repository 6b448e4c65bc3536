"""Question-type cues: what kind of thing a question asks for, whether a sentence holds one, and whether a
sentence has the form of an answer at all.

"How many ..." is answered by a sentence with a number in it, "When ..." by one with a date, "Who ..." or
"Which team ..." by one naming someone or something the question does not; neither the
embedding nor BM25 sees that, since the answer is exactly the word the question lacks. A small boost for
sentences that hold the expected kind breaks ties among sentences about the right topic. Pure text work.
"""

from __future__ import annotations

import re
from enum import Enum


class Expects(Enum):
    NUMBER = "number"
    DATE = "date"
    NAME = "name"  # a person, a place, an organisation: "Who ...", "Which team ...", "Where ..."


_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen dozens hundreds thousands millions billions half"
).split()

_ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall|high|deep|wide|often|fast)|what (percentage|percent|"
    r"proportion|number|amount|fraction|share|size|population|age)|at what (age|rate|speed|price|cost))\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"^\s*when\b|\b(in|by|since|during|until) (what|which) (year|decade|century|month|day|era|period)\b|"
    r"\b(what|which) (year|decade|century|month|date|day)\b|\bhow long ago\b",
    re.IGNORECASE,
)
_ASKS_NAME = re.compile(
    r"^\s*(who|whom|whose|where)\b|\b(who|whom|whose)\b|\b(which|what) (company|firm|team|club|country|city|"
    r"state|nation|party|group|organi[sz]ation|agency|player|person|man|woman|leader|president|minister|"
    r"actor|actress|singer|band|star|brand|network|airline|bank|university|school|island|region|"
    r"province|town|village|court|newspaper|channel|app|website|retailer|chain|carmaker|automaker|"
    r"league|country's|former|NFL|NBA|tech|rapper|artist|author|celebrity|athlete|coach|"
    r"quarterback|senator|governor|lawmaker|official|pope|king|queen|prince|princess)\b",
    re.IGNORECASE,
)
# A capitalised word inside a sentence (not its first): a name, roughly; enough to break ties.
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'’-]+")
_DIGIT = re.compile(r"\d")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}(st|nd|rd|th) century\b", re.IGNORECASE)
_WORDS = re.compile(r"[a-z]+")


def expected_kind(question: str) -> Expects | None:
    """The kind of answer the question's wording asks for, or None when it does not say."""
    if _ASKS_DATE.search(question):
        return Expects.DATE
    if _ASKS_NUMBER.search(question):
        return Expects.NUMBER
    if _ASKS_NAME.search(question):
        return Expects.NAME
    return None


def holds(kind: Expects, sentence: str, question: str = "") -> bool:
    """Whether `sentence` contains something of that kind (a number, a date, a name the question lacks)."""
    if kind is Expects.NAME:
        asked = {w.lower() for w in _WORDS.findall(question.lower())}
        return any(m.group(0).lower().strip("'’") not in asked for m in _CAPITALISED.finditer(sentence))
    if kind is Expects.NUMBER:
        if _DIGIT.search(sentence):
            return True
        return any(w in _NUMBER_WORDS for w in _WORDS.findall(sentence.lower()))
    if _YEAR.search(sentence):
        return True
    words = _WORDS.findall(sentence.lower())
    return any(w in _MONTHS for w in words if w != "may") or "century" in words


# A statement ends in a full stop, "!", an ellipsis, or a colon or semicolon that runs on into a quote or a
# list, maybe inside closing quotes or brackets; reference marks after it ("[citation needed]", ":245") are
# no part of the sentence's form.
_STATEMENT_ENDS = frozenset(".!…:;")
_CLOSERS = "'\"”’)] \t\n"
_REFERENCES = re.compile(r"(?:\s*(?:\[[^\]]{1,40}\]|:\d+(?:[–-]\d+)?))+\s*$")
_END_CHARS = 120  # room for the ending and a few reference marks after it
# Headings and captions are short; a long run without an ending is a piece of an overlong sentence the
# splitter cut (text/sentences.py), which may well answer.
HEADING_WORDS = 20


def not_an_answer(sentence: str) -> bool:
    """A question ("How long will the strike last?") or a heading, caption or byline ("Best supporting
    actress", "Contributing: The Associated Press"): a short text without a statement's closing punctuation.

    Web pages keep their subheads and FAQ-style questions as sentences; they share a question's form and
    words, so the embedding ranks them high, yet they never state the answer. Called for every candidate
    of every question, so it reads only the last characters, and a regular expression only when a
    reference mark may end them.
    """
    text = sentence.rstrip()
    end = text[-_END_CHARS:]
    if end.endswith("]") or end[-1:].isdigit():
        end = _REFERENCES.sub("", end)
    last = end.rstrip(_CLOSERS)[-1:]
    if last == "?":
        return True
    return last not in _STATEMENT_ENDS and len(text.split()) <= HEADING_WORDS
