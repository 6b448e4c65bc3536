"""Fuzz tier: the sentence splitter's invariants hold for any text (index/text/sentences.py's docstring)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsqa.index.text.sentences import split_sentences

pytestmark = pytest.mark.fuzz
# quick in the default run; NEWSQA_FUZZ_EXAMPLES=2000 for a deeper search
FAST = settings(max_examples=int(os.environ.get("NEWSQA_FUZZ_EXAMPLES", "150")), deadline=None)

# news-like pieces mixed with anything, so both the splitter's rules and odd input are exercised
PIECES = st.sampled_from(
    [
        "The council met. ",
        "Mr. Smith said \u201cno.\u201d ",
        "It cost $3.5m! ",
        "U.S. ",
        "e.g. ",
        "... ",
        "\n",
        "\n\n",
        "\r\n",
        "\u2028",
        " \t ",
        "\u200b",
        "\u2014",
        '" ',
        "longwordwithoutanyspaceorpunctuation" * 3,
    ]
)
TEXT = st.lists(PIECES | st.text(st.characters(exclude_categories=()), max_size=20), max_size=40).map("".join)


@FAST
@given(text=TEXT, max_chars=st.sampled_from([20, 80, 1000]))
def test_offsets_round_trip_ordered_and_bounded(text: str, max_chars: int) -> None:
    sentences = split_sentences(text, max_chars=max_chars)
    previous_end = 0
    for i, s in enumerate(sentences):
        piece = text[s.start : s.end]
        assert piece and piece == piece.strip(), (s, piece)
        assert s.start >= previous_end and s.position == i
        assert s.end - s.start <= max_chars
        previous_end = s.end
    paragraphs = [s.paragraph for s in sentences]
    assert paragraphs == sorted(paragraphs)
    # every non-whitespace character lies in exactly one sentence
    covered = "".join(text[s.start : s.end] for s in sentences)
    assert "".join(covered.split()) == "".join(text.split())
