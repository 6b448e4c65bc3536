"""Telegram HTML from styled plain text (pure): escaping, fitting and splitting into messages.

Telegram measures a message after parsing its entities, in UTF-16 code units, and refuses more than 4096.
So a message is built from spans of plain text, each with one style: lengths are measured and anything
too long is cut on the plain text, and only then is each span escaped and wrapped in its tags. A tag can
never be cut, and no user or article text can open one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

MAX_MESSAGE = 4096  # UTF-16 code units of the parsed text
ELLIPSIS = "…"
SEPARATOR = "\n\n"  # between blocks in one message

Style = Literal["", "b", "i", "code"]

_LINKABLE = re.compile(r"^(?:https?)://[^\s<>\"]+$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Span:
    """A run of plain text with one style.

    `trim` orders what gives way when a block is too long: 0 never, then 1, 2, 3... (lowest first;
    spans of one number shrink together, in proportion).
    `keep_end`: a cut keeps the end (context leading up to the sentence), not the start.
    """

    text: str
    style: Style = ""
    href: str | None = None
    trim: int = 0
    keep_end: bool = False


Block = tuple[Span, ...]  # one unit (a passage, a paragraph): a message boundary never falls inside it


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message: its HTML, the same text plain (the fallback), and which blocks it holds."""

    html: str
    plain: str
    blocks: tuple[int, ...]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def squash(text: str) -> str:
    """Runs of whitespace (line breaks inside a quoted excerpt, too) become one space."""
    return _SPACES.sub(" ", text)


def linkable(url: str | None) -> bool:
    """Only http(s) links: Telegram drops others, and `javascript:` must never become a link."""
    return bool(url) and bool(_LINKABLE.match(url or ""))


# -- rendering ----------------------------------------------------------------------------------------


def span_html(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    if not text:
        return ""
    if span.href and linkable(span.href):
        text = f'<a href="{html.escape(span.href, quote=True)}">{text}</a>'
    if span.style:
        text = f"<{span.style}>{text}</{span.style}>"
    return text


def block_html(block: Block) -> str:
    """Neighbouring spans of one style share one tag (one entity, as Telegram would merge them anyway)."""
    merged: list[Span] = []
    for span in block:
        if merged and (merged[-1].style, merged[-1].href) == (span.style, span.href):
            merged[-1] = replace(merged[-1], text=merged[-1].text + span.text)
        else:
            merged.append(span)
    return "".join(span_html(s) for s in merged)


def block_plain(block: Block) -> str:
    return "".join(s.text for s in block)


def block_len(block: Block) -> int:
    return sum(utf16_len(s.text) for s in block)


# -- cutting ------------------------------------------------------------------------------------------


def _take(text: str, budget: int, *, from_end: bool) -> str:
    """The longest start (or end) of `text` within `budget` UTF-16 units, ending at a word if one is near."""
    if budget <= 0:
        return ""
    if utf16_len(text) <= budget:
        return text
    chars = text[::-1] if from_end else text
    used = 0
    n = 0
    for ch in chars:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        n += 1
    piece = chars[:n]
    space = piece.rfind(" ")
    if space >= max(1, n - 30):  # back off to a word boundary when it costs little
        piece = piece[:space]
    piece = piece.rstrip()
    return piece[::-1] if from_end else piece


def cut(text: str, remove: int, *, keep_end: bool = False) -> str:
    """`text` shorter by at least `remove` UTF-16 units, the cut marked "…" ('' if nothing is left)."""
    if remove <= 0:
        return text
    budget = utf16_len(text) - remove - utf16_len(ELLIPSIS)
    kept = _take(text, budget, from_end=keep_end)
    if not kept:
        return ""
    return ELLIPSIS + kept if keep_end else kept + ELLIPSIS


def fit(block: Block, limit: int = MAX_MESSAGE) -> Block:
    """`block` cut to at most `limit` units: trimmable spans give way in their order, at word ends."""
    excess = block_len(block) - limit
    if excess <= 0:
        return block
    spans = list(block)
    for priority in sorted({s.trim for s in spans if s.trim > 0}):
        if excess <= 0:
            break
        group = [i for i, s in enumerate(spans) if s.trim == priority and s.text]
        total = sum(utf16_len(spans[i].text) for i in group)
        for i in group:  # spans of one priority give way in proportion to their length
            span = spans[i]
            share = excess if total <= excess else -(-excess * utf16_len(span.text) // total)
            shorter = cut(span.text, share, keep_end=span.keep_end)
            spans[i] = replace(span, text=shorter)
        excess = sum(utf16_len(s.text) for s in spans) - limit
    # Last resort (only fixed text left and still too long): cut from the end, whatever it is.
    i = len(spans) - 1
    while excess > 0 and i >= 0:
        shorter = cut(spans[i].text, excess)
        excess -= utf16_len(spans[i].text) - utf16_len(shorter)
        spans[i] = replace(spans[i], text=shorter)
        i -= 1
    return tuple(s for s in spans if s.text)


def pack(blocks: Sequence[Block], limit: int = MAX_MESSAGE) -> list[Rendered]:
    """Blocks into as few messages as fit, in order, each message at most `limit` units once parsed.

    A message ends only between blocks; a block too long on its own is cut to fit (see `fit`).
    """
    fitted = [fit(b, limit) for b in blocks]
    out: list[Rendered] = []
    current: list[int] = []
    size = 0
    for i, block in enumerate(fitted):
        n = block_len(block)
        if not n:
            continue
        extra = n if not current else utf16_len(SEPARATOR) + n
        if current and size + extra > limit:
            out.append(_rendered(fitted, current))
            current, size, extra = [], 0, n
        current.append(i)
        size += extra
    if current:
        out.append(_rendered(fitted, current))
    return out


def _rendered(blocks: Sequence[Block], indices: list[int]) -> Rendered:
    return Rendered(
        html=SEPARATOR.join(block_html(blocks[i]) for i in indices),
        plain=SEPARATOR.join(block_plain(blocks[i]) for i in indices),
        blocks=tuple(indices),
    )
