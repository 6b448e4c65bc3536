"""The opt-in reranker: a second model re-orders the first candidates, remembers what it embedded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.search.rerank import Reranker
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article
from newsqa.settings import Settings
from newsqa.wiring import Wiring


class KeywordEmbedder:
    """A "stronger model" that knows one thing: texts holding `word` answer every question."""

    name = "test/keyword"
    dim = 2

    def __init__(self, word: str) -> None:
        self.word = word
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), 2), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, 0 if self.word in text or text.endswith("?") else 1] = 1.0
        return out


STORY = Article(
    id="harbour",
    title="Harbour budget",
    text=(
        "The harbour budget was approved by the council on Monday. "
        "The harbour budget debate lasted all night in the council. "
        "Spending on dredging rises to four million pounds."
    ),
)
QUESTION = "How much will the harbour budget spend?"
OPTIONS = SearchOptions(min_confidence=0.0, cue_weight=0.0)  # no number cue: the models alone decide


def test_the_reranker_reorders_the_first_candidates(library: Library) -> None:
    library.ingest([STORY])
    plain = Searcher(library, OPTIONS).rank(QUESTION)
    rows = plain.rows
    assert "dredging" not in rows[plain.hits[0].id].text  # the index's own model prefers the words
    model = KeywordEmbedder("dredging")
    reranked = Searcher(library, OPTIONS, reranker=Reranker(model)).rank(QUESTION)
    assert "dredging" in reranked.rows[reranked.hits[0].id].text
    assert {h.id for h in reranked.hits} == {h.id for h in plain.hits}
    # it embedded each candidate as the index does: with its headline
    assert all(t.startswith("Harbour budget. ") for t in model.embedded[1:])
    # the abstain confidence still reads the index model's cosine (the threshold was measured on it)
    assert reranked.confidence == plain.confidence


def test_only_the_first_top_candidates_move(library: Library) -> None:
    library.ingest([STORY])
    plain = Searcher(library, OPTIONS).rank(QUESTION)
    reranked = Searcher(library, OPTIONS, reranker=Reranker(KeywordEmbedder("dredging"), top=1)).rank(
        QUESTION
    )
    assert [h.id for h in reranked.hits] == [h.id for h in plain.hits]


def test_what_it_embedded_once_it_does_not_embed_again() -> None:
    model = KeywordEmbedder("x")
    reranker = Reranker(model, cache_size=2)
    first = reranker.cosines("q?", {1: "a x", 2: "b"})
    assert first == {1: 1.0, 2: 0.0}
    assert model.embedded == ["q?", "a x", "b"]
    assert reranker.cosines("q?", {2: "b", 1: "a x"}) == first
    assert model.embedded[3:] == ["q?"]  # only the question
    reranker.cosines("q?", {3: "c"})  # the cache holds two: the least recently used ("b") goes
    assert reranker.cosines("q?", {1: "a x", 2: "b"}) == first
    assert model.embedded[-2:] == ["q?", "b"]


def test_no_reranker_unless_asked(tmp_path: Path) -> None:
    assert Wiring(Settings(data_dir=tmp_path)).reranker() is None


def test_the_reranker_is_loaded_once_and_shared(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import newsqa.index.models.embedder as embedder_module

    loaded: list[str] = []

    def fake(spec: str, **_: object) -> KeywordEmbedder:
        loaded.append(spec)
        return KeywordEmbedder("x")

    monkeypatch.setattr(embedder_module, "SentenceTransformerEmbedder", fake)
    wiring = Wiring(Settings(data_dir=tmp_path, rerank_model="all-mpnet-base-v2"))
    first = wiring.reranker()
    assert first is not None and wiring.reranker() is first  # the eval's two halves, the bot's refreshes
    assert loaded == ["all-mpnet-base-v2"]


def test_the_evaluations_keep_the_reranker(library: Library) -> None:
    from newsqa.evaluation.runner import never_abstaining

    reranker = Reranker(KeywordEmbedder("dredging"))
    qa = never_abstaining(Searcher(library, OPTIONS, reranker=reranker))
    assert qa.searcher.reranker is reranker


def test_the_abstain_decision_ignores_the_rerankers_order(library: Library) -> None:
    """The threshold was measured on the index model's first five: a reranker that puts sentences sharing
    no word with the question first must not make the search abstain."""
    library.ingest(
        [
            Article(
                id="dredge",
                title="Harbour budget",
                text="The harbour budget will spend four million pounds. "
                + " ".join(
                    f"Dredging crews worked on {day}."
                    for day in ("Monday", "Tuesday", "Thursday", "Friday", "Sunday")
                ),
            )
        ]
    )
    options = replace(OPTIONS, lexical_trust=0.0)  # BM25's best matches are evidence too: leave them out
    plain = Searcher(library, options).rank(QUESTION)
    reranked = Searcher(library, options, reranker=Reranker(KeywordEmbedder("Dredging"))).rank(QUESTION)
    assert all("Dredging" in reranked.rows[h.id].text for h in reranked.hits[:5])
    assert "Dredging" not in plain.rows[plain.hits[0].id].text
    assert reranked.confidence == plain.confidence
