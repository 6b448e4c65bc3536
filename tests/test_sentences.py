from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest

from newsqa.index.text.sentences import (
    MAX_SENTENCE_CHARS,
    Sentence,
    _tokenizer,
    paragraph_spans,
    split_sentences,
)

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_46770c7ee1a4bd70.txt"


def texts(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def check_invariants(text: str, sentences: list[Sentence], max_chars: int = MAX_SENTENCE_CHARS) -> None:
    """Coverage, order, stripping and paragraph bookkeeping: what every caller relies on."""
    owner: dict[int, int] = {}
    prev_end = 0
    prev_paragraph = 0
    for i, s in enumerate(sentences):
        assert s.position == i
        assert prev_end <= s.start < s.end <= len(text)
        piece = text[s.start : s.end]
        assert piece == piece.strip()
        assert len(piece) <= max_chars
        assert s.paragraph - prev_paragraph in ((0, 1) if i else (0,))
        for k in range(s.start, s.end):
            owner[k] = i
        prev_end, prev_paragraph = s.end, s.paragraph
    for k, ch in enumerate(text):
        if not ch.isspace():
            assert k in owner, f"character {k} ({ch!r}) belongs to no sentence"
    # No sentence crosses a paragraph break (a blank line; any line break in one-line-per-paragraph text).
    lines = text.splitlines()
    filled = [i for i, line in enumerate(lines) if line.strip()]
    has_blank = any(b - a > 1 for a, b in pairwise(filled))
    for s in sentences:
        inner = text[s.start : s.end].splitlines()
        assert all(line.strip() for line in inner)
        if not has_blank:
            assert len(inner) == 1


def test_empty_and_whitespace_only_give_nothing() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\r\n  \n") == []


def test_seed_article_keeps_named_sentences_whole() -> None:
    text = SEED.read_text(encoding="utf-8")
    got = texts(text)
    assert "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday." in got
    mckenzie = [t for t in got if "Commander General Kenneth McKenzie said" in t]
    assert mckenzie == [
        "Speaking with reporters, Commander General Kenneth McKenzie said armed groups are resorting to "
        "drone attacks to accelerate the US withdrawal of troops from Iraq."
    ]
    # One line per paragraph and no blank lines: the headline is paragraph 0 on its own.
    sentences = split_sentences(text)
    assert text[sentences[0].start : sentences[0].end].startswith("Armed groups use of drones")
    assert sentences[1].paragraph == 1
    check_invariants(text, sentences)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Gen. Kenneth McKenzie spoke on Monday. The U.S. military will stay. "
            "Mr. Smith agreed, and Dr. Jones did not. It began on Jan. 5 in Baghdad.",
            [
                "Gen. Kenneth McKenzie spoke on Monday.",
                "The U.S. military will stay.",
                "Mr. Smith agreed, and Dr. Jones did not.",
                "It began on Jan. 5 in Baghdad.",
            ],
        ),
        (
            "Profits rose to $1.13bn last year. Unemployment fell 3.5% in March. About 2.5 million voted.",
            [
                "Profits rose to $1.13bn last year.",
                "Unemployment fell 3.5% in March.",
                "About 2.5 million voted.",
            ],
        ),
        (
            "The book by J. K. Rowling sold well. It was her seventh.",
            ["The book by J. K. Rowling sold well.", "It was her seventh."],
        ),
        ('"We will win," he said. Then he left.', ['"We will win," he said.', "Then he left."]),
        ("“The threat is concerning.” He left.", ["“The threat is concerning.”", "He left."]),
        (
            "He paused... and then he spoke again. Nobody answered.",
            ["He paused... and then he spoke again.", "Nobody answered."],
        ),
        (
            "Read more at https://www.example.com/news/story.html?id=3.5 today. "
            "Write to jane.doe@example.co.uk for details. Or visit www.bbc.co.uk/news now.",
            [
                "Read more at https://www.example.com/news/story.html?id=3.5 today.",
                "Write to jane.doe@example.co.uk for details.",
                "Or visit www.bbc.co.uk/news now.",
            ],
        ),
    ],
    ids=[
        "abbreviations",
        "decimals-money",
        "initials",
        "quote-inside",
        "curly-quotes",
        "ellipsis",
        "url-email",
    ],
)
def test_hard_cases(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_unicode_text_round_trips() -> None:
    text = "Café owners in São Paulo — and Zürich — cheered 🎉. “Très bien,” said Zoë. Prices rose 5%."
    assert texts(text) == [
        "Café owners in São Paulo — and Zürich — cheered 🎉.",
        "“Très bien,” said Zoë.",
        "Prices rose 5%.",
    ]
    check_invariants(text, split_sentences(text))


def test_crlf_one_line_per_paragraph() -> None:
    text = "Headline here\r\nFirst para. Second sentence.\r\nThird para.\r\n"
    sentences = split_sentences(text)
    assert texts(text) == ["Headline here", "First para.", "Second sentence.", "Third para."]
    assert [s.paragraph for s in sentences] == [0, 1, 1, 2]
    check_invariants(text, sentences)


def test_crlf_blank_lines_separate_paragraphs_and_wrapped_lines_join() -> None:
    text = "This sentence is\r\nwrapped by hand. Next one.\r\n\r\n  \r\nNew paragraph."
    sentences = split_sentences(text)
    assert texts(text) == ["This sentence is\r\nwrapped by hand.", "Next one.", "New paragraph."]
    assert [s.paragraph for s in sentences] == [0, 0, 1]


def test_trailing_blank_lines_do_not_switch_paragraph_mode() -> None:
    # Blank lines only at the ends are not paragraph separators: each line is still a paragraph.
    assert paragraph_spans("\n\nOne.\nTwo.\n\n\n") == [(2, 6), (7, 11)]
    assert paragraph_spans("One.\nTwo.\n\nThree.") == [(0, 9), (11, 17)]


def test_wordless_fragment_joins_a_neighbour() -> None:
    # Punkt cuts a leading ". " off on its own (it happens in the BBC set); alone it would be noise.
    assert texts(". And the success of the film is clear.") == [". And the success of the film is clear."]
    assert texts("***") == ["***"]


def test_long_run_without_punctuation_is_cut_at_whitespace() -> None:
    words = [f"Team{i} 2-1 Rovers{i}" for i in range(400)]
    text = "Results: " + " ".join(words)
    sentences = split_sentences(text)
    assert len(text) > 3 * MAX_SENTENCE_CHARS
    assert len(sentences) >= 4
    assert all(s.end - s.start <= MAX_SENTENCE_CHARS for s in sentences)
    # Cut only at whitespace: the pieces rejoin to the original words.
    assert " ".join(texts(text)).split() == text.split()
    check_invariants(text, sentences)


def test_giant_word_is_hard_cut_and_max_chars_is_a_parameter() -> None:
    text = "x" * 2500 + " tail."
    sentences = split_sentences(text, max_chars=1000)
    assert [s.end - s.start for s in sentences] == [1000, 1000, 506]
    check_invariants(text, sentences, 1000)
    assert all(s.end - s.start <= 50 for s in split_sentences("word " * 100, max_chars=50))


def test_invariants_over_generated_texts() -> None:
    rng = random.Random(20240607)
    vocab = [
        "Mr.", "Smith", "said", "the", "U.S.", "economy", "grew", "3.5%", "$1.13bn", "Gen.", "J. K.",
        "Rowling", "“quoted”", '"quoted,"', "...", "café", "🎉", "—", "Jan.", "5", "e.g.", "www.bbc.co.uk",
        "x@y.org", "it", "fell.", "rose!", "why?", "(aside).", "'",
    ]  # fmt: skip
    seps = [" ", " ", " ", "  ", "\n", "\r\n", "\n\n", "\r\n\r\n", "\t", "\n \n", "\u2028"]
    for _ in range(60):
        parts = []
        for _ in range(rng.randint(0, 120)):
            parts.append(rng.choice(vocab))
            parts.append(rng.choice(seps))
        if rng.random() < 0.2:
            parts.append("y" * rng.randint(900, 2300))
        text = rng.choice(["", " ", "\n"]) + "".join(parts)
        check_invariants(text, split_sentences(text))


def test_hand_made_texts_keep_invariants() -> None:
    for text in [
        "a",
        ".",
        "\n\n\n.\n\n\n",
        "One.Two.Three.",
        "No final punctuation",
        "Tabs\tinside. And\u00a0non-breaking spaces. End.",
        "Line one\rLine two (old Mac endings)\rLine three.",
        SEED.read_text(encoding="utf-8").replace("\n", "\n\n"),
    ]:
        check_invariants(text, split_sentences(text))


def test_segmenter_is_built_once() -> None:
    split_sentences("First one. Second one.")
    split_sentences("Another text. Here.")
    assert _tokenizer.cache_info().misses <= 1
