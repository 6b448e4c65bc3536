"""Abstaining, measured: confidences of questions whose article is indexed and of questions whose is not.

A threshold t answers a question when its confidence >= t. The curve gives, for each t, the share of
answerable questions answered and of unanswerable ones withheld; the chosen t is the highest one that
still answers the wanted share of the answerable (withholding as much as possible under that floor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float
    answered: float  # share of the answerable questions answered (confidence >= threshold)
    abstained: float  # share of the unanswerable questions withheld (confidence < threshold)


def point(threshold: float, answerable: Sequence[float], unanswerable: Sequence[float]) -> CurvePoint:
    answered = sum(1 for c in answerable if c >= threshold) / len(answerable) if answerable else 0.0
    withheld = sum(1 for c in unanswerable if c < threshold) / len(unanswerable) if unanswerable else 0.0
    return CurvePoint(threshold, answered, withheld)


def curve(
    answerable: Sequence[float], unanswerable: Sequence[float], thresholds: Sequence[float]
) -> list[CurvePoint]:
    return [point(t, answerable, unanswerable) for t in thresholds]


def choose_threshold(answerable: Sequence[float], *, answer_share: float) -> float:
    """The highest threshold that still answers `answer_share` of the answerable questions."""
    if not answerable:
        return 0.0
    ordered = sorted(answerable, reverse=True)
    keep = max(1, min(len(ordered), math.ceil(answer_share * len(ordered) - 1e-9)))
    return ordered[keep - 1]
