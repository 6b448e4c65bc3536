"""Chart data into matplotlib figures and PNG bytes; the only module here that imports matplotlib.

matplotlib is imported inside the functions (it costs about a second: `newsqa --help` and the bot's first
reply must not pay it) and only through its object API with the Agg canvas: never pyplot, so never a
display, and no global figure state shared between the bot's worker threads.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import textwrap
import threading
from typing import TYPE_CHECKING, Any

from .tables import SHARE, BarChart, Bars
from .timeline import TimelinePlot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
COLOR = "#1f5f8b"
#: how to get matplotlib when it is missing (it is a dependency; a trimmed install may still lack it)
INSTALL_HINT = "drawing charts needs matplotlib: pip install 'matplotlib>=3.8'"
_BUCKET_DAYS = {"day": 1, "week": 7, "month": 28}
# matplotlib is not thread-safe; the bot draws in worker threads, one chart at a time is plenty
_LOCK = threading.Lock()


class PlotError(Exception):
    """A chart could not be drawn; the message is one line for the user."""


def timeline_png(plot: TimelinePlot) -> bytes:
    """The timeline chart as PNG bytes."""
    with _LOCK:
        return png_bytes(timeline_figure(plot))


def chart_png(chart: BarChart) -> bytes:
    """A table's bar chart as PNG bytes."""
    with _LOCK:
        return png_bytes(bar_figure(chart))


def timeline_figure(plot: TimelinePlot) -> Figure:
    """Above, one row per dated article (its label on the left, a marker at its day), oldest at the top
    as the text reads; below, how many articles each day, week or month has."""
    if not plot.entries:
        why = "none of the timeline's articles is dated" if plot.undated else "the timeline found no articles"
        raise PlotError(f"nothing to plot: {why}")
    figure_class, dates, ticker = _matplotlib()
    n = len(plot.entries)
    fig = figure_class(figsize=(10, 2.6 + 0.32 * max(n, 3)), dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(max(n, 3), 3))
    rows = list(range(n))
    days = [e.day for e in plot.entries]
    top.plot(days, rows, "o", color=COLOR, markersize=7, zorder=3)
    top.set_yticks(rows, [e.label for e in plot.entries], fontsize=9)
    top.set_ylim(n - 0.5, -0.5)
    top.grid(True, alpha=0.3)
    width = _BUCKET_DAYS[plot.bucket]
    bottom.bar(
        [start for start, _ in plot.counts],
        [count for _, count in plot.counts],
        width=dt.timedelta(days=0.8 * width),
        align="center" if plot.bucket == "day" else "edge",
        color=COLOR,
        alpha=0.7,
    )
    bottom.set_ylabel(f"articles per {plot.bucket}", fontsize=9)
    bottom.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    bottom.grid(True, axis="y", alpha=0.3)
    locator = dates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    first, last = min(plot.counts[0][0], days[0]), max(days) + dt.timedelta(days=width)
    pad = dt.timedelta(days=max(1, (last - first).days // 20))
    bottom.set_xlim(first - pad, last + pad)
    fig.suptitle(textwrap.shorten(f"Timeline: {plot.topic}", 90, placeholder=" …"))
    if plot.note:
        fig.supxlabel(plot.note, fontsize=9, style="italic")
    return fig


def bar_figure(chart: BarChart) -> Figure:
    """One panel of grouped bars under the other, each bar labelled with its value."""
    if chart.empty:
        raise PlotError("nothing to plot: the table has no measured figures")
    figure_class, _, _ = _matplotlib()
    n_bars = max(len(p.groups) * (1 if p.lines else len(p.series)) for p in chart.panels)
    n_groups = max(0 if p.lines else len(p.groups) for p in chart.panels)
    width = max(8.0, 2.5 + 0.32 * n_bars, 2.5 + 1.5 * n_groups)  # room for every bar and group label
    fig = figure_class(figsize=(width, 3.4 * len(chart.panels)), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(chart.panels), 1, squeeze=False)[:, 0]
    for ax, bars in zip(axes, chart.panels, strict=True):
        (_curves if bars.lines else _grouped_bars)(ax, bars)
        ax.set_title(bars.title, fontsize=10, loc="left")
        ax.set_ylabel(bars.unit, fontsize=9)
        if bars.unit == SHARE:
            ax.set_ylim(0, 1.25 if not bars.lines else 1.05)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(textwrap.shorten(chart.title, 110, placeholder=" …"), fontsize=11)
    return fig


def _grouped_bars(ax: Axes, bars: Bars) -> None:
    count = len(bars.series)
    width = 0.8 / max(count, 1)
    for s, name in enumerate(bars.series):
        measured = [(g, row[s]) for g, row in enumerate(bars.values) if not math.isnan(row[s])]
        xs = [g + (s - (count - 1) / 2) * width for g, _ in measured]
        drawn = ax.bar(xs, [v for _, v in measured], width, label=name)
        labels = [_value_text(v, bars.unit) for _, v in measured]
        ax.bar_label(drawn, labels=labels, fontsize=7, padding=2, rotation=90 if count > 3 else 0)
    ax.set_xticks(range(len(bars.groups)), [textwrap.fill(g, 18) for g in bars.groups], fontsize=8)
    ax.margins(y=0.25)


def _curves(ax: Axes, bars: Bars) -> None:
    xs = range(len(bars.groups))
    for s, name in enumerate(bars.series):
        ax.plot(xs, [row[s] for row in bars.values], marker="o", markersize=3, label=name)
    ax.set_xticks(xs, list(bars.groups), fontsize=7, rotation=90)


def _value_text(value: float, unit: str) -> str:
    if unit == SHARE:
        return f"{value:.2f}"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def png_bytes(fig: Figure) -> bytes:
    """The figure rendered by the Agg canvas (no display involved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _matplotlib() -> tuple[Any, Any, Any]:
    """(Figure, matplotlib.dates, matplotlib.ticker), or a PlotError that says how to install it."""
    try:
        from matplotlib import dates, ticker
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotError(INSTALL_HINT) from exc
    return Figure, dates, ticker
