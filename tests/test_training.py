"""Training the question model: the examples read from open data, the held-out split, and a tiny real
training run (a two-layer BERT, on the CPU in seconds) whose loss falls and whose saved weights reload to
the same scores."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from newsqa.training.config import TrainConfig
from newsqa.training.examples import Example, answer_pattern, realtimeqa_candidates, squad_examples
from newsqa.training.mining import VectorCache, mine


def test_answer_strings_match_as_whole_words_and_short_ones_not_at_all() -> None:
    pattern = answer_pattern(["Europe", "EU"])
    assert pattern is not None
    assert pattern.search("Rules agreed in europe this week.")
    assert not pattern.search("European regulators agreed.")
    assert answer_pattern(["4", "UK"]) is None  # in too many sentences to label anything


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def test_squad_examples_come_from_the_tuning_half_only(tmp_path: Path) -> None:
    sentences = [
        {"id": i, "text": f"Sentence {i} of {doc}.", "doc": doc, "para": 0, "start": 0, "end": 10}
        for i, doc in enumerate(["A_b", "A_b", "C", "C", "D", "D"])
    ]
    questions = [
        {"question": f"Q about {doc}?", "doc": doc, "answer_sentence_ids_incl_identical_text": [gold]}
        for doc, gold in [("A_b", 1), ("C", 2), ("D", 5)]
    ]
    _write_jsonl(tmp_path / "sentences.jsonl", sentences)
    _write_jsonl(tmp_path / "questions.jsonl", questions)
    out = squad_examples(tmp_path, docs=2)
    assert [e.group for e in out] == ["A_b", "C"]  # D is in the measuring half
    assert out[0].positives == ["A b. Sentence 1 of A_b."]  # as the index embeds it: "headline. sentence"
    assert out[0].negatives == ["A b. Sentence 0 of A_b."]


def test_realtimeqa_labels_a_sentence_only_when_it_holds_the_answer_itself(tmp_path: Path) -> None:
    _write_jsonl(
        tmp_path / "questions.jsonl",
        [
            {
                "question": "Which continent will require a common charger for phones?",
                "date": "2022-06-16",
                "answers": ["Europe"],
                "supporting_articles": ["p1"],
            }
        ],
    )
    page = {
        "id": "p1",
        "title": "Europe agrees on chargers",  # the headline names the answer: no line is labelled by it
        "text": "Phones will need one charger.\n\nRegulators in Europe agreed the rule. Shares fell.",
    }
    _write_jsonl(tmp_path / "articles.jsonl.gz", [page, {"id": "p2", "title": "x", "text": "Europe."}])
    (example,) = realtimeqa_candidates(tmp_path)
    assert example.positives == ["Europe agrees on chargers. Regulators in Europe agreed the rule."]
    assert (
        example.negatives[0] == "Europe agrees on chargers. Phones will need one charger."
    )  # shares most words
    assert example.group == "2022-06-16" and example.source == "realtimeqa"


def unit_vectors(texts: Sequence[str], dim: int = 32) -> np.ndarray:
    """A fixed random unit vector per text (seeded by its checksum): sentence vectors for the tiny run."""
    out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(dim) for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_mining_keeps_the_closest_weak_answers_and_drops_negatives_holding_an_answer(tmp_path: Path) -> None:
    texts = ["q?", "answer Paris one", "answer Paris two", "far Paris", "neg a", "neg Paris", "neg b"]
    vecs = dict(zip(texts, unit_vectors(texts), strict=True))
    vecs["answer Paris two"] = vecs["q?"]  # the closest
    example = Example("q?", texts[1:4], texts[4:], "realtimeqa", "2022-01-01", answers=("Paris",))
    cache = VectorCache(lambda ts: np.stack([vecs[t] for t in ts]), tmp_path / "v")
    (mined,) = mine([example], cache, progress=lambda _: None)
    assert mined.positives[0] == "answer Paris two" and len(mined.positives) == 2
    assert "neg Paris" not in mined.negatives and set(mined.negatives) == {"neg a", "neg b"}
    again = VectorCache(lambda ts: pytest.fail("embedded again"), tmp_path / "v")  # the cache was saved
    assert np.allclose(again.get(["neg a"]), vecs["neg a"])


def test_held_out_by_pool_never_by_question() -> None:
    from newsqa.training.trainer import split_heldout

    examples = [Example(f"q{i}", ["p"], ["n"], "squad", f"doc{i % 4}") for i in range(12)]
    train, held = split_heldout(examples, 2)
    assert {e.group for e in held} == {"doc1", "doc3"}
    assert not {e.group for e in train} & {e.group for e in held}


TOPICS = ["harbour", "budget", "election", "storm", "match", "court", "rocket", "vaccine"]


def _topic_examples() -> list[Example]:
    """One question a topic, its answer, and three noise texts: the tiny runs' training set."""
    return [
        Example(
            f"What happened with the {t}?",
            [f"answer about the {t}"],
            [f"noise {j} near the {t}" for j in range(3)],
            "squad",
            t,
        )
        for t in TOPICS
    ]


