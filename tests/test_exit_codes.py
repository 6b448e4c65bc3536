"""`index add` and `index build` exit non-zero when something asked for was not indexed (README, "Exit
codes"), so scripts and cron jobs notice; `--skip-bad` says skipped input is fine."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder

from newsqa import exits
from newsqa.cli import main

GOOD = "Zoo news\nThree zebras escaped from the city zoo on Friday.\n"


def newsqa(tmp_path: Path, *args: str) -> Result:
    embedder = HashingEmbedder()
    return CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "data"), *args],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )


def bad_input(tmp_path: Path, kind: str) -> str:
    if kind == "missing":
        return str(tmp_path / "no-such-file.txt")
    if kind == "unresolvable host":
        return "https://no-such-host.invalid/story"  # .invalid never resolves (RFC 6761)
    path = tmp_path / {"binary": "photo.txt", "invalid JSON": "broken.json"}[kind]
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    else:
        path.write_text("{not json")
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "binary", "invalid JSON", "unresolvable host"])
@pytest.mark.parametrize("command", ["add", "build"])
def test_skipped_input_exits_3_unless_skip_bad(tmp_path: Path, kind: str, command: str) -> None:
    good = tmp_path / "good.txt"
    good.write_text(GOOD)
    bad = bad_input(tmp_path, kind)
    result = newsqa(tmp_path, "index", command, str(good), bad)
    assert result.exit_code == exits.SKIPPED, result.output
    assert "1 added" in result.stdout and "1 skipped" in result.stdout
    shown = [line.rsplit("\r", 1)[-1] for line in result.stderr.split("\n") if "skipped " in line]
    # what a terminal shows after the bar's carriage returns: the whole line, from its start
    assert len(shown) == 1 and shown[0].startswith(f"skipped {bad}"), repr(result.stderr)
    again = newsqa(tmp_path, "index", command, "--skip-bad", str(good), bad)
    assert again.exit_code == exits.OK, again.output
    assert "1 skipped" in again.stdout


def test_a_run_that_skips_nothing_exits_0(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(GOOD)
    assert newsqa(tmp_path, "index", "add", str(good)).exit_code == exits.OK
    assert newsqa(tmp_path, "index", "add", str(good)).exit_code == exits.OK  # unchanged is not skipped


def test_an_article_with_no_text_is_named_too(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('[{"id": "a1", "title": "Only a headline", "text": "   "}]')
    result = newsqa(tmp_path, "index", "add", str(empty))
    assert result.exit_code == exits.SKIPPED
    assert "skipped " in result.stderr and "1 skipped" in result.stdout
