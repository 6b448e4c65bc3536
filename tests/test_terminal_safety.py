"""Article text cannot drive the user's terminal, and undecodable input cannot stop a conversation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main
from newsqa.index.search.answer import Answer, Citation, Outlet, Passage
from newsqa.terminal import BOLD, RESET, format_answer

OSC = "\x1b]0;owned\x07"  # sets the window title
OSC_ST = "\x1b]8;;http://evil.example/\x1b\\"  # a hyperlink, ended by ST
CSI = "\x1b[2J\x1b[31;1m"  # clears the screen, turns red
C1 = "\x9b31m\x9d0;x\x9c"  # the same in 8-bit C1 form
OTHER = "\x07\x08\x7f\x0e\x1bc\u202e"  # bell, backspace, DEL, shift out, a bare ESC sequence (reset), RLO
NASTY = OSC + OSC_ST + CSI + C1 + OTHER
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def passage(text: str) -> Passage:
    sentence = f"The {NASTY}bridge opens in May."
    excerpt = f"{NASTY}Before. {sentence} After{NASTY}."
    a = excerpt.index(sentence)
    citation = Citation(
        id="x",
        title=f"Bridge{NASTY} news",
        url=f"https://example.com/{OSC}",
        published=f"2024{CSI}",
        source=f"Daily{C1}",
        also=(Outlet("y", f"Copy{OSC}", None, f"Other{CSI}", None),),
    )
    return Passage(1, sentence, excerpt, (a, a + len(sentence)), 0.9, citation)


@pytest.mark.parametrize("color", [False, True])
def test_format_answer_neutralises_escapes_and_controls(color: bool) -> None:
    answer = Answer(f"q{CSI}?", f"query{OSC}", True, [passage("")])
    out = format_answer(answer, color=color)
    if color:
        out = out.replace(BOLD, "").replace(RESET, "")
    assert not CONTROL.search(out), repr(out)
    assert "bridge opens in May" in out and "Bridge news" in out and "Daily" in out


def test_color_is_still_ours_alone() -> None:
    out = format_answer(Answer("q", "q", True, [passage("")]), color=True)
    assert out.count("\x1b") == 2 and BOLD in out and RESET in out


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()
    articles = tmp_path / "in.jsonl"
    articles.write_text(
        json.dumps(
            {"id": "evil", "title": f"Drone{OSC} strike", "text": f"Drones hit the {CSI}airbase{OSC}{C1}."}
        )
        + "\n",
        encoding="utf-8",
    )

    def invoke(*args: str, input: str | bytes | None = None):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path / "data"), *args],
            obj={"embedder_factory": lambda: embedder},
            input=input,
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result

    invoke("index", "build", str(articles))
    return invoke


def test_ask_prints_no_escape_from_an_article(run) -> None:  # type: ignore[no-untyped-def]
    out = run("ask", "Which airbase did drones hit?").stdout
    assert "airbase" in out and not CONTROL.search(out), repr(out)


def test_ask_json_escapes_every_control_and_keeps_the_text(run) -> None:  # type: ignore[no-untyped-def]
    out = run("ask", "Which airbase did drones hit?", "--json").stdout
    assert not CONTROL.search(out), repr(out)
    passage = json.loads(out)["passages"][0]
    assert passage["sentence"] == f"Drones hit the {CSI}airbase{OSC}{C1}."  # the data itself is verbatim


def test_chat_survives_bytes_that_are_not_utf8(run) -> None:  # type: ignore[no-untyped-def]
    stdin = b"Which \xff\xfe airbase did drones hit?\n\xc3\nWhich airbase did drones hit?\n"
    result = run("chat", "--json", input=stdin)
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(answers) == 3 and answers[-1]["answered"] is True
    assert answers[0]["question"] == "Which \ufffd\ufffd airbase did drones hit?"
