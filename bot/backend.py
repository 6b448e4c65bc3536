"""The index side of the bot: blocking calls on the one Library, each meant to run in a worker thread.

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

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.search.answer import Answer, Citation, Passage
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.storage.datadir import IndexDamaged
from newsqa.index.storage.library import IngestReport, Library
from newsqa.index.storage.store import StoredArticle
from newsqa.index.text.article import Article, LoadProblem

from .chatstate import ChatState
from .chatstore import ChatStore, Follow
from .follows import Alert, Follows

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
    """Questions, buttons and admin writes against one Library (thread-safe, blocking)."""

    def __init__(self, library: Library, answerer: QuestionAnswerer, *, k: int, lock_timeout: float) -> None:
        self.library = library
        self.answerer = answerer
        self.k = k
        self.lock_timeout = lock_timeout
        self.questions = 0
        self.chats = ChatStore(library.store)
        self.follows = Follows(self.chats)

    # -- start-up ---------------------------------------------------------------------------------
    def warm_up(self) -> tuple[int, int]:
        """Load the vectors and the model now, so the first question is not the slow one."""
        self.library.refresh()
        _ = self.library.embedder
        return self.library.counts()

    # -- questions --------------------------------------------------------------------------------
    def ask(self, chat: str, question: str, as_of: dt.date) -> Reply:
        """Answer as of `as_of` (the message's day) with the chat's conversation (follow-ups), and store
        the updated state."""
        state = ChatState.from_json(self.chats.load_conversation(chat))
        self.library.refresh()
        answer = self.answerer.ask(question, state.conversation, k=self.k + 1, as_of=as_of)
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
        self.library.refresh()
        more = self.answerer.more(
            query, offset=offset, k=self.k + 1, focus=state.focus_of(number), as_of=state.as_of(number)
        )
        page, has_more = self._page(more)
        return Reply(page, number, has_more)

    def timeline(self, topic: str, as_of: dt.date, limit: int) -> Answer:
        """The story's matching sentences, oldest first, as known on `as_of`."""
        self.library.refresh()
        return self.answerer.timeline(topic, as_of=as_of, limit=limit)

    def _page(self, answer: Answer) -> tuple[Answer, bool]:
        """Asked for one passage more than shown: whether it came back says if More is worth offering."""
        has_more = len(answer.passages) > self.k
        return replace(answer, passages=answer.passages[: self.k]), has_more

    def reset(self, chat: str) -> None:
        self.chats.delete_conversation(chat)

    # -- buttons ----------------------------------------------------------------------------------
    def context(self, sentence_id: int) -> Passage | None:
        """A wider excerpt around a sentence; None when its article is gone."""
        return self.answerer.context(sentence_id, window=CONTEXT_WINDOW)

    def source(self, rowid: int) -> SourceInfo | None:
        store = self.library.store
        article = store.get_article(rowid)
        if article is None:
            return None
        return SourceInfo(citation_of(article), article.text[:2000], len(store.article_sentences(rowid)))

    def latest(self, n: int) -> tuple[list[Citation], int]:
        articles = self.library.store.latest_articles(n)
        return [citation_of(a) for a in articles], self.library.counts()[0]

    def find(self, article_id: str) -> Citation | None:
        found = self.library.store.find_article(article_id)
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

    def alerts_for(self, new_articles: set[str]) -> list[Alert]:
        """Alerts due for articles just indexed (each recorded as sent, so it never goes out twice)."""
        self.library.refresh()
        self.chats.expire_due()
        return self.follows.alerts_for(self.answerer.searcher, new_articles)

    # -- admin ------------------------------------------------------------------------------------
    def ingest(self, items: Iterable[Article | LoadProblem]) -> IngestReport:
        """Add or update articles under the writer lock (IndexLocked when another writer holds it)."""
        with self.library.dir.writer_lock(timeout=self.lock_timeout):
            return self.library.ingest(items)

    def reindex(self, folders: Sequence[Path]) -> IngestReport:
        """Rescan the configured folders: new and changed files are indexed, unchanged ones skipped."""
        return self.ingest(iter_articles(folders))

    def remove(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        with self.library.dir.writer_lock(timeout=self.lock_timeout):
            return self.library.remove(ids)

    def stats(self) -> Stats:
        try:
            manifest = self.library.dir.read_manifest()
        except IndexDamaged:  # the counts come from SQLite; only the build time is lost
            manifest = None
        articles, sentences = self.library.counts()
        return Stats(
            articles=articles,
            sentences=sentences,
            vectors=len(self.library.vectors),
            model=self.library.model_name,
            data_dir=str(self.library.dir.root),
            built_at=manifest.built_at if manifest else self.library.store.get_meta("written_at"),
        )
