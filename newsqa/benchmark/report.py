"""The one table `newsqa dev bench` prints: a row per figure, with its goal and whether it is met."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    metric: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: no goal, or not measured in this run
    # the configurations this row timed, as numbers for --plot: (name, p50 s, p95 s)
    latency: tuple[tuple[str, float, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def render(rows: list[Row], *, header: str = "") -> str:
    """A Markdown table (pasted as is into docs/bench.md)."""
    lines = [header, ""] if header else []
    lines += ["| section | metric | value | goal | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.section} | {r.metric} | {r.value} | {r.goal} | {met} |")
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"
