"""Answer redundancy: a name that many of the best sentences give is likely the one a question asks for.

"Which team does Damar Hamlin play for?" is answered by the name the question lacks, and the right one
recurs across the coverage ("the Buffalo Bills safety", "the Bills said") while a stray name in one
sentence does not. Neither the embedding nor BM25 sees that: both score each sentence alone. So the names
of the first candidates vote, weighted by their scores, and a sentence holding the most voted name is
lifted (the redundancy idea of AskMSR-style question answering). Pure text work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# A run of capitalised words, with the small words names keep inside them ("Bank of England").
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|da|van|von|al|bin|and|&)?\s*[A-Z][\w'’.-]*)*")
_WORD = re.compile(r"[a-z0-9]+")
# Capitalised for reasons other than being a name: sentence starts, days, titles.
_NOT_NAMES = frozenset(
    """a an the this that these those he she it they we i you his her its their our my your who whom whose
    which what when where why how is are was were be been being do does did has have had in on at of for to
    from by with and or but as after before over under into about than then there here monday tuesday
    wednesday thursday friday saturday sunday january february march april may june july august september
    october november december mr mrs ms dr st last next new""".split()
)


def names(text: str, asked: frozenset[str]) -> set[str]:
    """The words of the names in `text` that the question does not already say, lower-cased.

    Each word counts on its own, so "Bills" votes with "Buffalo Bills" and "Benedict" with "Pope Benedict".
    """
    out: set[str] = set()
    for m in _NAME.finditer(text):
        for word in _WORD.findall(m.group(0).lower()):
            if word not in _NOT_NAMES and word not in asked:
                out.add(word)
    return out


#: Only the first this-many candidates may be lifted: the measured setting (docs/quality.md), and reading
#: the names of every candidate is the vote's main cost.
LIFTED = 40


def redundancy_lifts(
    question: str, ranked: Sequence[tuple[int, float]], texts: Mapping[int, str], weight: float, depth: int
) -> dict[int, float]:
    """Score lift per sentence id: `weight` times the share of the best name's votes its best name got.

    `ranked` is (sentence id, score), best first, without duplicate texts; the first `depth` vote, each
    with its score, and the first `LIFTED` may be lifted.
    """
    asked = frozenset(_WORD.findall(question.lower()))
    found = {i: names(texts[i], asked) for i, _ in ranked[: max(depth, LIFTED)] if i in texts}
    votes: dict[str, float] = {}
    for i, score in ranked[:depth]:
        for name in found.get(i, ()):
            votes[name] = votes.get(name, 0.0) + max(0.0, score)
    top = max(votes.values(), default=0.0)
    if weight == 0 or top <= 0:
        return {}
    out: dict[int, float] = {}
    for i, words in found.items():
        share = max((votes.get(w, 0.0) for w in words), default=0.0) / top
        if share > 0:
            out[i] = weight * share
    return out
