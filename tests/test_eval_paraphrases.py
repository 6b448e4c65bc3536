"""The paraphrase evaluation on a tiny in-memory set: gold spans, both modes, the counts, the set's checks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from newsqa.evaluation.paraphrases import (
    Paraphrase,
    SetError,
    evaluate,
    figures,
    load_paraphrases,
    resolve_gold,
)
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

TESTS = Path(__file__).resolve().parent

ZEBRA = (
    "Zebras roam the Kenyan savanna in large herds. A newborn foal can stand within an hour of birth.\n\n"
    "Rangers counted four thousand animals in the reserve last year."
)
ARTICLES = [
    Article("wildlife/001", "Zebra herds thrive in Kenya", ZEBRA),
    Article("wildlife/002", "Kenya's zebras, again", ZEBRA),  # a copy, as the BBC set has
    Article(
        "business/001",
        "Copper climbs",
        "Copper conducts electricity well. The metal's price rose twelve percent in March.",
    ),
    Article(
        "tech/001",
        "Probe reaches Mars",
        "The probe reached Mars after seven months in space. It will study the planet's dust storms.",
    ),
]


def span(article: Article, sentence: str) -> tuple[int, int]:
    start = article.text.index(sentence)
    return start, start + len(sentence)


def item(pid: str, article: Article, question: str, sentence: str, expect: str, also=()) -> Paraphrase:
    start, end = span(article, sentence)
    return Paraphrase(pid, article.id, question, start, end, (expect,), tuple(also), f"set:{pid}")


FOAL = "A newborn foal can stand within an hour of birth."
PROBE = "The probe reached Mars after seven months in space."
PRICE = "The metal's price rose twelve percent in March."
COUNT = "Rangers counted four thousand animals in the reserve last year."

SET = [
    item("p1", ARTICLES[0], "How soon can a zebra foal stand?", FOAL, "foal", also=["wildlife/002"]),
    item("p2", ARTICLES[3], "How long was the Mars probe travelling?", PROBE, "seven months"),
    item("p3", ARTICLES[2], "And the copper price?", PRICE, "twelve percent"),  # looks like a follow-up
    item("p4", ARTICLES[0], "Which committee met on Tuesday?", COUNT, "four thousand"),  # nothing answers it
]


@pytest.fixture
def qa(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "index", lambda: embedder, model_name=embedder.name, copy_threshold=None)
    lib.ingest(ARTICLES)
    yield QuestionAnswerer(Searcher(lib, SearchOptions()), k=5)
    lib.close()


def test_gold_spans_cover_the_sentence_and_its_copy(qa: QuestionAnswerer) -> None:
    lib = qa.searcher.library
    gold = resolve_gold(lib, SET)
    zebra = {
        a: {s.id: s.text for s in lib.store.article_sentences(lib.store.find_article(a).rowid)}
        for a in ("wildlife/001", "wildlife/002")
    }
    foal_ids = {sid for texts in zebra.values() for sid, text in texts.items() if text == FOAL}
    assert gold["p1"].sentences == foal_ids and len(foal_ids) == 2
    assert gold["p1"].articles == {"wildlife/001", "wildlife/002"}
    assert len(gold["p2"].sentences) == 1 and gold["p2"].articles == {"tech/001"}


def test_both_modes_are_counted(qa: QuestionAnswerer) -> None:
    gold = resolve_gold(qa.searcher.library, SET)
    outcomes = evaluate(qa, SET, gold, k=5)
    alone, chat = figures(outcomes["alone"], 5), figures(outcomes["chat"], 5)

    # Alone: each question after a /reset. The copper price comes second (the copper sentence first);
    # nothing answers the committee question, so the bot abstains on it.
    assert [o.rank for o in outcomes["alone"]] == [1, 1, 2, None]
    assert [o.article_rank for o in outcomes["alone"]] == [1, 1, 1, None]
    assert (alone.questions, alone.hit_at_1, alone.hit_at_k, alone.article_at_k) == (4, 0.5, 0.75, 0.75)
    assert alone.abstained == 0.25 and alone.rewritten == 0

    # In one chat, "And the copper price?" is taken for a follow-up of the Mars question, rewritten into
    # it, and the bot abstains: one answer fewer than alone.
    rewritten = [o for o in outcomes["chat"] if o.rewritten]
    assert [o.id for o in rewritten] == ["p3"]
    assert "Mars" in rewritten[0].query and not rewritten[0].answered
    assert [o.rank for o in outcomes["chat"]] == [1, 1, None, None]
    assert (chat.hit_at_1, chat.hit_at_k, chat.article_at_k, chat.abstained) == (0.5, 0.5, 0.5, 0.5)
    assert chat.rewritten == 1 and chat.questions == 4


def test_offsets_that_miss_the_expected_words_fail_loudly(qa: QuestionAnswerer) -> None:
    wrong = Paraphrase("p9", "business/001", "What conducts?", 0, 10, ("electricity",), (), "set:9")
    with pytest.raises(SetError, match=r"set:9: 'electricity' not in business/001\[0:10\]"):
        resolve_gold(qa.searcher.library, [wrong])
    absent = Paraphrase("p8", "business/404", "Who?", 0, 5, ("x",), (), "set:8")
    with pytest.raises(SetError, match="set:8: article 'business/404' is not among the ARTICLES"):
        resolve_gold(qa.searcher.library, [absent])


GOOD = {"id": "p1", "article": "x/1", "question": "q?", "start": 0, "end": 3, "expect": ["w"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "end"} | {"id": "a"}), "missing end"),
        (json.dumps(GOOD | {"id": "a", "start": 9}), "start < end"),
        (json.dumps(GOOD | {"id": "a", "expect": []}), "expect must"),
        (json.dumps(GOOD | {"id": "a", "also": "x/2"}), "also must"),
        (json.dumps(GOOD), "'p1' already used at .*:1"),
    ],
)
def test_a_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n")
    with pytest.raises(SetError, match=rf"^{path}:3: .*{message}"):
        load_paraphrases(path)


def test_the_shipped_set_is_spread_and_names_answers_by_offsets_only() -> None:
    items = load_paraphrases(TESTS / "data" / "paraphrases.jsonl")
    assert len(items) >= 80
    per_article = Counter(p.article for p in items)
    assert max(per_article.values()) <= 2 and len(per_article) >= 60
    sections = Counter(p.article.split("/")[0] for p in items)
    assert set(sections) == {"business", "entertainment", "politics", "sport", "tech"}
    assert min(sections.values()) >= 15
    for p in items:
        assert all(len(w.split()) <= 5 for w in p.expect)  # a few words, never a copied sentence
        assert p.end - p.start < 600
