"""One chat's state (pure data + JSON): the conversation for follow-ups, and recent queries for More.

Stored as one JSON string per chat in the project's SQLite (`ChatStore.save_conversation`), so it survives a
restart. The "turns" key is exactly `Conversation.to_json()`, the same state `newsqa chat` keeps.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from newsqa.index.search.followup import Conversation

log = logging.getLogger(__name__)

KEEP_ANSWERS = 20  # More works on this many recent answers of a chat


@dataclass
class ChatState:
    conversation: Conversation = field(default_factory=Conversation)
    # answer number -> (resolved query, focus words): enough to rank that answer again for More
    answers: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    next_answer: int = 1
    # answer number -> the moment it was asked (YYYY-MM-DD), so More pages the same ranking
    asked_on: dict[int, str] = field(default_factory=dict)

    def remember(self, query: str, focus: tuple[str, ...] = (), as_of: dt.date | None = None) -> int:
        """Number a new answer so its More button can find the query again; old ones are forgotten."""
        number = self.next_answer
        self.next_answer += 1
        self.answers[number] = (query, tuple(focus))
        if as_of is not None:
            self.asked_on[number] = as_of.isoformat()
        for old in sorted(self.answers)[:-KEEP_ANSWERS]:
            del self.answers[old]
            self.asked_on.pop(old, None)
        return number

    def as_of(self, answer: int) -> dt.date | None:
        raw = self.asked_on.get(answer)
        return dt.date.fromisoformat(raw) if raw else None

    def query_of(self, answer: int) -> str | None:
        found = self.answers.get(answer)
        return found[0] if found else None

    def focus_of(self, answer: int) -> tuple[str, ...]:
        found = self.answers.get(answer)
        return found[1] if found else ()

    def to_json(self) -> str:
        data = {
            **self.conversation.to_json(),
            "answers": {
                str(k): {"query": q, "focus": list(f), "as_of": self.asked_on.get(k)}
                for k, (q, f) in self.answers.items()
            },
            "next_answer": self.next_answer,
        }
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> ChatState:
        """The stored state; a fresh one when there is none or it cannot be read (logged, not fatal)."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            raw_answers = dict(data.get("answers", {}))
            answers = {int(k): _answer(v) for k, v in raw_answers.items()}
            asked_on = {
                int(k): str(v["as_of"])
                for k, v in raw_answers.items()
                if isinstance(v, dict) and v.get("as_of")
            }
            return cls(
                conversation=Conversation.from_json(data),
                answers=answers,
                asked_on=asked_on,
                next_answer=max(int(data.get("next_answer", 1)), max(answers, default=0) + 1),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("unreadable chat state (%s); starting afresh", exc)
            return cls()


def _answer(raw: object) -> tuple[str, tuple[str, ...]]:
    """A stored answer: {"query", "focus"}; a bare string is a query stored before focus was kept."""
    if isinstance(raw, dict):
        return str(raw["query"]), tuple(str(w) for w in raw.get("focus", []))
    return str(raw), ()