def test_a_tiny_training_run_lowers_the_loss_and_reloads_to_the_same_scores(
    tiny_model: str, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from newsqa.training.command import save_model
    from newsqa.training.trainer import MiniLMTower, train

    examples = _topic_examples()
    config = TrainConfig(epochs=6, batch_size=4, learning_rate=2e-3, bank=8, warmup=0.0, max_length=16)
    tower = MiniLMTower(tiny_model, max_length=16)
    state, logs = train(
        tower, examples, examples[:2], unit_vectors, config, progress=False, say=lambda _: None
    )
    assert logs[-1].loss < logs[0].loss * 0.8
    assert logs[-1].heldout["mrr"] >= logs[0].heldout["mrr"]
    assert "embeddings.word_embeddings.weight" not in state  # frozen: read from the installed model

    weights = save_model(state, tmp_path, "tiny", {"max_length": 16})
    manifest = json.loads((tmp_path / "tiny.json").read_text())
    from newsqa.index.models.modelparts import file_sha256

    assert manifest["sha256"] == file_sha256(weights)
    saved = load_file(str(weights))
    assert all(v.dtype == torch.float16 for v in saved.values())

    questions = [e.question for e in examples]
    tower.model.load_state_dict(state, strict=False)
    for p in tower.model.parameters():  # what ships is fp16: compare against the same rounding
        p.data = p.data.half().float()
    expected = tower.encode_numpy(questions)
    fresh = MiniLMTower(tiny_model, max_length=16)
    missing, unexpected = fresh.model.load_state_dict({k: v.float() for k, v in saved.items()}, strict=False)
    assert missing == ["embeddings.word_embeddings.weight"] and not unexpected
    fresh.model.embeddings.word_embeddings.weight.data = tower.model.embeddings.word_embeddings.weight.data
    assert np.allclose(fresh.encode_numpy(questions), expected, atol=1e-6)


def test_the_distillation_loss_is_zero_when_student_and_teacher_agree_and_grows_as_they_part() -> None:
    import torch

    from newsqa.training.trainer import distillation_loss

    teacher = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    assert float(distillation_loss(teacher + 5.0, teacher)) == pytest.approx(0.0, abs=1e-6)  # shift-free
    near = float(distillation_loss(teacher * 0.8, teacher))
    far = float(distillation_loss(teacher.flip(1), teacher))
    assert 0.0 < near < far


def test_a_teacher_moves_the_student_toward_its_own_ranking(tiny_model: str) -> None:
    """The labels say nothing about the noise; the teacher prefers "noise 0" for every question. Trained
    with the teacher, the student ranks "noise 0" above the other noise more often than trained without."""
    from newsqa.training.trainer import MiniLMTower, Teacher, train

    examples = _topic_examples()
    questions = [e.question for e in examples]

    def teacher_texts(texts: Sequence[str]) -> np.ndarray:
        anchor = unit_vectors(["the teacher's favourite"])[0]
        return np.stack(
            [
                anchor if t.startswith("noise 0") else v
                for t, v in zip(texts, unit_vectors(texts), strict=True)
            ]
        )

    def teacher_questions(texts: Sequence[str]) -> np.ndarray:
        return np.repeat(unit_vectors(["the teacher's favourite"]), len(texts), axis=0)

    def margin(weight: float) -> float:
        config = TrainConfig(
            epochs=6,
            batch_size=4,
            learning_rate=2e-3,
            bank=8,
            warmup=0.0,
            max_length=16,
            teacher_weight=weight,
        )
        tower = MiniLMTower(tiny_model, max_length=16)
        teacher = Teacher(texts=teacher_texts, questions=teacher_questions)
        train(
            tower,
            examples,
            examples[:2],
            unit_vectors,
            config,
            progress=False,
            say=lambda _: None,
            teacher=teacher,
        )
        q = tower.encode_numpy(questions)
        favourite = (q * unit_vectors([f"noise 0 near the {t}" for t in TOPICS])).sum(1)
        others = np.stack(
            [(q * unit_vectors([f"noise {j} near the {t}" for t in TOPICS])).sum(1) for j in (1, 2)]
        )
        return float((favourite - others.max(0)).mean())

    assert margin(5.0) > margin(0.0) + 0.05


def test_the_teachers_vectors_are_cached_apart_and_a_second_run_loads_no_model(tmp_path: Path) -> None:
    from newsqa.training.command import cached_teacher

    class Fake:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
            self.calls.append(list(texts))
            return unit_vectors(texts)

        def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
            self.calls.append(list(texts))
            return unit_vectors(["query: " + t for t in texts])

    fake = Fake()
    loads: list[int] = []

    def load() -> Fake:
        loads.append(1)
        return fake

    # a name with dots: the two caches must not end up in one file
    teacher = cached_teacher(load, "org/model-v1.5", tmp_path, lambda _: None)
    texts = teacher.texts(["a", "b"])
    questions = teacher.questions(["a"])
    assert not np.allclose(texts[0], questions[0])  # questions take the model's query form
    again = cached_teacher(load, "org/model-v1.5", tmp_path, lambda _: None)
    assert np.array_equal(again.texts(["b", "a"]), texts[::-1])
    assert np.array_equal(again.questions(["a"]), questions)
    assert loads == [1] and len(fake.calls) == 2
