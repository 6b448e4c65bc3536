"""Answers as terminal text (pure formatting): quote, excerpt with the sentence marked, citation."""

from __future__ import annotations

import textwrap

from newsqa.index.answer import Answer, Citation, Passage
from newsqa.index.timeexpr import describe, parse_day

BOLD, RESET = "\x1b[1m", "\x1b[0m"
NOT_FOUND = (
    "Not found in the articles: nothing I have indexed answers that. Try other words, or add articles."
)


def date_text(published: str | None) -> str | None:
    """'12 March 2023' for a readable publish date; the source's own text otherwise."""
    day = parse_day(published)
    return describe(day) if day else published


def citation_line(c: Citation) -> str:
    parts = [c.title]
    meta = ", ".join(p for p in (c.source, date_text(c.published)) if p)
    if meta:
        parts.append(meta)
    line = " — ".join(parts)
    line = f"{line} <{c.url}>" if c.url else line
    if c.also:
        line += "\n    also reported by: " + ", ".join(o.source or o.title for o in c.also)
    return line


def format_passage(p: Passage, *, color: bool, width: int = 100) -> str:
    a, b = p.highlight
    before, sentence, after = p.excerpt[:a], p.excerpt[a:b], p.excerpt[b:]
    sentence = f"{BOLD}{sentence}{RESET}" if color else f"»{sentence}«"
    flat = " ".join(f"{before}{sentence}{after}".split())
    body = textwrap.fill(flat, width=width, initial_indent="    ", subsequent_indent="    ")
    return f"[{p.rank}] {citation_line(p.article)}\n{body}"


def format_answer(answer: Answer, *, color: bool = False) -> str:
    if not answer.answered:
        return NOT_FOUND
    lines = []
    if answer.query != answer.question:
        lines.append(f"(searched for: {answer.query})")
    if answer.age_note:
        lines.append(answer.age_note)
    lines.extend(format_passage(p, color=color) for p in answer.passages)
    return "\n\n".join(lines)


def format_timeline(answer: Answer, *, color: bool = False, width: int = 100) -> str:
    """One entry per article, oldest first: date, outlet, the quote, the headline."""
    if not answer.answered:
        return NOT_FOUND
    out = []
    for p in answer.passages:
        when = date_text(p.article.published) or "undated"
        head = " · ".join(x for x in (when, p.article.source) if x)
        quote = f"{BOLD}{p.sentence}{RESET}" if color else f"“{p.sentence}”"
        body = textwrap.fill(
            " ".join(quote.split()), width=width, initial_indent="    ", subsequent_indent="    "
        )
        out.append(f"{head} — {p.article.title}\n{body}")
    return "\n\n".join(out)
