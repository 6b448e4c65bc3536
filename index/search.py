"""Hybrid search over sentences: FAISS and BM25 candidates, fused, de-duplicated, with an abstain decision."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .answer import Citation, Outlet, Passage, excerpt_span
from .fusion import Scored, fuse
from .lexical import coverage, fts_match, query_terms
from .library import Library


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Knobs of the ranking; defaults are the values measured best (see docs/quality.md)."""

    candidates: int = 100  # from each retriever before fusion
    dense_weight: float = 0.6
    min_confidence: float = 0.3  # below this the articles do not answer: abstain (see _confidence)
    context: int = 1  # neighbouring sentences each side in an excerpt
    per_article: int = 3  # at most this many passages from one article in one answer
    focus_weight: float = 0.3  # added per fraction of a follow-up's own words a sentence contains


@dataclass(frozen=True, slots=True)
class Ranking:
    """The full ordered evidence for one query, before it is cut into pages of passages."""

    query: str
    hits: list[Scored]
    confidence: float

    @property
    def answered(self) -> bool:
        return bool(self.hits)


_SPACE = re.compile(r"\s+")


def _dedupe_key(text: str) -> str:
    """Copies of one wire story differ in spacing and case only: count them once."""
    return _SPACE.sub(" ", text).strip().lower()


def _boost_focus(
    fused: list[Scored], texts: Mapping[int, str], focus: list[str], weight: float
) -> list[Scored]:
    """Re-rank so sentences holding the follow-up's own words come first among equals."""
    out = [replace(s, score=s.score + weight * coverage(focus, texts.get(s.id, ""))) for s in fused]
    out.sort(key=lambda s: (-s.score, s.id))
    return out


def _confidence(cosine: float, term_coverage: float) -> float:
    """How sure we are a sentence answers: meaning (cosine) and the question's own words (coverage)."""
    return 0.5 * cosine + 0.5 * term_coverage


class Searcher:
    """Answers queries from a Library; safe to call from several threads."""

    def __init__(self, library: Library, options: SearchOptions | None = None) -> None:
        self.library = library
        self.options = options or SearchOptions()

    def rank(self, query: str, *, focus: Sequence[str] = ()) -> Ranking:
        """Every candidate, fused and de-duplicated, best first; empty hits when abstaining.

        `focus` words (what a follow-up added) lift the sentences that contain them.
        """
        opts = self.options
        lib = self.library
        qvec = lib.embedder.embed([query])[0]
        scores, ids = lib.vectors.search(qvec[None, :], opts.candidates)
        dense = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
        lexical = dict(lib.store.lexical_search(fts_match(query), opts.candidates))
        missing = [i for i in lexical if i not in dense]
        if missing:  # lexical-only candidates get their exact cosine, so fusion compares like with like
            vecs = lib.store.vectors_for_sentences(missing, lib.dim)
            for i, cos in zip(missing, vecs @ qvec, strict=True):
                dense[i] = float(cos)
        fused = fuse(dense, lexical, dense_weight=opts.dense_weight)
        sentences = lib.store.sentences_by_id(s.id for s in fused)
        texts = {i: row.text for i, row in sentences.items()}
        if focus:
            fused = _boost_focus(fused, texts, [t.lower() for t in focus], opts.focus_weight)
        hits: list[Scored] = []
        seen: set[str] = set()
        per_article: dict[int, int] = {}
        for s in fused:
            row = sentences.get(s.id)
            if row is None:  # removed after the vectors were read
                continue
            key = _dedupe_key(row.text)
            if key in seen or per_article.get(row.article, 0) >= opts.per_article:
                continue
            seen.add(key)
            per_article[row.article] = per_article.get(row.article, 0) + 1
            hits.append(s)
        terms = query_terms(query)
        confidence = max((_confidence(h.dense, coverage(terms, texts[h.id])) for h in hits[:5]), default=0.0)
        if confidence < opts.min_confidence:
            return Ranking(query, [], confidence)
        return Ranking(query, hits, confidence)

    def passages(
        self, ranking: Ranking, *, offset: int = 0, k: int = 5, context: int | None = None
    ) -> list[Passage]:
        """Turn ranked ids into cited passages with excerpts; ids gone since ranking are skipped."""
        store = self.library.store
        window = self.options.context if context is None else context
        out: list[Passage] = []
        for rank, hit in enumerate(ranking.hits[offset:], start=offset + 1):
            if len(out) >= k:
                break
            row = store.sentences_by_id([hit.id]).get(hit.id)
            article = store.get_article(row.article) if row else None
            if row is None or article is None:
                continue
            siblings = store.article_sentences(article.rowid)
            spans = [(s.start, s.end) for s in siblings]
            index = next(i for i, s in enumerate(siblings) if s.id == row.id)
            start, end = excerpt_span(spans, index, window=window, max_chars=700 * max(1, window))
            out.append(
                Passage(
                    rank=rank,
                    sentence=row.text,
                    excerpt=article.text[start:end],
                    highlight=(row.start - start, row.end - start),
                    score=hit.score,
                    article=Citation(
                        article.id,
                        article.title,
                        article.url,
                        article.published,
                        article.source,
                        also=tuple(Outlet(*row) for row in store.copies_of(article.id)),
                    ),
                    sentence_id=row.id,
                    article_rowid=article.rowid,
                    position=row.position,
                )
            )
        return out
