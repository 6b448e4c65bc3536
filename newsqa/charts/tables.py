"""The eval and bench tables as bar-chart data: the same rows the tables print, as numbers.

A chart is panels of grouped bars: a group per table row (a split, a kind, a configuration), a bar per
column (a metric). Shares (0..1) and milliseconds never share a panel, so neither flattens the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsqa.benchmark.report import Row
    from newsqa.evaluation.metrics import RetrievalFigures

SHARE = "share of questions"
MS = "ms"


@dataclass(frozen=True, slots=True)
class Bars:
    """One panel: `values[g][s]` is group `groups[g]`'s bar for series `series[s]` (NaN: not measured)."""

    title: str
    unit: str
    groups: tuple[str, ...]
    series: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    lines: bool = False  # a line per series across the groups (a curve), instead of grouped bars

    def __post_init__(self) -> None:
        if len(self.values) != len(self.groups) or any(len(v) != len(self.series) for v in self.values):
            raise ValueError(f"{self.title}: values must be {len(self.groups)} x {len(self.series)}")


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    panels: tuple[Bars, ...]

    @property
    def empty(self) -> bool:
        """Nothing measured to draw (every value NaN, or no rows at all)."""
        return all(math.isnan(v) for p in self.panels for row in p.values for v in row)


def panel(title: str, unit: str, rows: Mapping[str, Mapping[str, float]], *, lines: bool = False) -> Bars:
    """A panel from {group: {series: value}}; series in first-seen order, a missing value NaN."""
    series: list[str] = []
    for values in rows.values():
        series += [s for s in values if s not in series]
    return Bars(
        title,
        unit,
        tuple(rows),
        tuple(series),
        tuple(tuple(values.get(s, math.nan) for s in series) for values in rows.values()),
        lines,
    )


def retrieval_chart(figures: Mapping[str, RetrievalFigures], title: str) -> BarChart:
    """`newsqa eval reqa` / `squad` (evaluation/report.py's table): quality and latency per split."""
    quality = {
        split: {
            "MRR": f.mrr,
            "R@1": f.r1,
            "R@5": f.r5,
            "R@10": f.r10,
            "abstained": f.abstained,
            "alone: MRR": f.ranked_mrr,
            "alone: R@1": f.ranked_r1,
        }
        for split, f in figures.items()
    }
    latency = {split: {"p50": f.p50_ms, "p95": f.p95_ms} for split, f in figures.items()}
    return BarChart(
        title,
        (
            panel("Retrieval, an abstention counted as a miss ('alone': the ranking alone)", SHARE, quality),
            panel("Time per question", MS, latency),
        ),
    )


def shares_chart(title: str, panel_title: str, rows: Mapping[str, Mapping[str, float]]) -> BarChart:
    """A table of shares (0..1), a group per row: the paraphrases, unanswerable, followups and realtimeqa
    tables."""
    return BarChart(title, (panel(panel_title, SHARE, rows),))


def bench_chart(columns: Mapping[str, Sequence[Row]], title: str) -> BarChart:
    """`newsqa bench` (benchmark/report.py's rows): p50 and p95 of every configuration a row timed.

    `columns` is {store: rows} for the side-by-side table, {"": rows} for the one-column one.
    """
    latency: dict[str, dict[str, float]] = {}
    for store, rows in columns.items():
        for row in rows:
            for name, p50, p95 in row.latency:
                label = f"{store}: {name}" if store else name
                latency[label] = {"p50": p50 * 1000, "p95": p95 * 1000}
    return BarChart(title, (panel("Latency per configuration", MS, latency),))


def paraphrases_chart(results: Mapping[str, Any], title: str) -> BarChart:
    """`newsqa eval paraphrases`: a group per mode (alone, chat)."""
    k = next(iter(results.values())).k if results else 5
    rows = {
        mode: {
            "hit@1": f.hit_at_1,
            f"hit@{k}": f.hit_at_k,
            f"excerpt@{k}": f.excerpt_at_k,
            f"article@{k}": f.article_at_k,
            "abstained": f.abstained,
        }
        for mode, f in results.items()
    }
    return shares_chart(title, "Paraphrased questions, an abstention counted as a miss", rows)


def unanswerable_chart(rows: Mapping[str, Any], current: float, title: str) -> BarChart:
    """`newsqa eval unanswerable`: a group per kind, the share abstained as asked and at each threshold."""
    data = {
        kind: {f"as asked ({current:.2f})": f.abstained} | {f"at {t:.2f}": v for t, v in f.at.items()}
        for kind, f in rows.items()
    }
    return shares_chart(title, "Share abstained (the right outcome: no article answers these)", data)


def followups_chart(rows: Mapping[str, Any], title: str) -> BarChart:
    """`newsqa eval followups`: a group per kind of follow-up, with and without the first turn."""
    k = next(iter(rows.values())).k if rows else 5
    data = {
        kind: {
            "with context hit@1": f.with_context_at_1,
            f"with context hit@{k}": f.with_context_at_k,
            "alone hit@1": f.alone_at_1,
            f"alone hit@{k}": f.alone_at_k,
        }
        for kind, f in rows.items()
    }
    return shares_chart(title, "Second turns, an abstention counted as a miss", data)


def realtimeqa_chart(rows: Mapping[str, Mapping[str, Any]], title: str) -> BarChart:
    """`newsqa eval realtimeqa`: a group per (time handling, split)."""
    data = {
        f"time {mode}, {split}": {
            "sent@1": f.sentence_at1,
            "sent@5": f.sentence_at5,
            "exc@1": f.excerpt_at1,
            "exc@5": f.excerpt_at5,
            "abstained": f.abstained,
            "quotes after date": f.future_quotes,
        }
        for mode, figures in rows.items()
        for split, f in figures.items()
    }
    return shares_chart(title, "Dated questions, an abstention counted as a miss", data)


def abstain_chart(result: Mapping[str, Any], title: str) -> BarChart:
    """`newsqa eval abstain`: answered and abstained per threshold, for each half (the curve's table)."""
    halves = [h for h in ("tune", "other") if h in result]
    data: dict[str, dict[str, float]] = {}
    for half in halves:
        for point in result[half]["curve"]:
            row = data.setdefault(f"{point['threshold']:.2f}", {})
            row[f"{half}: answered"] = point["answered"]
            row[f"{half}: abstained"] = point["abstained"]
    title_ = "Answerable questions answered, unanswerable ones abstained on, per threshold"
    return BarChart(title, (panel(title_, SHARE, data, lines=True),))
