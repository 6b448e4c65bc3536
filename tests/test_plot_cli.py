"""`--plot FILE.png` end to end: `newsqa timeline`, `newsqa dev eval` and (in test_bench_command.py)
`newsqa dev bench` on tiny indexes with the fake embedder write a real PNG, atomically, after the text
they print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from fakes import HashingEmbedder

from newsqa.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOPIC = "harbour bridge toll raised by the council"
ARTICLES = [
    ("a1", "2022-11-20", "Harbour Post", "three"),
    ("a2", "2023-03-01", "City Daily", "four"),
    ("a3", "2023-03-03", "Harbour Post", "four and a half"),
    ("a4", None, "Letters", "too many"),
]


def newsqa(tmp_path: Path, *args: str) -> Result:
    embedder = HashingEmbedder()
    return CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), *args], obj={"embedder_factory": lambda: embedder}
    )


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    """A data directory holding the toll story: three dated articles and one undated."""
    lines = [
        {
            "id": aid,
            "title": f"Toll now {pounds} pounds",
            "text": f"The harbour bridge toll was raised to {pounds} pounds by the council.",
            "source": source,
            **({"published": day} if day else {}),
        }
        for aid, day, source, pounds in ARTICLES
    ]
    (tmp_path / "toll.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = newsqa(tmp_path, "index", "build", str(tmp_path / "toll.jsonl"))
    assert result.exit_code == 0, result.output
    return tmp_path


def png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_timeline_plot_writes_the_chart_after_the_text(indexed: Path) -> None:
    chart = indexed / "charts" / "toll.png"
    chart.parent.mkdir()
    result = newsqa(indexed, "timeline", TOPIC, "--as-of", "2023-12-31", "--plot", str(chart))
    assert result.exit_code == 0, result.output
    assert "20 November 2022 · Harbour Post" in result.stdout and "undated" in result.stdout
    assert result.stderr.strip().endswith(f"chart written to {chart}")
    assert chart.read_bytes().startswith(PNG_MAGIC)
    width, height = png_size(chart)
    assert width == 1000 and 300 <= height <= 1000
    assert [p.name for p in chart.parent.iterdir()] == ["toll.png"]  # no temp file left behind
    again = newsqa(indexed, "timeline", TOPIC, "--json", "--plot", str(chart))  # replaced, JSON unchanged
    assert again.exit_code == 0 and json.loads(again.stdout)["answered"] is True


@pytest.mark.parametrize(
    ("name", "problem"),
    [("chart.jpg", "name the file *.png"), ("missing/chart.png", "is not an existing folder")],
)
def test_a_plot_path_that_cannot_work_is_refused_before_any_work(
    tmp_path: Path, name: str, problem: str
) -> None:
    result = newsqa(tmp_path, "timeline", TOPIC, "--plot", str(tmp_path / name))
    assert result.exit_code == 2 and problem in result.output
    assert not (tmp_path / "data").exists()  # refused before the seed index was built


def test_nothing_dated_prints_the_text_and_writes_no_chart(indexed: Path) -> None:
    chart = indexed / "letters.png"
    result = newsqa(indexed, "timeline", "too many pounds letters", "-n", "1", "--plot", str(chart))
    assert "undated" in result.stdout  # the text timeline is printed all the same
    assert result.exit_code == 1 and not chart.exists()
    assert "none of the timeline's articles is dated" in result.stderr and str(chart) in result.stderr


def test_eval_plot_draws_the_table(tmp_path: Path) -> None:
    chart = tmp_path / "reqa.png"
    pool = ROOT / "tests" / "data" / "reqa-slice"
    result = newsqa(
        tmp_path,
        "dev",
        "eval",
        "reqa",
        str(pool),
        "--limit",
        "12",
        "--work",
        str(tmp_path / "w"),
        "--plot",
        str(chart),
    )
    assert result.exit_code == 0, result.output
    assert "| split | questions | MRR |" in result.stdout
    assert chart.read_bytes().startswith(PNG_MAGIC) and min(png_size(chart)) >= 400
