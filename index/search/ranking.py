"""Hybrid search over sentences: FAISS and BM25 candidates, fused, de-duplicated, with an abstain decision."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from ..embedder import Embedder, embed_queries
from ..storage.library import Library
from ..storage.store import StoredArticle, StoredSentence
from ..text.context import embedding_text
from .answer import Citation, Outlet, Passage, excerpt_span
from .cues import Expects, expected_kind, holds, not_an_answer
from .fusion import Scored, Weights, fuse
from .lexical import coverage, lexical_trust, query_terms, within_budget
from .places import asked_place, names_place
from .redundancy import redundancy_lifts
from .rerank import Reranker
from .timerank import QueryTime, TimeWeights, time_lifts


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Knobs of the ranking; defaults are the values measured best (see docs/quality.md)."""

    candidates: int = 100  # from each retriever before fusion
    dense_weight: float = 0.66  # cosine of question and "headline. sentence"
    lexical_weight: float = 0.16  # BM25 of the sentence
    paragraph_weight: float = 0.18  # BM25 of the sentence's paragraph
    min_confidence: float = 0.42  # below it the articles do not answer: abstain (docs/quality.md)
    context: int = 1  # neighbouring sentences each side in an excerpt
    per_article: int = 0  # at most this many passages from one article; 0: no cap (measured: a cap of 3
    # costs ReQA 0.013 MRR and 0.054 R@10, see docs/quality.md)
    focus_weight: float = 0.3  # added per fraction of a follow-up's own words a sentence contains
    lexical_budget: int = 10_000  # BM25 scores at most about this many matches (lexical.within_budget)
    bare_weight: float = 0.0  # share of the sentence-alone cosine in the dense signal (context.py)
    lexical_trust: float = 1.5  # both BM25 weights times (best BM25 match's share of the question's words)
    # ** this: a question sharing few words with every sentence leans on meaning (lexical.py; 0: off)
    question_mix: float = 0.5  # with a question model: its share of the question's vector, the index
    # model's the rest (an even blend, fixed before measuring: docs/model.md)
    rerank_weight: float = 1.0  # with --rerank-model: its cosine's weight, in place of the dense one
    answer_top: int = 10  # with an answer model: the first distinct candidates it judges
    answer_weight: float = 1.0  # its probability that a candidate answers, added to the candidate's score
    # (fixed before measuring: the model's judgement outweighs the other signals' spread; docs/model.md)
    cue_weight: float = 0.1  # added when a sentence holds the number or date a question asks for (cues.py)
    name_weight: float = 0.0  # the same for a name ("Who ...", "Which team ..."; cues.py)
    place_weight: float = 0.05  # the same for a place of the kind asked ("Which country ..."; places.py)
    form_weight: float = 0.1  # taken off a question or heading, which never states an answer (cues.py)
    vote_weight: float = 0.1  # for a name question: lift for the name the best sentences repeat most
    vote_depth: int = 10  # how many of the best sentences vote (redundancy.py)
    # time (timerank.py; measured on the dated news set, docs/quality.md)
    period_weight: float = 0.1  # evidence from or about the days a question names
    recent_weight: float = 0.3  # recency prior for a question that names no days
    now_weight: float = 0.3  # the same for a question about the present ("latest", "still")
    half_life_days: float = 7.0  # the prior halves every this-many days before the newest candidate
    period_candidates: int = 200  # sentences naming the asked days, added to the candidates


