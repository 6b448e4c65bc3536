"""The front door: one object to open newsqa by, with a few verbs.

`newsqa.open(...)` returns a `Newsqa`; the `newsqa` commands, the bot's backend, `newsqa dev eval` and
`newsqa dev bench` all go through it, so an index is opened, written, asked and closed one way:

    import newsqa

    with newsqa.open(data_dir="news") as n:
        n.add(["articles/", "https://example.org/story.html"])
        print(n.ask("Which airbase was targeted by drones?").to_dict())

The index opens on first use (the model loads only when something must be embedded), so `stats` and
`remove` never pay for the model. Nothing heavy is imported by this module itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from newsqa.settings import Settings
from newsqa.wiring import Wiring

if TYPE_CHECKING:
    from newsqa.index.ingest.watch import FolderWatcher
    from newsqa.index.models.embedder import Embedder
    from newsqa.index.search.answer import Answer, Passage
    from newsqa.index.search.followup import Conversation
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.search.ranking import Searcher, SearchOptions
    from newsqa.index.storage.changefollower import ChangeFollower
    from newsqa.index.storage.indexstore import IndexStore
    from newsqa.index.storage.inventory import Inventory
    from newsqa.index.storage.library import IngestReport, Library
    from newsqa.index.storage.store import StoredArticle
    from newsqa.index.text.article import Article, LoadProblem
    from newsqa.index.text.sentences import Sentence
    from newsqa.index.web.feedsync import FeedRounds

    Source = str | Path | Article | LoadProblem

REBUILD_NEEDS_DATA_DIR = (
    "--rebuild works on a data directory; with --store, build into a new database "
    "(createdb, then `newsqa --store NEW index build PATHS`) and point the processes at it"
)

#: Passages an answer quotes unless asked otherwise (the `newsqa ask` default).
DEFAULT_K = 5


@dataclass(frozen=True, slots=True)
class Removal:
    """What `remove` did: the ids removed and the ids not found."""

    removed: list[str]
    missing: list[str]


@dataclass(frozen=True, slots=True)
class Status:
    """The open index at a glance (the bot's /stats): what it holds, what is loaded, where, since when."""

    articles: int
    sentences: int
    vectors: int  # loaded in memory
    model: str
    where: str  # the data directory, or the PostgreSQL URL without its password
    built_at: (
        str | None
    )  # when the vector snapshot was written, else the last write (PostgreSQL); None: never


@dataclass(frozen=True, slots=True)
class Repair:
    """What `repair` mended (one line each) and what the index holds after it."""

    mended: list[str]
    articles: int
    sentences: int


def open(
    settings: Settings | None = None,
    /,
    *,
    embedder: Callable[[], Embedder] | None = None,
    create: bool = True,
    compressed: bool | None = None,
    k: int = DEFAULT_K,
    **fields: Any,
) -> Newsqa:
    """Open the index that `settings` (or `Settings`' defaults) names, changed by any Settings `fields`
    given as keywords (`data_dir=`, `store=`, `model=`, ...). Without `settings` or `model=`, an index
    keeps the model it was built with (all-MiniLM-L6-v2 for a new one).

    `embedder` makes the embedder instead of the model the settings name (tests pass a fake one);
    `create=False` raises IndexProblem ("no index in ...") instead of starting an empty index;
    `compressed` chooses the vector layout at the next write (None keeps what the index has); `k` is
    how many passages an answer quotes unless `ask` says otherwise.
    Use it as a context manager, or call `close()`.
    """
    chose_model = settings is not None or "model" in fields
    settings = settings or Settings()
    if "data_dir" in fields:
        fields["data_dir"] = Path(fields["data_dir"]).expanduser()
    if fields:
        settings = dataclasses.replace(settings, **fields)
    wiring = Wiring(settings, embedder)
    if not chose_model:  # an index keeps the model it was built with
        wiring = wiring.keeping_index_model()
    return Newsqa(wiring, create=create, compressed=compressed, k=k)


class Newsqa:
    """An opened newsqa index: add, remove, ask, timeline, stats, follow_changes, close.

    Thread-safe as the Library under it is (any number of readers; writes take the index's one-writer
    lock, waiting up to `lock_timeout` seconds for another process's write).
    """

    def __init__(
        self,
        wiring: Wiring,
        *,
        create: bool = True,
        compressed: bool | None = None,
        library: Library | None = None,
        answerer: QuestionAnswerer | None = None,
        k: int = DEFAULT_K,
        detect_copies: bool = True,
    ) -> None:
        self.wiring = wiring
        self.k = k
        self._detect_copies = detect_copies
        self._compressed = compressed
        self._library = library
        self._answerer = answerer
        if not create and library is None:
            home = wiring.home()
            if not home.exists():
                from newsqa.index.storage.datadir import NoIndex

                raise NoIndex(str(home.root))
        self._writer: int | None = None  # the thread holding the writer lock through `writing`

    @classmethod
    def over(cls, library: Library, answerer: QuestionAnswerer | None = None) -> Newsqa:
        """The front door of a Library opened elsewhere (the bot's tests hand it theirs); `answerer`
        carries its search options (default: the measured ones)."""
        if answerer is None:
            from newsqa.index.search.qa import QuestionAnswerer
            from newsqa.index.search.ranking import Searcher

            answerer = QuestionAnswerer(Searcher(library), k=DEFAULT_K)
        return cls(Wiring(Settings()), library=library, answerer=answerer)

    # -- opening and closing -----------------------------------------------------------------------
    @property
    def library(self) -> Library:
        """The parts under the verbs (store, vectors, change log), for the developer tools that measure
        them (`newsqa dev bench`, `newsqa dev eval`); opened on first use."""
        if self._library is None:
            self._library = self.wiring.library(
                compressed=self._compressed, detect_copies=self._detect_copies
            )
        return self._library

    @property
    def answerer(self) -> QuestionAnswerer:
        if self._answerer is None:
            self._answerer = self.wiring.answerer(self.library, self.k)
        return self._answerer

    @property
    def store(self) -> IndexStore:
        """The database under the index, where a front end may keep tables of its own (the bot's chats,
        follows and alerts: bot/chatstore.py)."""
        return self.library.store

    def warm_up(self) -> tuple[int, int]:
        """Load the vectors and the model now, so the first question is not the slow one; the counts."""
        lib = self.library
        lib.refresh()
        _ = lib.embedder
        return lib.counts()

    def refresh(self) -> int:
        """Catch up with changes other processes committed (every verb that reads does so itself)."""
        return self.library.refresh()

    def searcher(self, options: SearchOptions | None = None) -> Searcher:
        """The search every answer uses, with `options` instead of the measured ones (the evaluations)."""
        if options is None:
            return self.answerer.searcher
        return self.wiring.searcher(self.library, options)

    def close(self) -> None:
        """Close the database connections; the object is unusable after."""
        if self._library is not None:
            self._library.close()

    def __enter__(self) -> Newsqa:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def exists(self) -> bool:
        """Whether an index has been built where the settings point."""
        return self._library is not None or self.wiring.home().exists()

    # -- writing ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, *, lock_timeout: float = 0.0) -> Iterator[Newsqa]:
        """Hold the index's one-writer lock across several writes (each write otherwise takes it for
        itself). IndexLocked when another process is writing past `lock_timeout` seconds."""
        if self._writer == threading.get_ident():
            yield self
            return
        with self.library.dir.writer_lock(timeout=lock_timeout):
            self._writer = threading.get_ident()
            try:
                yield self
            finally:
                self._writer = None

    def add(
        self,
        sources: Iterable[Source],
        *,
        follow_links: bool = False,
        on_problem: Callable[[LoadProblem], None] | None = None,
        progress: Callable[[int], None] | None = None,
        on_embedded: Callable[[int], None] | None = None,
        lock_timeout: float = 0.0,
        splitter: Callable[[Article], list[Sentence]] | None = None,
        alerts_due: bool = False,
    ) -> IngestReport:
        """Add or update articles: files, folders, http(s) addresses (fetched, text extracted) or Article
        objects. Unchanged articles cost nothing; copies of a story already indexed are remembered.

        Returns the IngestReport (added, updated, unchanged, skipped with reasons). `on_problem` hears of
        each input that cannot be indexed as it is met; `progress` counts articles done, `on_embedded`
        sentences embedded. IndexLocked when another process is writing past `lock_timeout` seconds.
        `splitter` replaces the sentence splitter (an evaluation pool keeps its own sentences).
        `alerts_due` marks each new article as owing its followers' alerts (the bot's writes, Library.ingest).
        """
        items = self._articles(sources, follow_links=follow_links, on_problem=on_problem)
        lib = self.library
        with self.writing(lock_timeout=lock_timeout):
            report = lib.ingest(
                items, progress=progress, on_embedded=on_embedded, splitter=splitter, alerts_due=alerts_due
            )
            if self._compressed is not None:
                lib.checkpoint(force=True)  # choose the vector layout now, not at the next snapshot
        return report

    def rebuild(
        self,
        sources: Iterable[Source],
        *,
        follow_links: bool = False,
        on_problem: Callable[[LoadProblem], None] | None = None,
        progress: Callable[[int], None] | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Index `sources` into a new index beside the live one, which keeps answering until the new one
        is swapped in at once; conversations, follows and feed state are kept. A data directory only."""
        from newsqa.index.storage.datadir import IndexProblem
        from newsqa.index.storage.rebuild import rebuild
        from newsqa.index.storage.vectors import IndexPolicy

        if self.wiring.settings.store is not None:
            raise IndexProblem(REBUILD_NEEDS_DATA_DIR)
        if self._library is not None:  # the swap replaces the files under it
            self._library.close()
            self._library = self._answerer = None
        return rebuild(
            self.wiring.settings.data_dir,
            self.wiring.embedder_factory(),
            self._articles(sources, follow_links=follow_links, on_problem=on_problem),
            model_name=self.wiring.model_name(),
            vector_policy=IndexPolicy(compressed=self._compressed),
            progress=progress,
            **({"notice": notice} if notice is not None else {}),
        )

    def remove(self, ids: Iterable[str], *, lock_timeout: float = 0.0) -> Removal:
        """Remove articles by id (`stats(list_articles=True)` lists them)."""
        lib = self.library
        with self.writing(lock_timeout=lock_timeout):
            removed, missing = lib.remove(ids)
        return Removal(removed, missing)

    def repair(self, *, lock_timeout: float = 60.0) -> Repair:
        """Check the database and rewrite the vector snapshot and manifest from it (nothing re-embedded)."""
        lib = self.library
        with self.writing(lock_timeout=lock_timeout):
            mended = lib.repair()
            articles, sentences = lib.counts()
        return Repair(mended, articles, sentences)

    def _articles(
        self,
        sources: Iterable[Source],
        *,
        follow_links: bool,
        on_problem: Callable[[LoadProblem], None] | None,
    ) -> Iterator[Article | LoadProblem]:
        """Articles from files, folders, web pages and Article objects, in order. Anything written as an
        address is fetched or refused (only http and https), never read as a path; a link in a folder to
        a file outside it is skipped unless `follow_links` (loaders.walk_files)."""
        from newsqa.index.ingest.loaders import iter_articles
        from newsqa.index.text.article import LoadProblem
        from newsqa.index.web.fetch import fetch_article_sync, looks_like_url

        for source in sources:
            if isinstance(source, str | Path):
                found: Iterable[Any] = (
                    [fetch_article_sync(source, self.wiring.fetch_options())]
                    if isinstance(source, str) and looks_like_url(source)
                    else iter_articles([str(source)], follow_links=follow_links)
                )
            else:
                found = [source]
            for item in found:
                if on_problem is not None and isinstance(item, LoadProblem):
                    on_problem(item)
                yield item

    # -- asking -------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        k: int | None = None,
        as_of: dt.date | None = None,
    ) -> Answer:
        """Answer `question` with up to `k` cited sentences (default: the `k` it was opened with), as
        known on `as_of` (default: today; nothing published later is quoted). With a `conversation`, a
        follow-up ("and in April?") is read against the earlier questions; the conversation is left as
        it was, and `conversation.then(answer.turn)` is the one to ask the next question in. An Answer
        that abstains has `answered` False."""
        self.library.refresh()  # changes other processes committed since the last question
        return self.answerer.ask(question, conversation, k=k, as_of=as_of or dt.date.today())

    def conversation(self) -> Conversation:
        """A new conversation for `ask` (a terminal chat or a Telegram chat keeps one each)."""
        from newsqa.index.search.followup import Conversation

        return Conversation()

    def more(
        self, query: str, *, offset: int, k: int, focus: tuple[str, ...] = (), as_of: dt.date | None = None
    ) -> Answer:
        """The next `k` passages of an earlier answer, from its resolved query, focus and moment."""
        self.library.refresh()
        return self.answerer.more(query, offset=offset, k=k, focus=focus, as_of=as_of)

    def timeline(self, topic: str, *, limit: int = 10, as_of: dt.date | None = None) -> Answer:
        """How a story developed: `topic`'s best matching sentence of up to `limit` articles, oldest first,
        as known on `as_of` (default: today)."""
        self.library.refresh()
        return self.answerer.timeline(topic, as_of=as_of or dt.date.today(), limit=limit)

    def context(self, sentence_id: int, *, window: int) -> Passage | None:
        """A quoted sentence again with `window` neighbours each side; None when its article is gone."""
        return self.answerer.context(sentence_id, window=window)

    # -- reading ------------------------------------------------------------------------------------
    def stats(self, *, list_articles: bool = False) -> Inventory:
        """What the index holds: articles, sentences, newest day, where, size, internals (and with
        `list_articles`, each article's id, headline and day). Needs no model; counts come from the
        database. IndexProblem when there is no index or its manifest is missing or damaged."""
        from newsqa.index.storage.inventory import take_inventory

        return take_inventory(self.wiring.home(), list_articles=list_articles)

    def status(self) -> Status:
        """The open index at a glance. Unlike `stats`, a damaged manifest costs only the build time."""
        from newsqa.index.storage.datadir import IndexDamaged

        lib = self.library
        try:
            manifest = lib.dir.read_manifest()
        except IndexDamaged:  # the counts come from the database; only the build time is lost
            manifest = None
        articles, sentences = lib.counts()
        # the last write where there is no snapshot manifest (PostgreSQL: "Last write" in /stats)
        built_at = manifest.built_at if manifest else lib.store.get_meta("written_at")
        return Status(articles, sentences, len(lib.vectors), lib.model_name, str(lib.dir.root), built_at)

    def counts(self) -> tuple[int, int]:
        """(articles, sentences) in the index now."""
        return self.library.counts()

    def article(self, rowid: int) -> StoredArticle | None:
        """An article by its row (a passage's `article.rowid`); None when it is gone."""
        return self.library.store.get_article(rowid)

    def find(self, article_id: str) -> StoredArticle | None:
        """An article by its id; None when there is none."""
        return self.library.store.find_article(article_id)

    def latest(self, n: int) -> list[StoredArticle]:
        """The `n` articles added last, newest first."""
        return self.library.store.latest_articles(n)

    def sentence_count(self, rowid: int) -> int:
        return len(self.library.store.article_sentences(rowid))

    # -- watching -----------------------------------------------------------------------------------
    def folder_watcher(self, folder: Path, *, follow_links: bool = False) -> FolderWatcher:
        """A watched folder: each `scan()` (under `writing()`) indexes new and changed files once they stop
        changing and removes deleted ones."""
        from newsqa.index.ingest.watch import FolderWatcher

        return FolderWatcher(self.library, folder, follow_links=follow_links)

    def feeds(self, urls: list[str]) -> FeedRounds:
        """The RSS/Atom feeds this process polls into the index: `ours()` says whether it polls them now
        (one process of many on a shared database), `await run(fetcher)` does a round; `close()` it."""
        from newsqa.index.web.feedsync import FeedRounds

        return FeedRounds(self.library, urls)

    # -- following ----------------------------------------------------------------------------------
    def follow_changes(self, *, poll_seconds: float | None = None) -> ChangeFollower:
        """Keep answering from articles other processes add (another `newsqa index add`, an ingest
        worker, a replica's /add) while idle: a started background follower; `stop()` it, or use it as
        a context manager. PostgreSQL notifies at once; a data directory is polled."""
        from newsqa.index.storage.changefollower import ChangeFollower

        return ChangeFollower(self.library, poll_seconds=poll_seconds).start()
