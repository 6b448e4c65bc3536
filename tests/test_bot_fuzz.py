"""Fuzz the Telegram formatter: whatever articles, headlines, addresses and questions come in, every
message the views produce is one Telegram accepts (valid HTML entities per the stub's tdlib-like parser,
at most 4096 UTF-16 units once parsed, not empty) and its plain fallback is acceptable too."""

from __future__ import annotations

import os

import pytest
from botapi_stub import EntityParseError, parse_text, utf16_len
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsqa.bot import texts
from newsqa.bot.formatting import MAX_MESSAGE, Rendered, pack
from newsqa.bot.views import (
    alert_block,
    answer_messages,
    context_blocks,
    source_blocks,
    sources_blocks,
)
from newsqa.index.search.answer import Answer, Citation, Passage

pytestmark = pytest.mark.fuzz

# FUZZ_EXAMPLES raises the count for a longer hunt; the fast tier keeps it quick.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text as it reaches the bot: decoded UTF-8 or Telegram's JSON, so any code point but a lone surrogate.
# Markup characters, entities, astral emoji (2 UTF-16 units), combining marks and whitespace are boosted.
_MARKUP = ("<", ">", "&", '"', "'", "&amp;", "&lt;b&gt;", "<b>", "</a>", "<a href='x'>", "&#65;", "&nbsp;")
_UNICODE = ("😀", "👍🏽", "e\u0301", "𝕏𝕏𝕏", "\r", "\n", " ", "\t", "\u200b", "\u00a0", "\0", "…", "“")
_TRICKY = st.sampled_from([*_MARKUP, *_UNICODE])
_CHARS = st.characters(blacklist_categories=("Cs",))
TEXT = st.lists(st.one_of(_CHARS, _TRICKY), max_size=60).map("".join)
LONG_TEXT = st.one_of(TEXT, st.tuples(TEXT, st.integers(1, 400)).map(lambda t: t[0] * t[1]))
URL = st.one_of(
    st.none(),
    TEXT,
    st.builds(lambda path: f"https://news.example/{path}", TEXT),
    st.sampled_from(["javascript:alert(1)", "https://e.com/a?b=1&c=<2>", "http://x", "tg://user?id=1"]),
)
NUMBERS = st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def citations(draw: st.DrawFn) -> Citation:
    return Citation(
        id=draw(TEXT),
        title=draw(LONG_TEXT),
        url=draw(URL),
        published=draw(st.one_of(st.none(), TEXT, st.just("2024-05-01T08:00:00Z"))),
        source=draw(st.one_of(st.none(), TEXT)),
    )


@st.composite
def passages(draw: st.DrawFn, rank: int = 1) -> Passage:
    excerpt = draw(LONG_TEXT)
    a = draw(st.integers(0, len(excerpt)))
    b = draw(st.integers(a, len(excerpt)))
    return Passage(
        rank=rank,
        sentence=draw(st.one_of(st.just(excerpt[a:b]), TEXT)),
        excerpt=excerpt,
        highlight=(a, b),
        score=0.5,
        article=draw(citations()),
        sentence_id=draw(NUMBERS),
        article_rowid=draw(NUMBERS),
    )


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    count = draw(st.integers(0, 6))
    found = [draw(passages(rank=i + 1)) for i in range(count)]
    return Answer(draw(LONG_TEXT), draw(LONG_TEXT), draw(st.booleans()), found, 0.5)


def assert_sendable(rendered: Rendered) -> None:
    """What the stub (like Telegram) does with it: HTML first, then the plain fallback."""
    try:
        shown, _ = parse_text(rendered.html, "HTML")
    except EntityParseError as exc:
        raise AssertionError(f"Telegram would refuse the HTML: {exc}\n{rendered.html!r}") from None
    assert 0 < utf16_len(shown) <= MAX_MESSAGE, rendered.html
    plain, _ = parse_text(rendered.plain, None)
    assert 0 < utf16_len(plain) <= MAX_MESSAGE, rendered.plain


@FUZZ
@given(answers())
def test_every_answer_message_is_valid_html_within_4096(answer: Answer) -> None:
    messages = answer_messages(answer)
    assert messages
    for message in messages:
        assert_sendable(message.rendered)
    shown = [p.rank for m in messages for p in m.passages]
    assert shown == sorted(shown) and len(shown) == len(set(shown))  # each passage once, in order


@FUZZ
@given(passages(), TEXT, st.booleans(), st.integers(0, 10**6))
def test_context_source_and_alert_views_are_valid_html_within_4096(
    p: Passage, topic: str, admin: bool, sentences: int
) -> None:
    views = [
        context_blocks(p),
        source_blocks(p.article, lead=p.excerpt, sentences=sentences, show_id=admin),
        [alert_block(topic[:200], p)],
    ]
    for blocks in views:
        for rendered in pack(blocks):
            assert_sendable(rendered)


@FUZZ
@given(st.lists(citations(), max_size=12), st.booleans(), TEXT)
def test_source_lists_and_notes_are_valid_html_within_4096(
    cited: list[Citation], admin: bool, name: str
) -> None:
    for blocks in (
        sources_blocks(cited, len(cited), show_ids=admin),
        texts.usage(f"I can't index {name}: send one of .txt."),
    ):
        for rendered in pack(blocks):
            assert_sendable(rendered)
