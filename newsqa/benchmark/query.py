"""Warm-process figures on an opened index: answer latency, recall against exact search, one-article add."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np

from newsqa.evaluation.metrics import percentile
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.storage.vectors import ExactTopK, recall_at
from newsqa.index.text.article import Article


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float
    p95: float
    p99: float
    n: int


def paired_latency(
    first: Searcher, second: Searcher, questions: list[str], *, warmup: int = 5
) -> tuple[Latency, Latency]:
    """Seconds per `QuestionAnswerer.ask` (time handling on, as of today) of two searches of one index,
    question by question in turn so both see the same machine: (first, second). What a model costs is
    the answer time with it over the answer time without it."""
    from newsqa.index.search.qa import QuestionAnswerer

    both = (QuestionAnswerer(first), QuestionAnswerer(second))
    today = dt.date.today()
    first.library.refresh()
    for q in questions[:warmup]:
        for qa in both:
            qa.ask(q, as_of=today)
    times: tuple[list[float], list[float]] = ([], [])
    for i, q in enumerate(questions):
        for which in (0, 1) if i % 2 else (1, 0):
            started = time.perf_counter()
            both[which].ask(q, as_of=today)
            times[which].append(time.perf_counter() - started)
    return _latency(times[0]), _latency(times[1])


def answer_latency(searcher: Searcher, questions: list[str], *, warmup: int = 5) -> tuple[Latency, Latency]:
    """Seconds per `QuestionAnswerer.ask` (embed, FAISS, BM25, fusion, the models, passages) of
    `searcher` as the front ends make it, with time handling on (as of today, as the terminal and the bot
    ask) and off, question by question in turn so both see the same machine: (on, off)."""
    from newsqa.index.search.qa import QuestionAnswerer

    qa = QuestionAnswerer(searcher)
    today = dt.date.today()
    searcher.library.refresh()
    for q in questions[:warmup]:
        qa.ask(q, as_of=today)
        qa.ask(q)
    on: list[float] = []
    off: list[float] = []
    for i, q in enumerate(questions):
        for as_of in (today, None) if i % 2 else (None, today):
            started = time.perf_counter()
            qa.ask(q, as_of=as_of)
            (on if as_of else off).append(time.perf_counter() - started)
    return _latency(on), _latency(off)


def _latency(times: list[float]) -> Latency:
    return Latency(percentile(times, 50), percentile(times, 95), percentile(times, 99), len(times))


def recall_vs_exact(lib: Library, queries: np.ndarray, k: int = 10) -> float:
    """recall@k of the library's FAISS index against an exact scan of every stored vector."""
    truth = ExactTopK(queries, k)
    for ids, vecs in lib.store.iter_all_vectors(lib.dim):
        truth.update(ids, vecs)
    return recall_at(lib.vectors.search(queries, k)[1], truth.ids())


def one_article_adds(lib: Library, articles: list[Article]) -> list[float]:
    """Seconds to add each article (embed, write, replay, manifest) to an open, warm library; undone after."""
    lib.refresh()
    times = []
    with lib.dir.writer_lock():
        for a in articles:
            started = time.perf_counter()
            lib.ingest([a])
            times.append(time.perf_counter() - started)
        lib.remove([a.id for a in articles])
    return times


def follow_latency(
    writer: Library, reader: Library, articles: list[Article], *, limit: float = 10.0
) -> list[float]:
    """Seconds from each article's commit in `writer` until `reader`, another Library on the same home
    kept current by its own `ChangeFollower` (as a serving replica is), finds the article's first sentence
    by its vector; nobody calls `reader.refresh`. `limit` (never found): counted as `limit`. Undone after."""
    from newsqa.index.storage.changefollower import ChangeFollower

    reader.refresh()
    times = []
    with ChangeFollower(reader) as follower, writer.dir.writer_lock():
        deadline = time.monotonic() + 5.0
        while follower.url is not None and not follower.listening and time.monotonic() < deadline:
            time.sleep(0.01)  # LISTEN is up before the clock starts, as in a replica serving for a while
        committed: list[float] = []  # when each article's batch committed (progress comes after COMMIT)

        def on_commit(_: int) -> None:
            committed.append(time.perf_counter())

        for a in articles:
            committed.clear()
            writer.ingest([a], progress=on_commit)
            found = writer.store.article_hash(a.id)
            sentence = writer.store.article_sentences(found[0])[0].id if found else None
            if sentence is None or not committed:
                continue
            _, vector = writer.store.live_vectors([sentence], writer.dim)
            while time.perf_counter() - committed[0] < limit:
                if sentence in reader.vectors.search(vector, 10)[1][0]:
                    break
                time.sleep(0.001)
            times.append(min(time.perf_counter() - committed[0], limit))
        writer.remove([a.id for a in articles])
    return times
