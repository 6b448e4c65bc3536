"""Turning a question into a BM25 query: pure text work, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

# Function words carry no evidence for BM25 and make FTS5 score most of the corpus: leave them out.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    also said says say tell told please much many""".split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Lower-cased content words in order, without repeats."""
    seen: dict[str, None] = {}
    for m in _WORD.finditer(text.lower()):
        word = m.group(0).replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def _same_word(a: str, b: str) -> bool:
    """A crude stem match ("drone"/"drones", "targeted"/"targets"): shared 5-letter prefix or equal."""
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def coverage(terms: list[str], text: str) -> float:
    """Fraction of `terms` that occur in `text`: absolute lexical evidence, comparable across queries."""
    if not terms:
        return 0.0
    words = {m.group(0) for m in _WORD.finditer(text.lower())}
    return sum(1 for t in terms if any(_same_word(t, w) for w in words)) / len(terms)


def lexical_trust(coverages: Iterable[float], exponent: float) -> float:
    """How far BM25 can be trusted for this question, 0..1: the best `coverage` of its words among the
    sentences BM25 ranks first, raised to `exponent`.

    Max-normalised BM25 gives its best match a full score however little of the question it holds. When
    a question is asked in its own words, the best match holds only the subject's name, which every
    sentence of the story shares, and BM25 then outvotes meaning in choosing among them; when a question
    reuses its answer's words (ReQA), the best match holds most of them and keeps its full weight.
    Measured in docs/quality.md.
    """
    if exponent <= 0:
        return 1.0
    return max(coverages, default=0.0) ** exponent


def within_budget(terms: Sequence[str], counts: Mapping[str, int], budget: int) -> list[str]:
    """The terms to search with, so BM25 scores at most about `budget` matching sentences.

    FTS5 scores every sentence that matches any term, so a million-sentence index pays for "us" or
    "year" in one in ten sentences. The commonest terms go first (they carry the least evidence, BM25's
    idf says as much); the rarest always stays. `budget` <= 0: no limit.
    """
    if budget <= 0:
        return list(terms)
    kept = list(terms)
    for term in sorted(terms, key=lambda t: (-counts.get(t, 0), t)):
        if len(kept) <= 1 or sum(counts.get(t, 0) for t in kept) <= budget:
            break
        kept.remove(term)
    return kept
