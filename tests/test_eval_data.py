"""Loading the evaluation sets from tiny hand-made files: offsets, gold ids, answer spans, dialogues."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder

from newsqa.evaluation.embedcache import CachedEmbedder
from newsqa.evaluation.followups import load_dialogues, same_article
from newsqa.evaluation.reqa import load_pool
from newsqa.evaluation.runner import run_questions, store_ids
from newsqa.evaluation.squad import holds_answer, parse_squad
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library

TESTS = Path(__file__).resolve().parent

SENTENCES = [
    {"id": 0, "text": "Zebras live in Kenya.", "doc": "Zebra", "para": 0, "start": 0, "end": 21},
    {"id": 1, "text": "They eat grass.", "doc": "Zebra", "para": 0, "start": 23, "end": 38},
    {"id": 2, "text": "Foals stand within an hour.", "doc": "Zebra", "para": 1, "start": 0, "end": 27},
    {"id": 3, "text": "Copper conducts electricity well.", "doc": "Copper", "para": 2, "start": 0, "end": 33},
]
QUESTIONS = [
    {"question": "Where do zebras live?", "qid": "q1", "doc": "Zebra", "para": 0, "answers": ["Kenya"],
     "answer_sentence_ids": [0], "answer_sentence_ids_incl_identical_text": [0]},
    {"question": "What does copper conduct?", "qid": "q2", "doc": "Copper", "para": 2,
     "answers": ["electricity"], "answer_sentence_ids": [3], "answer_sentence_ids_incl_identical_text": [3]},
]  # fmt: skip


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    (tmp_path / "sentences.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SENTENCES))
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return tmp_path


def test_reqa_pool_keeps_its_sentences_and_offsets(pool_dir: Path) -> None:
    pool, questions = load_pool(pool_dir)
    assert pool.docs == ["Zebra", "Copper"]
    zebra = pool.articles[0]
    assert zebra.title == "Zebra"
    assert zebra.text == "Zebras live in Kenya.  They eat grass.\n\nFoals stand within an hour."
    spans = pool.splitter(zebra)
    assert [zebra.text[s.start : s.end] for s in spans] == [s["text"] for s in SENTENCES[:3]]
    assert [(s.paragraph, s.position) for s in spans] == [(0, 0), (0, 1), (1, 2)]
    assert pool.ids[("Zebra", 2)] == 2 and pool.ids[("Copper", 0)] == 3
    assert questions[1].gold == frozenset({3}) and questions[1].doc == "Copper"


def test_reqa_questions_are_scored_through_the_search(pool_dir: Path, tmp_path: Path) -> None:
    pool, questions = load_pool(pool_dir)
    embedder = HashingEmbedder()
    lib = Library(tmp_path / "index", lambda: embedder, model_name=embedder.name, copy_threshold=None)
    lib.ingest(pool.articles, splitter=pool.splitter)
    to_pool = store_ids(lib, pool.ids)
    assert sorted(to_pool.values()) == [0, 1, 2, 3]
    gold = {q.qid: {sid for sid, pid in to_pool.items() if pid in q.gold} for q in questions}
    searcher = Searcher(lib, SearchOptions(min_confidence=0.0))
    outcomes = run_questions(searcher, [(q.qid, q.question) for q in questions], gold, warmup=0)
    assert [o.rank for o in outcomes] == [1, 1]
    assert not any(o.abstained for o in outcomes)
    lib.close()


def test_squad_paragraphs_become_articles_with_answer_spans() -> None:
    context = "Copper is a metal. It conducts electricity well."
    data = {"data": [{"title": "Copper_metal", "paragraphs": [{"context": context, "qas": [
        {"id": "a", "question": "What does copper conduct?",
         "answers": [{"text": "electricity", "answer_start": 31}] * 2},
    ]}]}]}  # fmt: skip
    squad = parse_squad(data)
    assert squad.docs == ["Copper_metal"]
    assert squad.articles[0].id == "Copper_metal#0" and squad.articles[0].title == "Copper metal"
    q = squad.questions[0]
    assert q.answers == ((31, 42),) and context[31:42] == "electricity"
    assert holds_answer(19, 48, q.answers)  # the second sentence
    assert not holds_answer(0, 18, q.answers)
    assert not holds_answer(19, 40, q.answers)  # a boundary through the answer is a miss


def test_the_shipped_followup_set_loads_and_names_articles_only() -> None:
    dialogues = load_dialogues(TESTS / "data" / "followups.jsonl")
    assert len(dialogues) >= 15
    assert len({d.id for d in dialogues}) == len(dialogues)
    for d in dialogues:
        assert d.turns[0] and d.turns[1] and d.expect
        assert all(len(w.split()) <= 3 for w in d.expect)  # a few words, never a copied passage


def test_same_article_matches_ids_and_file_names() -> None:
    assert same_article("business/001", "business/001")
    assert same_article("/home/x/seeds/000_a.txt", "000_a.txt")
    assert not same_article("business/0011", "business/001")


def test_cached_embedder_embeds_each_text_once(tmp_path: Path) -> None:
    inner = HashingEmbedder()
    first = CachedEmbedder(inner, tmp_path)
    a = first.embed(["one text", "another text"])
    again = CachedEmbedder(inner, tmp_path)  # a second run reads the file
    b = again.embed(["another text", "one text"])
    assert inner.texts_embedded == 2
    assert np.allclose(a[::-1], b)
    again.enabled = False  # questions pass straight through
    again.embed(["one text"])
    assert inner.texts_embedded == 3


def test_cached_embedder_writes_each_call_once_and_reads_every_shard(tmp_path: Path) -> None:
    """Each call adds a shard (never a rewrite of everything so far); a crash's half-written shard and an
    older single-file cache are handled."""
    inner = HashingEmbedder()
    cache = CachedEmbedder(inner, tmp_path)
    for n in range(5):
        cache.embed([f"text number {n}", f"other {n}"])
    shards = sorted(tmp_path.glob("*.part-*.npz"))
    assert len(shards) == 5
    (tmp_path / (shards[0].name.split(".part-")[0] + ".part-000099.tmp.npz")).write_bytes(b"half")
    again = CachedEmbedder(inner, tmp_path)
    before = inner.texts_embedded
    again.embed([f"text number {n}" for n in range(5)])
    assert inner.texts_embedded == before  # all ten read back, the leftover ignored
