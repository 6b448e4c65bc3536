"""While the model loads, a terminal is told so (a spinner on stderr); --json and pipes get nothing extra,
and the indexing bar starts after the load, so its rate counts the work."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa import cli
from newsqa.cli import main
from newsqa.loading import MESSAGE, ModelLoad

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


class SlowModel:
    """A model that takes `seconds` to load, counting its loads and where they ran."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.loads = 0
        self.threads: list[str] = []
        self.embedder = HashingEmbedder()

    def __call__(self) -> HashingEmbedder:
        self.loads += 1
        self.threads.append(threading.current_thread().name)
        time.sleep(self.seconds)
        return self.embedder


def test_the_name_is_known_without_loading_and_the_model_loads_once() -> None:
    model = SlowModel(0.2)
    stream = io.StringIO()
    load = ModelLoad(model, "test/hashing-256", show=True, stream=stream)
    pending = load.pending()
    assert pending.name == "test/hashing-256" and model.loads == 0
    assert pending.embed(["zebras"]).shape == (1, 256) and pending.dim == 256
    assert model.loads == 1 and model.threads == ["model-load"]
    assert f"{MESSAGE} ..." in stream.getvalue() and stream.getvalue().endswith("\r")  # the line is cleared


def test_started_early_it_loads_in_the_background() -> None:
    model = SlowModel(0.3)
    load = ModelLoad(model, "test/hashing-256", show=False).start()
    started = time.perf_counter()
    time.sleep(0.3)  # the command's other work
    load.get()
    assert time.perf_counter() - started < 0.5 and model.loads == 1


def test_nothing_is_written_when_not_shown_and_a_failure_reaches_the_caller() -> None:
    stream = io.StringIO()

    def broken() -> HashingEmbedder:
        raise OSError("no weights")

    load = ModelLoad(broken, "x", show=False, stream=stream)
    with pytest.raises(OSError, match="no weights"):
        load.pending().embed(["a"])
    assert stream.getvalue() == ""


def _newsqa(tmp_path: Path, model: SlowModel, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), *args], obj={"embedder_factory": model}
    )
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("terminal", [True, False])
def test_ask_says_it_is_loading_on_a_terminal_only(tmp_path: Path, monkeypatch, terminal: bool) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli, "_on_terminal", lambda: terminal)
    model = SlowModel(0.3)
    _newsqa(tmp_path, SlowModel(0), "index", "build")
    text = _newsqa(tmp_path, model, "ask", AIRBASE)
    assert (MESSAGE in text.stderr) is terminal
    as_json = _newsqa(tmp_path, model, "ask", AIRBASE, "--json")
    assert MESSAGE not in as_json.stderr and json.loads(as_json.stdout)["answered"] is True


def test_the_indexing_bar_starts_after_the_model_loads(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli, "_on_terminal", lambda: True)
    result = _newsqa(tmp_path, SlowModel(1.6), "index", "build")
    assert MESSAGE in result.stderr
    final = result.stderr.rsplit("indexing:", 1)[1]
    assert re.search(r"\[00:00[,<]", final), result.stderr  # the 1.6 s load is not in the bar's time
