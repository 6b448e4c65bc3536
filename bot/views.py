"""What the bot says about the articles (pure): answers, wider context, an article's details, the list.

Each view is made of blocks (see `formatting`): a passage is one block, so a long answer is split between
passages and each message can carry the buttons of exactly the passages it shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from newsqa.index.search.answer import Answer, Citation, Passage

from .formatting import MAX_MESSAGE, Block, Rendered, Span, pack, squash

TITLE_CHARS = 300  # a headline longer than this is cut (some feeds put the whole lead there)
LEAD_CHARS = 400
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class AnswerMessage:
    """One message of an answer and the passages it shows (their buttons go under it)."""

    rendered: Rendered
    passages: tuple[Passage, ...]


def short_date(published: str | None) -> str | None:
    """'2024-05-01T08:00:00Z' -> '2024-05-01'; anything else as given."""
    if not published:
        return None
    match = _ISO_DATE.match(published.strip())
    return match.group(0) if match else published.strip()


def citation_spans(c: Citation) -> tuple[Span, ...]:
    """Headline (linked when there is a web address), outlet, date."""
    title = squash(c.title).strip() or c.id
    if len(title) > TITLE_CHARS:
        title = title[: TITLE_CHARS - 1].rstrip() + "…"
    spans = [Span(title, href=c.url, trim=4)]
    meta = " · ".join(p for p in (squash(c.source or "").strip(), short_date(c.published) or "") if p)
    if meta:
        spans.append(Span(f" · {meta}", trim=4))
    return tuple(spans)


def excerpt_spans(p: Passage) -> tuple[Span, ...]:
    """The excerpt with its matched sentence in bold; context gives way before the sentence does."""
    a, b = p.highlight
    before = squash(p.excerpt[:a]).lstrip()
    sentence = squash(p.excerpt[a:b]).strip() or squash(p.sentence).strip()
    after = squash(p.excerpt[b:]).rstrip()
    return (
        Span(before, trim=1, keep_end=True),
        Span(sentence, "b", trim=3),
        Span(after, trim=1),
    )


def passage_block(p: Passage) -> Block:
    return (Span(f"[{p.rank}] "), *excerpt_spans(p), Span("\n— "), *citation_spans(p.article))


def alert_block(topic: str, p: Passage) -> Block:
    """A followed topic's news in one block (so one message): the topic, then the quote and its source.

    The topic never gives way (it is at most 200 characters); the excerpt, headline and sentence do.
    """
    return (
        Span("New on "),
        Span(squash(topic).strip(), "i"),
        Span(":\n"),
        *excerpt_spans(p),
        Span("\n— "),
        *citation_spans(p.article),
    )


def searched_block(answer: Answer) -> Block | None:
    """Says what a follow-up was resolved to, so the user sees what was searched."""
    if answer.query.strip() == answer.question.strip():
        return None
    return (Span("Searched for: ", "i"), Span(squash(answer.query).strip(), "i", trim=1))


def answer_messages(answer: Answer, *, limit: int = MAX_MESSAGE) -> list[AnswerMessage]:
    """An answer as messages split between passages; the not-found reply when it abstained."""
    if not answer.answered or not answer.passages:
        return [AnswerMessage(m, ()) for m in pack(not_found_blocks(answer), limit)]
    blocks: list[Block] = []
    owners: list[Passage | None] = []
    header = searched_block(answer)
    if header:
        blocks.append(header)
        owners.append(None)
    if answer.age_note:
        blocks.append((Span(answer.age_note, "i"),))
        owners.append(None)
    for p in answer.passages:
        blocks.append(passage_block(p))
        owners.append(p)
    out = []
    for rendered in pack(blocks, limit):
        shown = tuple(o for o in (owners[i] for i in rendered.blocks) if o is not None)
        out.append(AnswerMessage(rendered, shown))
    return out


def timeline_blocks(answer: Answer) -> list[Block]:
    """A story in date order: one block per article (date and outlet, the quote, the headline)."""
    topic = squash(answer.question).strip()
    if not answer.answered or not answer.passages:
        return not_found_blocks(answer)
    head: Block = (Span("Timeline", "b"), Span(": "), Span(topic, "i", trim=1), Span(", oldest first"))
    blocks: list[Block] = [head]
    for p in answer.passages:
        when = short_date(p.article.published) or "undated"
        outlet = squash(p.article.source or "").strip()
        blocks.append(
            (
                Span(f"{when}{' · ' + outlet if outlet else ''}", "b", trim=4),
                Span("\n“"),
                Span(squash(p.sentence).strip(), trim=3),
                Span("”\n— "),
                *citation_spans(p.article)[:1],
            )
        )
    return blocks


def not_found_blocks(answer: Answer) -> list[Block]:
    question = squash(answer.question).strip()
    first: Block = (
        Span("Not found in the articles", "b"),
        Span(": nothing I have indexed answers “"),
        Span(question, trim=1),
        Span("”."),
    )
    hint: Block = (
        Span("Try other words or a more specific question (names, places, dates help); "),
        Span("/sources"),
        Span(" lists the latest articles I know."),
    )
    header = searched_block(answer)
    return [first, *([header] if header else []), hint]


def context_blocks(p: Passage) -> list[Block]:
    """A wider excerpt around one passage, from the same article."""
    head: Block = (Span("Context", "b"), Span(" from "), *citation_spans(p.article))
    return [head, excerpt_spans(p)]


def source_blocks(c: Citation, *, lead: str, sentences: int, show_id: bool) -> list[Block]:
    """An article's details: headline, outlet, date, address, size, how it starts."""
    title = squash(c.title).strip() or c.id
    lines: list[Block] = [(Span(title, "b", href=c.url, trim=2),)]
    facts: list[Span] = []
    if c.source:
        facts.append(Span(f"Outlet: {squash(c.source).strip()}\n", trim=3))
    if c.published:
        facts.append(Span(f"Published: {c.published.strip()}\n"))
    if c.url:
        facts += [Span("Link: "), Span(c.url, href=c.url, trim=3), Span("\n")]
    facts.append(Span(f"Indexed sentences: {sentences}"))
    if show_id:
        facts += [Span("\nId: "), Span(c.id, "code", trim=3)]
    lines.append(tuple(facts))
    opening = squash(lead).strip()
    if opening:
        if len(opening) > LEAD_CHARS:
            opening = opening[: LEAD_CHARS - 1].rstrip() + "…"
        lines.append((Span(opening, "i", trim=1),))
    return lines


def sources_blocks(citations: Sequence[Citation], total: int, *, show_ids: bool) -> list[Block]:
    """The latest articles, newest first; ids (for /remove) only for admins."""
    if not citations:
        return [(Span("No articles are indexed yet."),)]
    head: Block = (Span(f"The latest {len(citations)} of {total} indexed articles", "b"), Span(":"))
    blocks: list[Block] = [head]
    for n, c in enumerate(citations, start=1):
        spans: list[Span] = [Span(f"{n}. "), *citation_spans(c)]
        if show_ids:
            spans += [Span("\n"), Span(c.id, "code", trim=5)]
        blocks.append(tuple(spans))
    return blocks
