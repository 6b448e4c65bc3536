"""Inline buttons (pure): what each carries in its 64-byte callback_data, and the keyboard under an answer.

The data holds only short numbers: More names the chat's answer number (its query is kept in the chat's
stored state), Context a sentence id, Source an article row id. A button outliving what it points to
(after /reset or a removal) decodes fine and is answered as stale by the handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsqa.index.search.answer import Passage

MAX_DATA_BYTES = 64
MAX_NUMBER = 2**63 - 1  # SQLite's integers are signed 64-bit: a bigger one cannot name any row


@dataclass(frozen=True, slots=True)
class More:
    answer: int  # the chat's answer number
    offset: int  # passages already shown


@dataclass(frozen=True, slots=True)
class Context:
    sentence_id: int


@dataclass(frozen=True, slots=True)
class Source:
    article_rowid: int


Action = More | Context | Source
Button = tuple[str, str]  # (label, callback_data)


def encode(action: Action) -> str:
    match action:
        case More(answer, offset):
            data = f"m:{answer}:{offset}"
        case Context(sentence_id):
            data = f"c:{sentence_id}"
        case Source(rowid):
            data = f"s:{rowid}"
    if len(data.encode("utf-8")) > MAX_DATA_BYTES:  # cannot happen with ints of sane size; say so if it does
        raise ValueError(f"callback data too long: {data!r}")
    return data


def decode(data: str | None) -> Action | None:
    """The action a button carries, or None for anything this bot did not make.

    Numbers past `MAX_NUMBER` are refused here: the bot never made them, and binding one to an SQLite
    query would raise OverflowError at every tap.
    """
    if not data:
        return None
    kind, _, rest = data.partition(":")
    parts = rest.split(":")
    if not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts):
        return None
    numbers = [int(p) for p in parts]
    if any(n > MAX_NUMBER for n in numbers):
        return None
    if kind == "m" and len(numbers) == 2:
        return More(numbers[0], numbers[1])
    if kind == "c" and len(numbers) == 1:
        return Context(numbers[0])
    if kind == "s" and len(numbers) == 1:
        return Source(numbers[0])
    return None


def answer_keyboard(passages: Sequence[Passage], more: More | None) -> list[list[Button]]:
    """A row per passage shown (Context, Source), then More when further passages exist."""
    rows = [
        [
            (f"Context [{p.rank}]", encode(Context(p.sentence_id))),
            (f"Source [{p.rank}]", encode(Source(p.article_rowid))),
        ]
        for p in passages
    ]
    if more is not None:
        rows.append([("More ▸", encode(more))])
    return rows


def alert_keyboard(passage: Passage) -> list[list[Button]]:
    """Under an alert: the wider excerpt and the article's details (no More: an alert is not a search)."""
    return [
        [("Context", encode(Context(passage.sentence_id))), ("Source", encode(Source(passage.article_rowid)))]
    ]
