"""newsqa's answer model: a tiny real training run (loss falls, saved weights reload to the same
probabilities), the checksum at load, and how search uses its judgement (a scripted judge in place of
the model: which candidates it reads, as what text, and what it re-orders)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from newsqa.index.models.answer_model import WORD_EMBEDDINGS, AnswerModel
from newsqa.index.models.modelparts import InstallError
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article
from newsqa.settings import Settings
from newsqa.training.config import AnswerTrainConfig
from newsqa.training.examples import Example
from newsqa.wiring import Wiring

TOPICS = ["harbour", "budget", "election", "storm", "match", "court", "rocket", "vaccine"]


def _examples() -> list[Example]:
    return [
        Example(
            f"When did the {t} news break?",
            [f"The {t} news broke on Monday morning."],
            [f"Noise {j} about the {t} and other things." for j in range(4)],
            "realtimeqa",
            t,
        )
        for t in TOPICS
    ]


def test_a_tiny_training_run_lowers_the_loss_and_reloads_to_the_same_probabilities(
    tiny_model: str, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from newsqa.index.models.answer_model import build_pair_scorer, pair_logits
    from newsqa.training.answer_trainer import train_answer_model
    from newsqa.training.command import save_weights

    examples = _examples()
    config = AnswerTrainConfig(
        layers=2,
        epochs=12,
        questions_per_step=4,
        group=5,
        learning_rate=2e-3,
        warmup=0.0,
        max_length=32,
        squad_per_epoch=0,
        news_repeat=1,
        heldout_questions=8,
    )
    tokenizer, module = build_pair_scorer(2, base=tiny_model)
    state, logs = train_answer_model(
        tokenizer, module, examples, examples, config, progress=False, say=lambda _: None
    )
    assert logs[-1].loss < logs[0].loss * 0.75
    assert logs[-1].heldout["mrr"] == 1.0 > logs[0].heldout["mrr"]
    assert WORD_EMBEDDINGS not in state  # frozen: read from the installed model

    weights = save_weights(state, tmp_path, "tiny", {"layers": 2, "max_length": 32})
    saved = load_file(str(weights))
    assert all(v.dtype == torch.float16 for v in saved.values())
    module.load_state_dict({k: v.half().float() for k, v in state.items()}, strict=False)  # as shipped
    module.eval()
    e = examples[0]
    texts = [*e.positives, *e.negatives]
    with torch.inference_mode():
        expected = torch.sigmoid(
            pair_logits(tokenizer, module, [e.question] * len(texts), texts, 32)
        ).tolist()
    model = AnswerModel(str(tmp_path / "tiny.json"), base=tiny_model, quantize=False)
    assert model.probabilities(e.question, texts) == pytest.approx(expected, abs=1e-5)
    assert model.scores(e.question, {7: texts[0], 9: texts[1]}) == pytest.approx(
        {7: expected[0], 9: expected[1]}
    )
    quantised = AnswerModel(str(tmp_path / "tiny.json"), base=tiny_model)  # int8 linear layers: close
    assert quantised.probabilities(e.question, texts) == pytest.approx(expected, abs=0.05)


def test_a_damaged_answer_model_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    from newsqa.training.command import save_weights

    weights = save_weights({"head.bias": __import__("torch").zeros(1)}, tmp_path, "m", {"layers": 2})
    weights.write_bytes(weights.read_bytes()[:-4] + b"oops")
    with pytest.raises(InstallError, match=r"damaged .*reinstall newsqa, or run with --answer-model none"):
        AnswerModel(str(tmp_path / "m.json"))
    with pytest.raises(InstallError, match="cannot read"):
        AnswerModel(str(tmp_path / "missing.json"))


class ScriptedJudge:
    """Says a text answers when it holds `answer`; records what it was asked to read."""

    name = "scripted"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.read: list[dict[int, str]] = []

    def scores(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        self.read.append(dict(texts))
        return {i: 0.9 if self.answer in t else 0.05 for i, t in texts.items()}


def _story(lib: Library) -> None:
    lib.ingest(
        [
            Article(
                id="a",
                title="Harbour works",
                text="The harbour budget was discussed at length. "
                "The harbour budget grew to four million pounds. "
                "The harbour budget debate went on late into the evening.",
            ),
            Article(id="b", title="Weather", text="Rain fell on the harbour all week."),
        ]
    )


def test_the_answer_model_reorders_the_first_candidates_read_as_headline_and_sentence(
    library: Library,
) -> None:
    _story(library)
    question = "How much did the harbour budget grow?"
    plain = Searcher(library, SearchOptions(min_confidence=-1.0)).rank(question)
    judge = ScriptedJudge("four million")
    judged = Searcher(library, SearchOptions(min_confidence=-1.0), answers=judge).rank(question)
    top = judged.rows[judged.hits[0].id].text
    assert top == "The harbour budget grew to four million pounds."
    assert [h.id for h in judged.hits] != [h.id for h in plain.hits] or plain.rows[
        plain.hits[0].id
    ].text == top
    (read,) = judge.read
    assert "Harbour works. The harbour budget grew to four million pounds." in read.values()
    assert judged.confidence == plain.confidence  # abstaining is judged as before


def test_only_the_first_distinct_candidates_are_judged(library: Library) -> None:
    _story(library)
    judge = ScriptedJudge("four million")
    Searcher(library, SearchOptions(min_confidence=-1.0, answer_top=2), answers=judge).rank("harbour budget")
    assert len(judge.read[0]) == 2
    judge = ScriptedJudge("four million")
    Searcher(library, SearchOptions(min_confidence=-1.0, answer_weight=0.0), answers=judge).rank("harbour")
    assert judge.read == []  # weight 0: the model is not run at all


def test_the_answer_model_is_off_unless_one_is_named(tmp_path: Path) -> None:
    assert Settings().answer_model is None
    assert Wiring(Settings(data_dir=tmp_path)).answer_model() is None


def test_the_evaluations_keep_the_answer_model(library: Library, embedder: HashingEmbedder) -> None:
    from newsqa.evaluation.runner import never_abstaining

    judge = ScriptedJudge("x")
    qa = never_abstaining(Searcher(library, answers=judge))
    assert qa.searcher.answers is judge
