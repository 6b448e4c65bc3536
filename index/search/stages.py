"""The ranking as named stages, run in order over one question's Walk (walk.py).

Each stage is a small object holding only the options and sources it needs, so one can be measured off
(`newsqa eval ... --set skip=NAME`, SearchOptions.skip) and removed when it stops earning its keep.

    question    the question's vectors: the index model's, a question model's blended in
    dense       FAISS candidates, searched deeper as of a past day
    lexical     BM25 sentence matches, within a budget of common terms
    period      sentences about the days the question names
    rows        exact cosines for candidates FAISS did not find, their rows, nothing from after asking
    paragraphs  BM25 of each candidate's paragraph
    trust       how far BM25 counts, by how much of the question its best matches hold
    fuse        the weighted sum of the signals: the first ranking
    cues        lifts for the kind of answer asked for (a number, a date, a place), less for non-answers
    time        lifts for the asked days, or for recency
    focus       lifts for a follow-up's own words
    evidence    what abstaining is judged on, taken before later stages re-order (by a judge model
                where the index model's cosines are not on the threshold's scale)
    rerank      a second model's cosine in place of the index model's (--rerank-model)
    answer      the answer model's judgement of the first distinct candidates (--answer-model)
    diversify   copies counted once, at most `per_article` from one article
    vote        for a name question, a lift for the name the best sentences repeat most

The order of the additive lifts matters (floating point ties), and so does taking the evidence before
the rerank and answer stages: the abstain threshold was measured on the index model's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

import numpy as np

from ..models.embedder import Embedder, embed_queries
from ..storage.library import Library
from ..storage.store import StoredSentence
from ..text.context import embedding_text
from .cues import Expects, holds, not_an_answer
from .fusion import Scored, Weights, fuse
from .lexical import coverage, lexical_trust, within_budget
from .memory import ArticleDays, TermCounts
from .options import SearchOptions
from .places import asked_place, names_place
from .redundancy import redundancy_lifts
from .rerank import Reranker
from .timerank import TimeWeights, time_lifts
from .walk import Walk, after, distinct, lift

#: Every stage's name, in the order they run.
STAGES = (
    "question",
    "dense",
    "lexical",
    "period",
    "rows",
    "paragraphs",
    "trust",
    "fuse",
    "cues",
    "time",
    "focus",
    "evidence",
    "rerank",
    "answer",
    "diversify",
    "vote",
)

#: Stages the rest cannot do without (the walk has no ranking, or no abstain decision, without them).
REQUIRED = frozenset({"question", "rows", "fuse", "evidence", "diversify"})

#: The first BM25 matches whose coverage of the question says how far to trust BM25 (lexical_trust).
TRUST_MATCHES = 5

#: The first distinct candidates whose cosines decide abstaining (with BM25's best matches when trusted).
EVIDENCE = 5


class Stage(Protocol):
    """One step of a question's ranking: reads what earlier stages left in the walk, adds its own."""

    @property
    def name(self) -> str: ...

    def apply(self, walk: Walk) -> None: ...


