"""`--as-of` at the ends of the calendar (9999-12-31, 0001-01-01) is refused in one line, not an
OverflowError traceback from "today", "last week" or "in December"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder

from newsqa.cli import main


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path / "data"), *args],
            obj={"embedder_factory": lambda: embedder},
            catch_exceptions=False,
        )

    return invoke


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "0001-01-15", "0999-12-31", "9001-01-01"])
@pytest.mark.parametrize(
    "command",
    [
        ("ask", "Which airbase was targeted today?"),
        ("ask", "What happened last week?"),
        ("ask", "What happened since Monday?"),
        ("timeline", "drones in December"),
    ],
)
def test_an_as_of_at_the_calendar_ends_is_refused_in_one_line(
    run, day: str, command: tuple[str, str]
) -> None:  # type: ignore[no-untyped-def]
    result = run(*command, "--as-of", day)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error")]
    assert day in line and "outside the days" in line


def test_an_as_of_inside_the_range_still_answers(run) -> None:  # type: ignore[no-untyped-def]
    result = run("ask", "Which airbase was targeted by drones on Sunday?", "--as-of", "1000-01-01")
    assert result.exit_code == 0, result.output
