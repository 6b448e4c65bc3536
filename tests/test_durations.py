"""`index watch --every` and `serve --every`: a duration outside 1 s to a week, or not a number, is one
line, never a traceback or a busy loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.durations import parse_every


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "99999999999h", "1e-9s", "0.5", "8d", "169h", "0"])
def test_an_interval_outside_the_sane_range_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_every(value)


@pytest.mark.parametrize("value", ["nan", "inf", "99999999999h"])
def test_watch_refuses_an_interval_outside_the_sane_range_in_one_line(tmp_path: Path, value: str) -> None:
    embedder = HashingEmbedder()
    (tmp_path / "news").mkdir()
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "data"), "index", "watch", str(tmp_path / "news"), "--every", value],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error")]
    assert "--every" in line


@pytest.mark.parametrize(
    ("value", "seconds"), [("1s", 1.0), ("90", 90.0), ("10m", 600.0), ("168h", 604800.0)]
)
def test_sane_intervals_still_parse(value: str, seconds: float) -> None:
    assert parse_every(value) == seconds
