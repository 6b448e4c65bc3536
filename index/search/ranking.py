"""Hybrid search over sentences: a question's ranking as named stages (stages.py), and its passages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..models.embedder import Embedder
from ..storage.library import Library
from ..storage.store import StoredArticle, StoredSentence
from .answer import Citation, Outlet, Passage, excerpt_span
from .fusion import Scored
from .lexical import coverage
from .memory import ArticleDays, TermCounts
from .options import SearchOptions
from .rerank import Reranker
from .stages import AnswerJudge, Stage, build_stages
from .timerank import QueryTime
from .walk import Walk

__all__ = ["AnswerJudge", "Ranking", "SearchOptions", "Searcher", "answer_confidence"]


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


def answer_confidence(cosine: float, term_coverage: float) -> float:
    """How sure we are a sentence answers: meaning (cosine) and the question's own words (coverage).

    Both the abstain decision (best of the top five hits) and a follow alert (its one sentence) use it.
    Measured with `newsqa eval abstain` (docs/quality.md): questions asked of a pool without their
    article fall mostly below 0.42, questions asked with it mostly above.
    """
    return 0.5 * cosine + 0.5 * term_coverage


def verdict(walk: Walk, min_confidence: float) -> Ranking:
    """The walk's hits, or none when its evidence (stages.AbstainEvidence) falls below `min_confidence`."""
    covered, texts = walk.covered, walk.texts
    confidence = max(
        (
            answer_confidence(cos, covered[i] if i in covered else coverage(walk.terms, texts[i]))
            for i, cos in walk.evidence.items()
        ),
        default=0.0,
    )
    if confidence < min_confidence:
        return Ranking(walk.query, [], confidence)
    return Ranking(walk.query, walk.hits, confidence, {h.id: walk.sentences[h.id] for h in walk.hits})


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
        judge: Reranker | None = None,
    ) -> None:
        self.library = library
        self.options = options or SearchOptions()
        self.reranker = reranker  # a second model re-ordering the first candidates (rerank.py), opt-in
        # the model that embeds questions (index/models/question_encoder.py); None: the index's own
        self.questions = questions
        # the model judging whether each of the first candidates answers (index/models/answer_model.py)
        self.answers = answers
        # the model whose cosines of the first candidates decide abstaining, where the index model's are
        # not on the threshold's scale (stages.AbstainEvidence); None: the index model's own
        self.judge = judge
        self.term_counts = TermCounts(library)  # remembered across questions (memory.py)
        self.stages: list[Stage] = build_stages(
            self.options,
            library,
            questions=questions,
            reranker=reranker,
            answers=answers,
            judge=judge,
            days=ArticleDays(library),
            counts=self.term_counts,
        )

    def with_options(self, options: SearchOptions) -> Searcher:
        """The same search of the same library and models with other `options`: the one place that knows
        every model a searcher holds, so a copy never drops one."""
        return Searcher(
            self.library,
            options,
            reranker=self.reranker,
            questions=self.questions,
            answers=self.answers,
            judge=self.judge,
        )

    def rank(
        self, query: str, *, focus: Sequence[str] = (), when: QueryTime | None = None, prior: bool = True
    ) -> Ranking:
        """Every candidate, fused and de-duplicated, best first; empty hits when abstaining.

        `focus` words (what a follow-up added) lift the sentences that contain them. `when`: the moment
        of asking and the days asked about; nothing published after `when.as_of` is returned. `prior`:
        prefer recent coverage when the question names no days (off for a timeline).
        """
        walk = Walk(query, tuple(focus), when, prior)
        for stage in self.stages:
            stage.apply(walk)
        return verdict(walk, self.options.min_confidence)

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
