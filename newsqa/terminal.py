"""Answers as terminal text (pure formatting): quote, excerpt with the sentence marked, citation.

Article text is untrusted: an escape sequence in it could retitle the window, fake a link, clear the
screen or rewrite what was printed. Every string from an article or a question is passed through
`terminal_safe` before it is printed, so the only escapes in the output are newsqa's own bold/reset.
`json_line` is the same guarantee for --json output, where the text must stay exact: JSON escapes the
C0 controls already, and it escapes the C1 and bidirectional controls JSON leaves raw.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from newsqa.index.search.answer import Answer, Citation, Passage
from newsqa.index.text.timeexpr import describe, parse_day

BOLD, RESET = "\x1b[1m", "\x1b[0m"
# Whole sequences first, so their parameters do not show up as text: OSC, DCS/SOS/PM/APC strings (up to
# BEL or ST, if one comes within 512 characters), CSI, then any other escape; 7-bit and 8-bit forms.
_SEQUENCE = re.compile(
    r"(?:\x1b\]|\x9d)[^\x07\x1b\x9c]{0,512}(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]{0,512}(?:\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?"
)
# What is left of C0 (but tab and newline), DEL, C1, and the bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
NOT_FOUND = (
    "Not found in the articles: nothing I have indexed answers that. Try other words, or add articles."
)


def date_text(published: str | None) -> str | None:
    """'12 March 2023' for a readable publish date; the source's own text otherwise."""
    day = parse_day(published)
    return describe(day) if day else published


def terminal_safe(text: str) -> str:
    """`text` without escape sequences and control characters (tab and newline kept)."""
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def json_line(value: Any) -> str:
    """One JSON line, readable as UTF-8, with no raw control character a terminal would act on."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def citation_line(c: Citation) -> str:
    parts = [terminal_safe(c.title)]
    meta = ", ".join(terminal_safe(p) for p in (c.source, date_text(c.published)) if p)
    if meta:
        parts.append(meta)
    line = " — ".join(parts)
    line = f"{line} <{terminal_safe(c.url)}>" if c.url else line
    if c.also:
        line += "\n    also reported by: " + ", ".join(terminal_safe(o.source or o.title) for o in c.also)
    return line


def format_passage(p: Passage, *, color: bool, width: int = 100) -> str:
    a, b = p.highlight
    before, sentence, after = (terminal_safe(t) for t in (p.excerpt[:a], p.excerpt[a:b], p.excerpt[b:]))
    sentence = f"{BOLD}{sentence}{RESET}" if color else f"»{sentence}«"
    flat = " ".join(f"{before}{sentence}{after}".split())
    body = textwrap.fill(flat, width=width, initial_indent="    ", subsequent_indent="    ")
    return f"[{p.rank}] {citation_line(p.article)}\n{body}"


def format_answer(answer: Answer, *, color: bool = False) -> str:
    if not answer.answered:
        return NOT_FOUND
    lines = []
    if answer.query != answer.question:
        lines.append(f"(searched for: {terminal_safe(answer.query)})")
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
        when = terminal_safe(date_text(p.article.published) or "undated")
        head = " · ".join(x for x in (when, terminal_safe(p.article.source or "")) if x)
        sentence = terminal_safe(p.sentence)
        quote = f"{BOLD}{sentence}{RESET}" if color else f"“{sentence}”"
        body = textwrap.fill(
            " ".join(quote.split()), width=width, initial_indent="    ", subsequent_indent="    "
        )
        out.append(f"{head} — {terminal_safe(p.article.title)}\n{body}")
    return "\n\n".join(out)
