"""Figures into text: one table row per split (tuning half, other half, all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .metrics import RetrievalFigures, summarise
from .runner import Outcome


def split_figures(outcomes: Sequence[Outcome], tuning: set[str]) -> dict[str, RetrievalFigures]:
    """Figures for the questions whose key is in `tuning`, for the rest, and for all of them."""
    parts = {
        "tune": [o for o in outcomes if o.key in tuning],
        "other": [o for o in outcomes if o.key not in tuning],
        "all": list(outcomes),
    }
    return {
        name: summarise([o.rank for o in part], [o.abstained for o in part], [o.seconds for o in part])
        for name, part in parts.items()
        if part
    }


def render(figures: Mapping[str, RetrievalFigures], title: str) -> str:
    lines = [
        title,
        "",
        "MRR and R@k count an abstention as a miss (as the bot answers); 'alone': the ranking alone.",
        "",
        "| split | questions | MRR | R@1 | R@5 | R@10 | abstained | alone: MRR | R@1 | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        lines.append(
            f"| {name} | {f.questions} | {f.mrr:.3f} | {f.r1:.3f} | {f.r5:.3f} | {f.r10:.3f} | "
            f"{f.abstained:.3f} | {f.ranked_mrr:.3f} | {f.ranked_r1:.3f} | {f.p50_ms:.1f} | {f.p95_ms:.1f} |"
        )
    return "\n".join(lines)
