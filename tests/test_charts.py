"""newsqa.charts as pure functions: a timeline answer or a table's rows -> chart data -> figure -> PNG.

The data functions are checked by hand (which entries, which labels, which counts); the figures by what
their axes hold; the PNG by its bytes. No model, no index: answers and rows are built here.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsqa.benchmark.report import Row
from newsqa.charts.draw import INSTALL_HINT, PlotError, bar_figure, chart_png, timeline_figure, timeline_png
from newsqa.charts.output import save_chart
from newsqa.charts.tables import (
    SHARE,
    BarChart,
    Bars,
    abstain_chart,
    bench_chart,
    panel,
    retrieval_chart,
)
from newsqa.charts.timeline import LABEL_CHARS, bucket_for, bucket_start, entry_label, timeline_plot
from newsqa.evaluation.metrics import RetrievalFigures
from newsqa.index.search.answer import Answer, Citation, Passage

D = dt.date
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def passage(published: str | None, source: str | None, title: str, rank: int = 1) -> Passage:
    sentence = f"{title} happened."
    citation = Citation(f"id-{title}", title, None, published, source)
    return Passage(rank, sentence, sentence, (0, len(sentence)), 0.9, citation)


def timeline_answer(*passages: Passage) -> Answer:
    return Answer("harbour bridge toll", "harbour bridge toll", bool(passages), list(passages))


TOLL = timeline_answer(
    passage("2023-03-01", "City Daily", "Toll rises again"),
    passage("2023-03-01T18:00:00Z", None, "Evening toll protest"),
    passage("Mon, 06 Mar 2023 08:00:00 GMT", "Harbour Post", "Council defends toll"),
    passage(None, "Letters", "A reader on tolls"),
)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) as an image reader sees it (PIL comes with matplotlib)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# ---------------------------------------------------------------- timeline: data


def test_timeline_plot_places_each_dated_article_and_counts_the_undated() -> None:
    plot = timeline_plot(TOLL)
    assert [e.day for e in plot.entries] == [D(2023, 3, 1), D(2023, 3, 1), D(2023, 3, 6)]
    assert [e.label for e in plot.entries] == [
        "City Daily — Toll rises again",
        "Evening toll protest",  # no outlet: the headline alone
        "Harbour Post — Council defends toll",
    ]
    assert plot.bucket == "day" and plot.counts == ((D(2023, 3, 1), 2), (D(2023, 3, 6), 1))
    assert plot.undated == 1 and plot.note == "1 undated article in the text timeline, not plotted"
    assert plot.topic == "harbour bridge toll"


def test_timeline_plot_of_nothing_dated_has_no_entries() -> None:
    plot = timeline_plot(timeline_answer(passage(None, "A", "x"), passage("someday", "B", "y")))
    assert plot.entries == () and plot.counts == () and plot.undated == 2
    assert "2 undated articles" in (plot.note or "")
    assert timeline_plot(timeline_answer()).note is None


def test_buckets_grow_with_the_span_so_the_bars_stay_few() -> None:
    start = D(2023, 1, 1)
    assert bucket_for([start, start + dt.timedelta(days=62)]) == "day"
    assert bucket_for([start, start + dt.timedelta(days=63)]) == "week"
    assert bucket_for([start, start + dt.timedelta(days=731)]) == "month"
    assert bucket_start(D(2023, 3, 9), "week") == D(2023, 3, 6)  # its Monday
    assert bucket_start(D(2023, 3, 9), "month") == D(2023, 3, 1)
    weekly = timeline_plot(
        timeline_answer(*(passage(day, "X", f"t{day}") for day in ("2023-01-02", "2023-01-05", "2023-04-20")))
    )
    assert weekly.bucket == "week" and weekly.counts == ((D(2023, 1, 2), 2), (D(2023, 4, 17), 1))


def test_labels_are_one_line_and_cut_at_a_word() -> None:
    label = entry_label("  The Outlet ", "A very long headline " * 10)
    assert len(label) <= LABEL_CHARS and label.startswith("The Outlet — A very long") and label.endswith("…")
    assert "\n" not in entry_label("Out\nlet", "Head\nline") and entry_label(None, " ") == "(untitled)"


# ---------------------------------------------------------------- timeline: figure and PNG


def test_timeline_figure_has_a_row_per_entry_and_a_bar_per_bucket() -> None:
    plot = timeline_plot(TOLL)
    fig = timeline_figure(plot)
    top, bottom = fig.axes
    (markers,) = top.get_lines()
    assert list(markers.get_xdata()) == [e.day for e in plot.entries]
    assert list(markers.get_ydata()) == [0, 1, 2]
    assert [t.get_text() for t in top.get_yticklabels()] == [e.label for e in plot.entries]
    assert [bar.get_height() for bar in bottom.patches] == [2, 1]
    assert bottom.get_ylabel() == "articles per day"
    assert fig.get_suptitle() == "Timeline: harbour bridge toll"
    assert fig.get_supxlabel() == plot.note
    assert top.get_ylim()[0] > top.get_ylim()[1]  # oldest at the top, as the text reads


def test_timeline_png_is_a_real_png_of_a_sensible_size() -> None:
    data = timeline_png(timeline_plot(TOLL))
    assert data.startswith(PNG_MAGIC)
    width, height = png_size(data)
    assert width == 1000 and 300 <= height <= 1000
    many = timeline_answer(*(passage(f"2023-03-{d:02d}", "Outlet", f"Story {d}") for d in range(1, 29)))
    width, height = png_size(timeline_png(timeline_plot(many)))
    assert height > width and width + height < 10_000  # taller with more rows; within Telegram's limits


def test_nothing_dated_is_a_plot_error_not_an_empty_picture() -> None:
    with pytest.raises(PlotError, match="none of the timeline's articles is dated"):
        timeline_figure(timeline_plot(timeline_answer(passage(None, "A", "x"))))
    with pytest.raises(PlotError, match="the timeline found no articles"):
        timeline_figure(timeline_plot(timeline_answer()))


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(PlotError) as caught:
        timeline_png(timeline_plot(TOLL))
    assert str(caught.value) == INSTALL_HINT and "pip install" in INSTALL_HINT


# ---------------------------------------------------------------- tables


def figures(mrr: float, p50: float) -> RetrievalFigures:
    return RetrievalFigures(
        questions=10, mrr=mrr, r1=0.5, r5=0.8, r10=0.9, abstained=0.1, ranked_mrr=0.7, ranked_r1=0.6,
        p50_ms=p50, p95_ms=2 * p50,
    )  # fmt: skip


def test_retrieval_chart_has_the_tables_columns_per_split() -> None:
    chart = retrieval_chart({"tune": figures(0.6, 10.0), "all": figures(0.65, 12.0)}, "newsqa eval reqa")
    quality, latency = chart.panels
    assert quality.groups == ("tune", "all") and quality.unit == SHARE
    assert quality.series == ("MRR", "R@1", "R@5", "R@10", "abstained", "alone: MRR", "alone: R@1")
    assert quality.values[1] == (0.65, 0.5, 0.8, 0.9, 0.1, 0.7, 0.6)
    assert latency.series == ("p50", "p95") and latency.values == ((10.0, 20.0), (12.0, 24.0))


def test_bench_chart_takes_the_rows_that_timed_something() -> None:
    answer = ("answer, 1,000", 0.005, 0.009)
    models = (("question model", 0.001, 0.002), ("index model", 0.003, 0.004))
    rows = [
        Row("Build", "end to end", "1000 sentences/s"),
        Row("Query", "answer p50 / p95 / p99", "5.0 ms / 9.0 ms / 12.0 ms", latency=(answer,)),
        Row("Query", "question model / index model", "...", latency=models),
    ]
    (bars,) = bench_chart({"": rows}, "newsqa bench").panels
    assert bars.groups == ("answer, 1,000", "question model", "index model") and bars.series == ("p50", "p95")
    assert [tuple(round(v, 6) for v in row) for row in bars.values] == [(5.0, 9.0), (1.0, 2.0), (3.0, 4.0)]
    (side_by_side,) = bench_chart({"SQLite": rows[:2], "PostgreSQL": rows[:2]}, "stores").panels
    assert side_by_side.groups == ("SQLite: answer, 1,000", "PostgreSQL: answer, 1,000")
    assert bench_chart({"": rows[:1]}, "nothing timed").empty


def test_panel_fills_what_a_row_lacks_with_nan() -> None:
    bars = panel("p", SHARE, {"a": {"x": 0.1}, "b": {"y": 0.2}})
    assert bars.series == ("x", "y") and bars.values[0][0] == 0.1 and math.isnan(bars.values[0][1])
    with pytest.raises(ValueError, match="2 x 1"):
        Bars("bad", SHARE, ("a", "b"), ("x",), ((0.1,),))


def test_bar_figure_draws_a_labelled_bar_per_measured_value() -> None:
    chart = BarChart("t", (panel("shares", SHARE, {"a": {"x": 0.25, "y": 0.5}, "b": {"x": 0.75}}),))
    fig = bar_figure(chart)
    (ax,) = fig.axes
    assert sorted(bar.get_height() for bar in ax.patches) == [0.25, 0.5, 0.75]  # b's y is not measured
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert {t.get_text() for t in ax.texts} == {"0.25", "0.50", "0.75"}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y"]
    with pytest.raises(PlotError, match="no measured figures"):
        bar_figure(BarChart("empty", (panel("p", SHARE, {}),)))


def test_the_abstain_curve_is_drawn_as_lines() -> None:
    curve = [{"threshold": t, "answered": 1 - t, "abstained": t} for t in (0.0, 0.5, 1.0)]
    chart = abstain_chart({"tune": {"curve": curve}, "other": {"curve": curve}}, "abstain")
    (bars,) = chart.panels
    assert bars.lines and bars.groups == ("0.00", "0.50", "1.00") and len(bars.series) == 4
    (ax,) = bar_figure(chart).axes
    assert len(ax.get_lines()) == 4 and not ax.patches
    data = chart_png(chart)
    assert data.startswith(PNG_MAGIC) and min(png_size(data)) >= 300


# ---------------------------------------------------------------- the file


def test_the_chart_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    import click

    path = tmp_path / "chart.png"
    save_chart(path, lambda: PNG_MAGIC + b"first")
    assert path.read_bytes() == PNG_MAGIC + b"first"

    def broken() -> bytes:
        raise PlotError("nothing to plot: test")

    with pytest.raises(click.ClickException, match=rf"nothing to plot: test; {path} not written"):
        save_chart(path, broken)
    assert path.read_bytes() == PNG_MAGIC + b"first" and os.listdir(tmp_path) == ["chart.png"]


# ---------------------------------------------------------------- start-up stays light


def test_neither_help_nor_the_bot_imports_matplotlib() -> None:
    code = (
        "import sys\nfrom newsqa.cli import main\nimport newsqa.bot.app, newsqa.bot.handlers\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]"), out
