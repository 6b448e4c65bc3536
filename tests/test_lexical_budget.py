"""BM25 work stays bounded on a large index: the commonest words are left out of the lexical query."""

from __future__ import annotations

from newsqa.index.search.lexical import within_budget
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article


def test_commonest_terms_go_first_and_the_rarest_stays() -> None:
    counts = {"us": 90_000, "data": 8_000, "sparks": 1_400, "inflation": 2_900}
    terms = ["us", "data", "sparks", "inflation"]
    assert within_budget(terms, counts, 20_000) == ["data", "sparks", "inflation"]
    assert within_budget(terms, counts, 5_000) == ["sparks", "inflation"]
    assert within_budget(terms, counts, 10) == ["sparks"]
    assert within_budget(terms, counts, 0) == terms  # no limit
    assert within_budget(["only"], {"only": 10**6}, 1) == ["only"]


def test_the_searcher_counts_terms_once_and_leaves_out_the_common_one(library: Library) -> None:
    filler = [Article(id=f"f{i}", title="Notes", text=f"The council met on day {i}.") for i in range(30)]
    answer = Article(id="a", title="Budget", text="The council approved the harbour budget.")
    library.ingest([*filler, answer])
    searcher = Searcher(library, SearchOptions(min_confidence=0.0, lexical_budget=5))
    calls: list[str] = []
    count = library.store.sentences_matching

    def counting(term: str) -> int:
        calls.append(term)
        return count(term)

    matches: list[list[str]] = []
    search = library.store.lexical_search

    def recording(terms: list[str], limit: int) -> list[tuple[int, float]]:
        matches.append(list(terms))
        return search(terms, limit)

    library.store.sentences_matching = counting  # type: ignore[method-assign]
    library.store.lexical_search = recording  # type: ignore[method-assign]
    first = searcher.rank("council harbour budget")
    searcher.rank("council harbour budget")
    assert sorted(calls) == ["budget", "council", "harbour"]  # counted once, then remembered
    texts = dict(library.store.conn.execute("SELECT id, text FROM sentences").fetchall())
    assert texts[first.hits[0].id] == "The council approved the harbour budget."
    assert first.hits[0].lexical == 1.0  # found by BM25 on its rare words...
    assert matches[0] == ["harbour", "budget"]  # ...without scoring the 31 sentences with "council"
    assert count("council") == 31


def test_the_term_count_memory_stays_bounded(library: Library) -> None:
    """A bot sees an open set of words: the remembered counts start afresh past MAX_COUNTED_TERMS."""
    from conftest import SEEDS

    from newsqa.index.ingest.loaders import iter_articles
    from newsqa.index.search import memory

    library.ingest(iter_articles([SEEDS]))
    searcher = Searcher(library, SearchOptions(lexical_budget=1))
    searcher.rank("drones airbase targeted")  # counts taken for this index size
    for i in range(memory.MAX_COUNTED_TERMS + 50):
        searcher.term_counts.known[f"word{i}"] = 0
    searcher.rank("drones airbase targeted")
    assert len(searcher.term_counts.known) <= 10