class AnswerJudge(Protocol):
    """A model reading a question and candidate texts together (index/models/answer_model.py)."""

    name: str

    def scores(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        """The probability each text answers the question, by the same keys."""
        ...


@dataclass(frozen=True, slots=True)
class QuestionVectors:
    """The question's vector; with a question model (trained to land next to the sentences that answer),
    its vector blended with the index model's (`mix`), and the index model's kept apart to judge
    abstaining on (docs/model.md)."""

    name: ClassVar[str] = "question"
    library: Library
    questions: Embedder | None = None
    mix: float = 0.5

    def apply(self, walk: Walk) -> None:
        walk.judge = self.index_vector(walk.query) if self.questions is not None else None
        walk.vector = self.vector(walk.query, walk.judge)

    def index_vector(self, text: str) -> np.ndarray:
        return embed_queries(self.library.embedder, [text])[0]

    def vector(self, text: str, index_vector: np.ndarray | None = None) -> np.ndarray:
        """`text` as a question, in the index's vector space. `index_vector`: the index model's, when
        the caller has it already."""
        if self.questions is None:
            return self.index_vector(text)
        own = embed_queries(self.questions, [text])[0]
        if self.mix >= 1.0:
            return own
        base = self.index_vector(text) if index_vector is None else index_vector
        blended = self.mix * own + (1.0 - self.mix) * base
        norm = float(np.linalg.norm(blended))
        return blended / norm if norm > 0 else base


@dataclass(frozen=True, slots=True)
class DenseCandidates:
    """FAISS's nearest sentences, and their rows where they had to be read; as of a past day, searched
    deeper until enough of them predate it."""

    name: ClassVar[str] = "dense"
    library: Library
    days: ArticleDays
    candidates: int = 100

    def apply(self, walk: Walk) -> None:
        lib, when, want = self.library, walk.when, self.candidates
        k = want
        while True:
            scores, ids = lib.vectors.search(walk.vector[None, :], k)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
            if when is None or len(dense) < k:
                walk.dense, walk.read = dense, {}
                return
            rows = lib.store.sentences_by_id(dense)
            days = self.days.of({r.article for r in rows.values()})
            kept = {i: c for i, c in dense.items() if i in rows and not after(days[rows[i].article], when)}
            if len(kept) >= want // 2 or k >= 16 * want:
                walk.dense, walk.read = kept, {i: rows[i] for i in kept}
                return
            k *= 4


@dataclass(frozen=True, slots=True)
class LexicalCandidates:
    """BM25's best sentences, searched without the question's commonest words when they would make it
    score more than about `budget` sentences (lexical.within_budget)."""

    name: ClassVar[str] = "lexical"
    library: Library
    counts: TermCounts
    candidates: int = 100
    budget: int = 10_000

    def apply(self, walk: Walk) -> None:
        terms = walk.terms
        if 0 < self.budget < len(self.library.vectors) and len(terms) > 1:
            walk.match = within_budget(terms, self.counts.of(terms), self.budget)
        walk.lexical = dict(self.library.store.lexical_search(walk.match, self.candidates))


@dataclass(frozen=True, slots=True)
class PeriodCandidates:
    """Sentences speaking of the days a question names ("in March 2023"), which neither FAISS nor BM25
    may find among the rest."""

    name: ClassVar[str] = "period"
    library: Library
    limit: int = 200

    def apply(self, walk: Walk) -> None:
        if walk.when is not None and walk.when.period is not None:
            walk.about_period = self.library.store.sentences_about(walk.when.period, self.limit)


@dataclass(frozen=True, slots=True)
class Rows:
    """Every candidate's stored row; those FAISS did not find get their exact cosine, so fusion compares
    like with like; nothing published after the moment of asking stays."""

    name: ClassVar[str] = "rows"
    library: Library
    days: ArticleDays

    def apply(self, walk: Walk) -> None:
        lib, dense = self.library, walk.dense
        missing = list(dict.fromkeys(i for i in [*walk.lexical, *walk.about_period] if i not in dense))
        if missing:
            found, vecs = lib.store.live_vectors(missing, lib.dim)
            for i, cos in zip(found.tolist(), vecs @ walk.vector, strict=True):
                dense[int(i)] = float(cos)
        read = walk.read
        sentences = read | lib.store.sentences_by_id([i for i in dense if i not in read])
        when = walk.when
        if when is not None:
            days = self.days.of({row.article for row in sentences.values()})
            sentence_days = {i: days[row.article] for i, row in sentences.items()}
            future = {i for i, day in sentence_days.items() if after(day, when)}
            if future:
                sentences = {i: row for i, row in sentences.items() if i not in future}
                walk.dense = {i: c for i, c in dense.items() if i not in future}
                walk.lexical = {i: b for i, b in walk.lexical.items() if i not in future}
            walk.days = {i: sentence_days[i] for i in sentences}
        walk.sentences = sentences
        walk.texts = {i: row.text for i, row in sentences.items()}


@dataclass(frozen=True, slots=True)
class Paragraphs:
    """BM25 of each candidate's paragraph: in news, a paragraph is one to three sentences, and the one
    holding the question's words around the answer is evidence for each of its sentences."""

    name: ClassVar[str] = "paragraphs"
    library: Library
    candidates: int = 100

    def apply(self, walk: Walk) -> None:
        found = self.library.store.paragraph_search(walk.match, self.candidates)
        paragraphs = {(a, p): bm for a, p, bm in found}
        walk.in_paragraph = {
            i: bm for i, row in walk.sentences.items() if (bm := paragraphs.get((row.article, row.paragraph)))
        }


@dataclass(frozen=True, slots=True)
class LexicalTrust:
    """Both BM25 weights scaled by how much of the question BM25's best matches hold (lexical.py): a
    question sharing few words with every sentence leans on meaning."""

    name: ClassVar[str] = "trust"
    exponent: float = 1.5

    def apply(self, walk: Walk) -> None:
        lexical = walk.lexical
        best = sorted(lexical, key=lambda i: (-lexical[i], i))[:TRUST_MATCHES]
        walk.covered = {i: coverage(walk.terms, walk.sentences[i].text) for i in best if i in walk.sentences}
        walk.lexical_scale = lexical_trust(walk.covered.values(), self.exponent)


@dataclass(frozen=True, slots=True)
class Fuse:
    """The weighted sum of cosine, sentence BM25 and paragraph BM25 (fusion.py); with `bare_weight`, the
    dense signal mixes in each sentence's own cosine where it has a vector of its own."""

    name: ClassVar[str] = "fuse"
    library: Library
    weights: Weights
    bare_weight: float = 0.0

    def apply(self, walk: Walk) -> None:
        weights = self.weights
        if walk.lexical_scale != 1.0:
            weights = weights.with_lexical_scaled(walk.lexical_scale)
        if self.bare_weight:
            walk.fused = self._with_bare(walk, weights)
        else:
            walk.fused = fuse(walk.dense, walk.lexical, walk.in_paragraph, weights=weights)

    def _with_bare(self, walk: Walk, weights: Weights) -> list[Scored]:
        """`Scored.dense` keeps the headline-prefixed cosine: the abstain confidence was measured on it."""
        b, dense, q = self.bare_weight, walk.dense, walk.vector
        bare = self.library.store.bare_vectors_for(list(dense), self.library.dim)
        mixed = {i: (1 - b) * c + b * float(bare[i] @ q) if i in bare else c for i, c in dense.items()}
        fused = fuse(mixed, walk.lexical, walk.in_paragraph, weights=weights)
        return [replace(s, dense=dense[s.id]) for s in fused]


@dataclass(frozen=True, slots=True)
class CueLifts:
    """Lift sentences holding the kind of answer the question asks for (a number, a date, a name, a place
    of the kind asked), and lower those without the form of an answer (a question, a heading)."""

    name: ClassVar[str] = "cues"
    cue_weight: float = 0.1
    name_weight: float = 0.0
    place_weight: float = 0.05
    form_weight: float = 0.1

    def apply(self, walk: Walk) -> None:
        kind, question, texts = walk.kind, walk.query, walk.texts
        weight = 0.0 if kind is None else self.name_weight if kind is Expects.NAME else self.cue_weight
        place = asked_place(question) if self.place_weight else None
        form = self.form_weight
        if not weight and not form and place is None:
            return

        def bonus(s: Scored) -> float:
            text = texts.get(s.id, "")
            more = weight if kind is not None and weight and holds(kind, text, question) else 0.0
            if place is not None and names_place(place, text, question):
                more += self.place_weight
            return more - form if form and not_an_answer(text) else more

        walk.fused = lift(walk.fused, bonus)


@dataclass(frozen=True, slots=True)
class TimeLifts:
    """Lifts for evidence from or about the asked days, or a recency prior when none are named (off for
    a timeline: `Walk.prior`); timerank.py. Nothing without a moment of asking."""

    name: ClassVar[str] = "time"
    library: Library
    period_weight: float = 0.1
    recent_weight: float = 0.3
    now_weight: float = 0.3
    half_life_days: float = 7.0

    def apply(self, walk: Walk) -> None:
        when = walk.when
        if when is None:
            return
        weights = TimeWeights(
            self.period_weight,
            self.recent_weight if walk.prior else 0.0,
            self.now_weight if walk.prior else 0.0,
            self.half_life_days,
        )
        about = self.library.store.sentence_periods(walk.sentences) if when.period is not None else {}
        lifts = time_lifts(when, walk.days, about, weights)
        if lifts:
            walk.fused = lift(walk.fused, lambda s: lifts.get(s.id, 0.0))


@dataclass(frozen=True, slots=True)
class FocusLift:
    """Sentences holding the follow-up's own words come first among equals (followup.py)."""

    name: ClassVar[str] = "focus"
    weight: float = 0.3

    def apply(self, walk: Walk) -> None:
        if not walk.focus:
            return
        focus, texts, weight = [t.lower() for t in walk.focus], walk.texts, self.weight
        walk.fused = lift(walk.fused, lambda s: weight * coverage(focus, texts.get(s.id, "")))


@dataclass(frozen=True, slots=True)
class AbstainEvidence:
    """What abstaining is judged on, as the threshold was measured: the index model's cosines of the
    first distinct candidates (before a reranker, the answer model or the name vote re-order them) and
    of BM25's best matches when their coverage scaled BM25 (docs/quality.md).

    Where a question model ranked, its cosines are on another scale (trained to separate answers from
    near misses, not to say how near): the index model's question vector judges these few sentences
    (docs/model.md measures both). Where the index model itself was trained so, a `judge` (the untrained
    model whose cosines the threshold was measured on) reads the question and these few texts afresh."""

    name: ClassVar[str] = "evidence"
    library: Library
    judge: Reranker | None = None

    def apply(self, walk: Walk) -> None:
        first = distinct(walk.fused, walk.sentences, limit=EVIDENCE)
        ids = list(dict.fromkeys([s.id for s in first] + list(walk.covered)))
        dense = walk.dense
        if self.judge is not None and ids:
            walk.evidence = self.judge.cosines(walk.query, _as_indexed(self.library, ids, walk.sentences))
            return
        if walk.judge is None or not ids:
            walk.evidence = {i: dense[i] for i in ids}
            return
        lib = self.library
        found, vecs = lib.store.live_vectors(ids, lib.dim)
        judged = {int(i): float(c) for i, c in zip(found.tolist(), vecs @ walk.judge, strict=True)}
        walk.evidence = {i: judged.get(i, dense[i]) for i in ids}


def _as_indexed(
    library: Library, ids: Sequence[int], sentences: Mapping[int, StoredSentence]
) -> dict[int, str]:
    """Each candidate as "headline. sentence": the text the index embedded, and the models were trained on."""
    titles = library.store.article_titles({sentences[i].article for i in ids})
    return {i: embedding_text(titles.get(sentences[i].article, ""), sentences[i].text) for i in ids}


@dataclass(frozen=True, slots=True)
class Rerank:
    """The first `reranker.top` candidates re-scored with the reranker's cosine in place of the index
    model's, re-ordered; the rest follow (rerank.py)."""

    name: ClassVar[str] = "rerank"
    library: Library
    reranker: Reranker
    weight: float = 1.0  # the reranker's cosine's
    dense_weight: float = 0.66  # the index model's, which it replaces

    def apply(self, walk: Walk) -> None:
        top, fused = self.reranker.top, walk.fused
        head = [s for s in fused[:top] if s.id in walk.sentences]
        texts = _as_indexed(self.library, [s.id for s in head], walk.sentences)
        cosines = self.reranker.cosines(walk.query, texts)
        w, d = self.weight, self.dense_weight
        head = [replace(s, score=s.score + w * cosines[s.id] - d * s.dense) for s in head]
        head.sort(key=lambda s: (-s.score, s.id))
        walk.fused = head + fused[top:]


@dataclass(frozen=True, slots=True)
class AnswerLift:
    """The first `top` distinct candidates, each lifted by `weight` times the answer model's probability
    that it answers, re-ordered ahead of the rest (whose scores are never above theirs before the lift)."""

    name: ClassVar[str] = "answer"
    library: Library
    judge: AnswerJudge
    top: int = 10
    weight: float = 1.0

    def apply(self, walk: Walk) -> None:
        head = distinct(walk.fused, walk.sentences, limit=self.top)
        if not head:
            return
        texts = _as_indexed(self.library, [s.id for s in head], walk.sentences)
        probabilities = self.judge.scores(walk.query, texts)
        judged = [replace(s, score=s.score + self.weight * probabilities[s.id]) for s in head]
        judged.sort(key=lambda s: (-s.score, s.id))
        ids = {s.id for s in head}
        walk.fused = judged + [s for s in walk.fused if s.id not in ids]


@dataclass(frozen=True, slots=True)
class Diversify:
    """The hits: candidates still stored, copies of one text counted once, at most `per_article` from one
    article (0: no cap)."""

    name: ClassVar[str] = "diversify"
    per_article: int = 0

    def apply(self, walk: Walk) -> None:
        walk.hits = distinct(walk.fused, walk.sentences, per_article=self.per_article)


@dataclass(frozen=True, slots=True)
class NameVote:
    """For a name question ("Who ..."), a lift for the name the best `depth` hits repeat most
    (redundancy.py)."""

    name: ClassVar[str] = "vote"
    weight: float = 0.1
    depth: int = 10

    def apply(self, walk: Walk) -> None:
        if walk.kind is not Expects.NAME:
            return
        ranked = [(h.id, h.score) for h in walk.hits]
        votes = redundancy_lifts(walk.query, ranked, walk.texts, self.weight, self.depth)
        walk.hits = lift(walk.hits, lambda s: votes.get(s.id, 0.0))


def build_stages(
    options: SearchOptions,
    library: Library,
    *,
    questions: Embedder | None = None,
    reranker: Reranker | None = None,
    answers: AnswerJudge | None = None,
    judge: Reranker | None = None,
    days: ArticleDays | None = None,
    counts: TermCounts | None = None,
) -> list[Stage]:
    """The stages `options` and the models call for, in order, less those `options.skip` names.

    A stage whose weight is 0, or whose model is absent, is left out: it would change nothing. Raises
    ValueError for a name in `skip` that is not a stage, or is one the rest cannot do without.
    """
    unknown = options.skipped - set(STAGES)
    if unknown:
        raise ValueError(f"no stage {', '.join(sorted(unknown))}: the stages are {', '.join(STAGES)}")
    needed = options.skipped & REQUIRED
    if needed:
        raise ValueError(f"stage {', '.join(sorted(needed))} cannot be skipped (the others need it)")
    o = options
    days = days or ArticleDays(library)
    stages: list[Stage | None] = [
        QuestionVectors(library, questions, o.question_mix),
        DenseCandidates(library, days, o.candidates),
        LexicalCandidates(library, counts or TermCounts(library), o.candidates, o.lexical_budget),
        PeriodCandidates(library, o.period_candidates) if o.period_weight else None,
        Rows(library, days),
        Paragraphs(library, o.candidates),
        LexicalTrust(o.lexical_trust) if o.lexical_trust else None,
        Fuse(library, Weights(o.dense_weight, o.lexical_weight, o.paragraph_weight), o.bare_weight),
        CueLifts(o.cue_weight, o.name_weight, o.place_weight, o.form_weight),
        TimeLifts(library, o.period_weight, o.recent_weight, o.now_weight, o.half_life_days),
        FocusLift(o.focus_weight),
        AbstainEvidence(library, judge),
        Rerank(library, reranker, o.rerank_weight, o.dense_weight) if reranker is not None else None,
        AnswerLift(library, answers, o.answer_top, o.answer_weight)
        if answers is not None and o.answer_weight and o.answer_top
        else None,
        Diversify(o.per_article),
        NameVote(o.vote_weight, o.vote_depth) if o.vote_weight else None,
    ]
    return [s for s in stages if s is not None and s.name not in o.skipped]
