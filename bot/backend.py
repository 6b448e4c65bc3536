"""The index side of the bot: blocking calls on the front door (newsqa/frontdoor.py), each meant to run in
a worker thread.

Handlers call these through `asyncio.to_thread`, so a slow search or a reindex never holds up the event
loop (other users keep getting answers). Writes take the data directory's writer lock; the same Library
then answers from the new articles at once. Before each search the Library replays changes committed by
other processes (`newsqa index add` next to a running bot), which costs one small query when there are none.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from newsqa.frontdoor import Newsqa
from newsqa.index.search.answer import Answer, Citation, Passage
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.storage.library import IngestReport, Library
from newsqa.index.storage.store import StoredArticle
from newsqa.index.text.article import Article, LoadProblem

from .chatstate import ChatState
from .chatstore import ChatStore, Follow
from .topics import Alert, Follows

log = logging.getLogger(__name__)

CONTEXT_WINDOW = 3  # neighbouring sentences each side for the Context button


@dataclass(frozen=True, slots=True)
class Reply:
    """One page of an answer: what to show, its number in the chat (for More), whether more exists."""

    answer: Answer
    number: int  # 0 when there is nothing to page through
    has_more: bool


@dataclass(frozen=True, slots=True)
class SourceInfo:
    citation: Citation
    lead: str
    sentences: int


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    sentences: int
    vectors: int
    model: str
    data_dir: str  # the data directory, or the PostgreSQL URL without its password
    built_at: str | None


def citation_of(a: StoredArticle) -> Citation:
    return Citation(a.id, a.title, a.url, a.published, a.source)


class Backend:
    """Questions, buttons and admin writes through the front door of one Library (thread-safe, blocking)."""

    def __init__(self, library: Library, answerer: QuestionAnswerer, *, k: int, lock_timeout: float) -> None:
        self.newsqa = Newsqa.over(library, answerer)
        self.library = library
        self.k = k
        self.lock_timeout = lock_timeout
        self.questions = 0
        self.chats = ChatStore(self.newsqa.store)
        self.follows = Follows(self.chats)

    # -- start-up ---------------------------------------------------------------------------------
    def warm_up(self) -> tuple[int, int]:
        """Load the vectors and the model now, so the first question is not the slow one."""
        return self.newsqa.warm_up()

    # -- questions --------------------------------------------------------------------------------
    def ask(self, chat: str, question: str, as_of: dt.date) -> Reply:
        """Answer as of `as_of` (the message's day) with the chat's conversation (follow-ups), and store
        the updated state."""
        state = ChatState.from_json(self.chats.load_conversation(chat))
        answer = self.newsqa.ask(question, conversation=state.conversation, k=self.k + 1, as_of=as_of)
        state.conversation = state.conversation.then(answer.turn)
        self.questions += 1
        page, has_more = self._page(answer)
        number = state.remember(answer.query, answer.focus, as_of) if page.answered else 0
        self.chats.save_conversation(chat, state.to_json())
        self.chats.expire_due()  # bounded: idle conversations and old alerts (chatstore.py, retention)
        return Reply(page, number, has_more)

    def more(self, chat: str, number: int, offset: int) -> Reply | None:
        """The next passages of an earlier answer; None when that answer was forgotten (/reset)."""
        state = ChatState.from_json(self.chats.load_conversation(chat))
        query = state.query_of(number)
        if query is None:
            return None
        more = self.newsqa.more(
            query, offset=offset, k=self.k + 1, focus=state.focus_of(number), as_of=state.as_of(number)
        )
        page, has_more = self._page(more)
        return Reply(page, number, has_more)

    def timeline(self, topic: str, as_of: dt.date, limit: int) -> Answer:
        """The story's matching sentences, oldest first, as known on `as_of`."""
        return self.newsqa.timeline(topic, limit=limit, as_of=as_of)

    def _page(self, answer: Answer) -> tuple[Answer, bool]:
        """Asked for one passage more than shown: whether it came back says if More is worth offering."""
        has_more = len(answer.passages) > self.k
        return replace(answer, passages=answer.passages[: self.k]), has_more

    def reset(self, chat: str) -> None:
        self.chats.delete_conversation(chat)

    # -- buttons ----------------------------------------------------------------------------------
    def context(self, sentence_id: int) -> Passage | None:
        """A wider excerpt around a sentence; None when its article is gone."""
        return self.newsqa.context(sentence_id, window=CONTEXT_WINDOW)

    def source(self, rowid: int) -> SourceInfo | None:
        article = self.newsqa.article(rowid)
        if article is None:
            return None
        return SourceInfo(citation_of(article), article.text[:2000], self.newsqa.sentence_count(rowid))

    def latest(self, n: int) -> tuple[list[Citation], int]:
        articles = self.newsqa.latest(n)
        return [citation_of(a) for a in articles], self.newsqa.counts()[0]

    def find(self, article_id: str) -> Citation | None:
        found = self.newsqa.find(article_id)
        return citation_of(found) if found else None

    # -- follows ----------------------------------------------------------------------------------
    def follow(self, chat: str, topic: str) -> Follow:
        """Raises FollowError (its message is for the user) for an empty or over-long topic, or too many."""
        return self.follows.follow(chat, topic)

    def following(self, chat: str) -> list[Follow]:
        return self.follows.following(chat)

    def unfollow(self, chat: str, which: str | None) -> list[Follow]:
        """Stop following: everything (None), the n-th topic of /following's list, or a topic by its words."""
        return self.follows.unfollow(chat, which)

    def due_alerts(self) -> tuple[list[Alert], int]:
        """The alerts of every article marked as owing them (this process's adds, or a dead one's), each
        claimed (recorded as sent, so it never goes out twice), and how many articles were due.

        The marks are read before the refresh: each committed with its article, so the refreshed
        searcher holds every article read here. They are cleared only after the claims: a process killed
        in between leaves them, and the next pass skips what was claimed (`Follows`)."""
        due = self.newsqa.store.alerts_due()
        if not due:
            return [], 0
        self.newsqa.refresh()
        self.chats.expire_due()
        alerts = self.follows.alerts_for(self.newsqa.searcher(), set(due))
        self.newsqa.store.clear_alerts_due(due)  # another replica may clear them too: harmless
        return alerts, len(due)

    # -- admin ------------------------------------------------------------------------------------
    def ingest(self, items: Iterable[Article | LoadProblem]) -> IngestReport:
        """Add or update articles under the writer lock (IndexLocked when another writer holds it)."""
        return self.newsqa.add(items, lock_timeout=self.lock_timeout, alerts_due=True)

    def reindex(self, folders: Sequence[Path]) -> IngestReport:
        """Rescan the configured folders: new and changed files are indexed, unchanged ones skipped."""
        return self.newsqa.add(folders, lock_timeout=self.lock_timeout, alerts_due=True)

    def remove(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        removal = self.newsqa.remove(ids, lock_timeout=self.lock_timeout)
        return removal.removed, removal.missing

    def stats(self) -> Stats:
        status = self.newsqa.status()
        return Stats(
            articles=status.articles,
            sentences=status.sentences,
            vectors=status.vectors,
            model=status.model,
            data_dir=status.where,
            built_at=status.built_at,
        )
