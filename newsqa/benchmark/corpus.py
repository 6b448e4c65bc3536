"""A small generated news-like corpus for `newsqa dev bench --quick`, so CI needs no downloaded data."""

from __future__ import annotations

import json
import random
from pathlib import Path

_SUBJECTS = (
    "ministers, the central bank, shareholders, the football club, rescue teams, the court, voters".split(
        ", "
    )
)
_VERBS = "announced, rejected, postponed, welcomed, investigated, approved, criticised".split(", ")
_OBJECTS = (
    "a new budget, the merger, the transfer fee, the flood defences, the appeal, an early election, "
    "the price rise, the drone strike report, the strike ballot, the vaccine rollout"
).split(", ")
_PLACES = (
    "in London, in Paris, in Lagos, in Ohio, in Sydney, in Mumbai, near the border, at the airbase".split(
        ", "
    )
)
_WHEN = "on Monday, on Sunday, last week, in April, shortly after midnight, this morning".split(", ")


def sentence(rng: random.Random) -> str:
    parts = [rng.choice(p) for p in (_SUBJECTS, _VERBS, _OBJECTS, _PLACES, _WHEN)]
    return f"{parts[0].capitalize()} {' '.join(parts[1:])}, a spokesperson said {rng.randint(1, 10**6)}."


def write_corpus(path: Path, *, articles: int, sentences: int = 12, seed: int = 7) -> Path:
    """`articles` JSON lines with ids, titles and two paragraphs of generated sentences."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(articles):
            body = [sentence(rng) for _ in range(sentences)]
            half = sentences // 2
            text = " ".join(body[:half]) + "\n\n" + " ".join(body[half:])
            title = body[0].split(",")[0]
            f.write(json.dumps({"id": f"gen/{i:05d}", "title": title, "text": text}) + "\n")
    return path