class AnswerJudge(Protocol):
    """A model reading a question and candidate texts together (index/models/answer_model.py)."""

    name: str

    def scores(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        """The probability each text answers the question, by the same keys."""
        ...


@dataclass(frozen=True, slots=True)
class Ranking:
    """The full ordered evidence for one query, before it is cut into pages of passages.

    `rows` holds the stored sentence of each hit as ranking read it, so turning hits into passages does
    not read them again.
    """

    query: str
    hits: list[Scored]
    confidence: float
    rows: Mapping[int, StoredSentence] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return bool(self.hits)


_SPACE = re.compile(r"\s+")


def _dedupe_key(text: str) -> str:
    """Copies of one wire story differ in spacing and case only: count them once."""
    return _SPACE.sub(" ", text).strip().lower()


def _lift(fused: list[Scored], bonus: Callable[[Scored], float]) -> list[Scored]:
    """Add `bonus` to each score and re-rank (ties by id, as `fuse` does)."""
    out = [replace(s, score=s.score + b) if (b := bonus(s)) else s for s in fused]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def _boost_focus(
    fused: list[Scored], texts: Mapping[int, str], focus: list[str], weight: float
) -> list[Scored]:
    """Re-rank so sentences holding the follow-up's own words come first among equals."""
    return _lift(fused, lambda s: weight * coverage(focus, texts.get(s.id, "")))


def _boost_cues(
    fused: list[Scored], texts: Mapping[int, str], question: str, kind: Expects | None, opts: SearchOptions
) -> list[Scored]:
    """Lift sentences holding the kind of answer the question asks for (a number, a date, a name, a
    place of the kind asked), and lower those without the form of an answer (a question, a heading)."""
    weight = 0.0 if kind is None else opts.name_weight if kind is Expects.NAME else opts.cue_weight
    place = asked_place(question) if opts.place_weight else None
    form = opts.form_weight
    if not weight and not form and place is None:
        return fused

    def bonus(s: Scored) -> float:
        text = texts.get(s.id, "")
        lift = weight if kind is not None and weight and holds(kind, text, question) else 0.0
        if place is not None and names_place(place, text, question):
            lift += opts.place_weight
        return lift - form if form and not_an_answer(text) else lift

    return _lift(fused, bonus)


def _distinct(
    fused: Sequence[Scored],
    sentences: Mapping[int, StoredSentence],
    *,
    per_article: int = 0,
    limit: int | None = None,
) -> list[Scored]:
    """The candidates still stored, copies of one text (a wire story run twice) counted once, at most
    `per_article` from one article (0: no cap), the first `limit` of them (None: all)."""
    out: list[Scored] = []
    seen: set[str] = set()
    counts: dict[int, int] = {}
    for s in fused:
        if limit is not None and len(out) >= limit:
            break
        row = sentences.get(s.id)
        if row is None:  # removed after the vectors were read
            continue
        key = _dedupe_key(row.text)
        if key in seen or (per_article and counts.get(row.article, 0) >= per_article):
            continue
        seen.add(key)
        counts[row.article] = counts.get(row.article, 0) + 1
        out.append(s)
    return out


#: The first BM25 matches whose coverage of the question says how far to trust BM25 (lexical_trust).
TRUST_MATCHES = 5

#: Terms whose sentence counts are remembered; past this the memory starts afresh (a bot sees an open set
#: of words, and each count is one cheap query to redo).
MAX_COUNTED_TERMS = 20_000


def _after(day: dt.date | None, when: QueryTime) -> bool:
    """Published after the moment of asking: never quoted (undated articles always may be)."""
    return day is not None and day > when.as_of


def answer_confidence(cosine: float, term_coverage: float) -> float:
    """How sure we are a sentence answers: meaning (cosine) and the question's own words (coverage).

    Both the abstain decision (best of the top five hits) and a follow alert (its one sentence) use it.
    Measured with `newsqa eval abstain` (docs/quality.md): questions asked of a pool without their
    article fall mostly below 0.42, questions asked with it mostly above.
    """
    return 0.5 * cosine + 0.5 * term_coverage


class Searcher:
    """Answers queries from a Library; safe to call from several threads."""

    def __init__(
        self,
        library: Library,
        options: SearchOptions | None = None,
        *,
        reranker: Reranker | None = None,
        questions: Embedder | None = None,
        answers: AnswerJudge | None = None,
    ) -> None:
        self.library = library
        self.options = options or SearchOptions()
        self.reranker = reranker  # a second model re-ordering the first candidates (rerank.py), opt-in
        # the model that embeds questions (index/models/question_encoder.py); None: the index's own
        self.questions = questions
        # the model judging whether each of the first candidates answers (index/models/answer_model.py)
        self.answers = answers
        self._counts: dict[str, int] = {}  # term -> sentences holding it, when the index had _counted
        self._counted = 0
        self._article_days: dict[int, dt.date | None] = {}

    def _term_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """Sentences per term, remembered until the index grows or shrinks by a tenth (drift is harmless:
        the counts only decide which common words to leave out)."""
        size = len(self.library.vectors)
        if abs(size - self._counted) > self._counted // 10 or len(self._counts) > MAX_COUNTED_TERMS:
            self._counts, self._counted = {}, size
        counts = self._counts
        for t in terms:
            if t not in counts:
                counts[t] = self.library.store.sentences_matching(t)
        return {t: counts[t] for t in terms}

    def _days(self, articles: set[int]) -> dict[int, dt.date | None]:
        """Publish day per article rowid, remembered (a rowid is never reused, its day never changes)."""
        missing = [a for a in articles if a not in self._article_days]
        if missing:
            if len(self._article_days) > 500_000:
                self._article_days.clear()
            self._article_days.update(self.library.store.article_days(missing))
        return {a: self._article_days.get(a) for a in articles}

    def _dense(
        self, qvec: np.ndarray, when: QueryTime | None
    ) -> tuple[dict[int, float], dict[int, StoredSentence]]:
        """FAISS candidates, and their rows where they had to be read; as of a past day, searched deeper
        until enough of them predate it."""
        lib = self.library
        want = self.options.candidates
        k = want
        while True:
            scores, ids = lib.vectors.search(qvec[None, :], k)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
            if when is None or len(dense) < k:
                return dense, {}
            rows = lib.store.sentences_by_id(dense)
            days = self._days({r.article for r in rows.values()})
            kept = {i: c for i, c in dense.items() if i in rows and not _after(days[rows[i].article], when)}
            if len(kept) >= want // 2 or k >= 16 * want:
                return kept, {i: rows[i] for i in kept}
            k *= 4

    def _fuse_with_bare(
        self,
        qvec: np.ndarray,
        dense: dict[int, float],
        lexical: Mapping[int, float],
        in_paragraph: Mapping[int, float],
        weights: Weights,
    ) -> list[Scored]:
        """Fusion whose dense signal mixes in each sentence's own cosine, where it has a vector of its own.

        `Scored.dense` keeps the headline-prefixed cosine: the abstain confidence was measured on it.
        """
        b = self.options.bare_weight
        bare = self.library.store.bare_vectors_for(list(dense), self.library.dim)
        mixed = {i: (1 - b) * c + b * float(bare[i] @ qvec) if i in bare else c for i, c in dense.items()}
        return [replace(s, dense=dense[s.id]) for s in fuse(mixed, lexical, in_paragraph, weights=weights)]

    def rank(
        self, query: str, *, focus: Sequence[str] = (), when: QueryTime | None = None, prior: bool = True
    ) -> Ranking:
        """Every candidate, fused and de-duplicated, best first; empty hits when abstaining.

        `focus` words (what a follow-up added) lift the sentences that contain them. `when`: the moment
        of asking and the days asked about; nothing published after `when.as_of` is returned. `prior`:
        prefer recent coverage when the question names no days (off for a timeline).
        """
        opts = self.options
        lib = self.library
        judge = self._index_vector(query) if self.questions is not None else None
        qvec = self.question_vector(query, judge)
        dense, read = self._dense(qvec, when)
        terms = query_terms(query)
        if 0 < opts.lexical_budget < len(lib.vectors) and len(terms) > 1:
            match = within_budget(terms, self._term_counts(terms), opts.lexical_budget)
        else:
            match = terms
        lexical = dict(lib.store.lexical_search(match, opts.candidates))
        about_period = (
            lib.store.sentences_about(when.period, opts.period_candidates)
            if when is not None and when.period is not None and opts.period_weight
            else []
        )
        missing = list(dict.fromkeys(i for i in [*lexical, *about_period] if i not in dense))
        if missing:  # lexical-only candidates get their exact cosine, so fusion compares like with like
            found, vecs = lib.store.live_vectors(missing, lib.dim)
            for i, cos in zip(found.tolist(), vecs @ qvec, strict=True):
                dense[int(i)] = float(cos)
        sentences = read | lib.store.sentences_by_id([i for i in dense if i not in read])
        lifts: dict[int, float] = {}
        if when is not None:
            days = self._days({row.article for row in sentences.values()})
            sentence_days = {i: days[row.article] for i, row in sentences.items()}
            future = {i for i, day in sentence_days.items() if _after(day, when)}
            if future:
                sentences = {i: row for i, row in sentences.items() if i not in future}
                dense = {i: c for i, c in dense.items() if i not in future}
                lexical = {i: b for i, b in lexical.items() if i not in future}
            time_weights = TimeWeights(
                opts.period_weight,
                opts.recent_weight if prior else 0.0,
                opts.now_weight if prior else 0.0,
                opts.half_life_days,
            )
            about = lib.store.sentence_periods(sentences) if when.period is not None else {}
            lifts = time_lifts(when, {i: sentence_days[i] for i in sentences}, about, time_weights)
        paragraphs = {(a, p): bm for a, p, bm in lib.store.paragraph_search(match, opts.candidates)}
        in_paragraph = {
            i: bm for i, row in sentences.items() if (bm := paragraphs.get((row.article, row.paragraph)))
        }
        weights = Weights(opts.dense_weight, opts.lexical_weight, opts.paragraph_weight)
        covered: dict[int, float] = {}  # BM25's best matches' coverage, when its weight depends on them
        if opts.lexical_trust:
            best = sorted(lexical, key=lambda i: (-lexical[i], i))[:TRUST_MATCHES]
            covered = {i: coverage(terms, sentences[i].text) for i in best if i in sentences}
            trust = lexical_trust(covered.values(), opts.lexical_trust)
            weights = weights.with_lexical_scaled(trust)
        if opts.bare_weight:
            fused = self._fuse_with_bare(qvec, dense, lexical, in_paragraph, weights)
        else:
            fused = fuse(dense, lexical, in_paragraph, weights=weights)
        texts = {i: row.text for i, row in sentences.items()}
        kind = expected_kind(query)
        fused = _boost_cues(fused, texts, query, kind, opts)
        if lifts:
            fused = _lift(fused, lambda s: lifts.get(s.id, 0.0))
        if focus:
            fused = _boost_focus(fused, texts, [t.lower() for t in focus], opts.focus_weight)
        # Whether to answer is judged on what the abstain threshold was measured with: the index model's
        # first five distinct sentences (before a reranker or the name vote re-order them) and, when BM25
        # was discounted, BM25's best matches (docs/quality.md).
        first = _distinct(fused, sentences, limit=5)
        evidence = self._judged_cosines(judge, [s.id for s in first] + list(covered), dense)
        if self.reranker is not None:
            fused = self._rerank(self.reranker, query, fused, sentences)
        if self.answers is not None and opts.answer_weight and opts.answer_top:
            fused = self._judge_answers(self.answers, query, fused, sentences)
        hits = _distinct(fused, sentences, per_article=opts.per_article)
        if kind is Expects.NAME and opts.vote_weight:
            votes = redundancy_lifts(
                query, [(h.id, h.score) for h in hits], texts, opts.vote_weight, opts.vote_depth
            )
            hits = _lift(hits, lambda s: votes.get(s.id, 0.0))
        confidence = max(
            (
                answer_confidence(cos, covered[i] if i in covered else coverage(terms, texts[i]))
                for i, cos in evidence.items()
            ),
            default=0.0,
        )
        if confidence < opts.min_confidence:
            return Ranking(query, [], confidence)
        return Ranking(query, hits, confidence, {h.id: sentences[h.id] for h in hits})

    def _index_vector(self, text: str) -> np.ndarray:
        return embed_queries(self.library.embedder, [text])[0]

    def _judged_cosines(
        self, judge: np.ndarray | None, ids: list[int], dense: Mapping[int, float]
    ) -> dict[int, float]:
        """The cosines the abstain threshold was measured on: the index model's, for the first candidates.

        Where a question model ranked, its cosines are on another scale (trained to separate answers from
        near misses, not to say how near): the index model's question vector (`judge`) judges the few
        sentences that decide abstaining (docs/model.md measures both)."""
        ids = list(dict.fromkeys(ids))
        if judge is None or not ids:
            return {i: dense[i] for i in ids}
        lib = self.library
        found, vecs = lib.store.live_vectors(ids, lib.dim)
        judged = {int(i): float(c) for i, c in zip(found.tolist(), vecs @ judge, strict=True)}
        return {i: judged.get(i, dense[i]) for i in ids}

    def question_vector(self, text: str, index_vector: np.ndarray | None = None) -> np.ndarray:
        """`text` as a question, in the index's vector space. With a question model (trained to land next
        to the sentences that answer), its vector blended with the index model's (`question_mix`), else
        the index model's alone. `index_vector`: the index model's, when the caller has it already."""
        if self.questions is None:
            return self._index_vector(text)
        own = embed_queries(self.questions, [text])[0]
        mix = self.options.question_mix
        if mix >= 1.0:
            return own
        base = self._index_vector(text) if index_vector is None else index_vector
        blended = mix * own + (1.0 - mix) * base
        norm = float(np.linalg.norm(blended))
        return blended / norm if norm > 0 else base

    def _rerank(
        self, reranker: Reranker, query: str, fused: list[Scored], sentences: Mapping[int, StoredSentence]
    ) -> list[Scored]:
        """The first `reranker.top` candidates re-scored with the reranker's cosine in place of the index
        model's (as "headline. sentence", the text the index embedded), re-ordered; the rest follow."""
        head = [s for s in fused[: reranker.top] if s.id in sentences]
        titles = self.library.store.article_titles({sentences[s.id].article for s in head})
        texts = {
            s.id: embedding_text(titles.get(sentences[s.id].article, ""), sentences[s.id].text) for s in head
        }
        cosines = reranker.cosines(query, texts)
        w, d = self.options.rerank_weight, self.options.dense_weight
        head = [replace(s, score=s.score + w * cosines[s.id] - d * s.dense) for s in head]
        head.sort(key=lambda s: (-s.score, s.id))
        return head + fused[reranker.top :]

    def _judge_answers(
        self, judge: AnswerJudge, query: str, fused: list[Scored], sentences: Mapping[int, StoredSentence]
    ) -> list[Scored]:
        """The first `answer_top` distinct candidates, each lifted by `answer_weight` times the answer
        model's probability that it answers (read as "headline. sentence", as it was trained), re-ordered
        ahead of the rest (whose scores are never above theirs before the lift)."""
        opts = self.options
        head = _distinct(fused, sentences, limit=opts.answer_top)
        if not head:
            return fused
        titles = self.library.store.article_titles({sentences[s.id].article for s in head})
        texts = {
            s.id: embedding_text(titles.get(sentences[s.id].article, ""), sentences[s.id].text) for s in head
        }
        probabilities = judge.scores(query, texts)
        judged = [replace(s, score=s.score + opts.answer_weight * probabilities[s.id]) for s in head]
        judged.sort(key=lambda s: (-s.score, s.id))
        ids = {s.id for s in head}
        return judged + [s for s in fused if s.id not in ids]

    def passages(
        self, ranking: Ranking, *, offset: int = 0, k: int = 5, context: int | None = None
    ) -> list[Passage]:
        """Turn ranked hits into cited passages with excerpts; hits whose article is gone are skipped.

        The sentences come from the ranking's own rows; only what ranking did not load is read here (the
        articles, their sentences for the excerpt, the outlets that ran the same story).
        """
        window = self.options.context if context is None else context
        articles: dict[int, _Article | None] = {}
        out: list[Passage] = []
        for rank, hit in enumerate(ranking.hits[offset:], start=offset + 1):
            if len(out) >= k:
                break
            row = ranking.rows.get(hit.id) or self.library.store.sentences_by_id([hit.id]).get(hit.id)
            if row is None:
                continue
            if row.article not in articles:
                articles[row.article] = self._article(row.article)
            found = articles[row.article]
            passage = _passage(found, row, rank, hit.score, window) if found else None
            if passage is not None:
                out.append(passage)
        return out

    def passage_of(self, sentence_id: int, *, context: int | None = None) -> Passage | None:
        """One sentence as a passage, outside any ranking (a wider excerpt on request); None when gone."""
        row = self.library.store.sentences_by_id([sentence_id]).get(sentence_id)
        found = self._article(row.article) if row else None
        window = self.options.context if context is None else context
        return _passage(found, row, 1, 1.0, window) if found and row else None

    def _article(self, rowid: int) -> _Article | None:
        """An article with its sentences and its copies' outlets, as excerpts and citations need them."""
        store = self.library.store
        article = store.get_article(rowid)
        if article is None:
            return None
        also = tuple(Outlet(*copy) for copy in store.copies_of(article.id))
        return _Article(article, store.article_sentences(rowid), also)


@dataclass(frozen=True, slots=True)
class _Article:
    """An article as passages quote it, read once however many of its sentences are hits."""

    row: StoredArticle
    sentences: list[StoredSentence]
    also: tuple[Outlet, ...]


def _passage(found: _Article, row: StoredSentence, rank: int, score: float, window: int) -> Passage | None:
    """`row` quoted with up to `window` neighbours each side; None when its article no longer holds it."""
    index = next((i for i, s in enumerate(found.sentences) if s.id == row.id), None)
    if index is None:
        return None
    spans = [(s.start, s.end) for s in found.sentences]
    start, end = excerpt_span(spans, index, window=window, max_chars=700 * max(1, window))
    article = found.row
    return Passage(
        rank=rank,
        sentence=row.text,
        excerpt=article.text[start:end],
        highlight=(row.start - start, row.end - start),
        score=score,
        article=Citation(
            article.id, article.title, article.url, article.published, article.source, found.also
        ),
        sentence_id=row.id,
        article_rowid=article.rowid,
        position=row.position,
    )
