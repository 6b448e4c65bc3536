"""RSS/Atom polling: new feed items become Articles, without losing a story or fetching one twice.

The caller runs `poll_feeds` every few minutes and indexes what it returns. What we remember per feed
(validators for conditional GET, which items were seen, failure backoff) lives in SQLite so a restart
picks up where it left off. An item counts as seen only once the caller confirms it was indexed
(`PollReport.mark_indexed` / `FeedStateStore.mark_seen`): a crash in between re-fetches the story on the
next poll instead of dropping it. For the same reason a feed's new validators are stored only when none
of its items is still waiting for that confirmation (a 304 would otherwise hide the unindexed items).
An item whose page has no article (and whose summary is too thin to stand in) is reported once and
marked seen; one whose page is only temporarily out of reach (timeout, 5xx) is retried next poll.
A seen key is forgotten only once the feed no longer lists it (beyond the newest SEEN_CAP such keys), so
a feed of 10,000 items costs only its new items per poll, however long it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any

import feedparser

from ..storage.indexstore import IndexStore
from ..storage.store import SqliteStore
from ..stories.dedupe import normalize_url
from ..text.article import Article, LoadProblem
from ..text.textclean import clean_text
from .fetch import Fetcher, is_transient, normalize_published, site_from_url

log = logging.getLogger(__name__)

ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
SEEN_CAP = 2000  # per feed, of the keys the feed no longer lists (those it lists are all kept)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed, as plain text."""

    feed_url: str
    link: str  # absolute; "" when the entry has none
    title: str
    summary: str  # plain text, paragraphs separated by blank lines
    published: str | None  # ISO 8601 (UTC when the feed gives a zone)
    guid: str  # the entry's id, else its link, else a digest of title + summary
    source: str | None = None  # the feed's own title, e.g. "BBC News - World"


@dataclass
class FeedState:
    """What we remember about one feed between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    seen: set[str] = field(default_factory=set)  # item guids already handled (see SEEN_CAP)
    failures: int = 0  # consecutive
    last_error: str | None = None
    next_due: float = 0.0  # epoch seconds; later than now while backing off after failures


@dataclass(frozen=True, slots=True)
class PollOptions:
    """Knobs for `poll_feeds`; defaults suit polling every few minutes."""

    backoff_base_s: float = 60.0  # first retry after a failure; doubles per consecutive failure
    backoff_max_s: float = 3600.0
    max_new_items: int = 50  # per feed and poll; the rest wait for the next poll (first poll of a big feed)
    min_summary_words: int = 40  # a summary this long may stand in for a page we could not extract


@dataclass
class PollReport:
    """The outcome of one poll. Index `articles`, then call `mark_indexed` with the ids that were handled."""

    articles: list[Article] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    feeds_ok: int = 0
    feeds_failed: int = 0
    not_modified: int = 0
    not_due: int = 0  # skipped: still backing off after failures
    origins: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # article id -> (feed url, guid)

    def mark_indexed(self, store: FeedStateStore, article_ids: Iterable[str] | None = None) -> None:
        """Record the items behind `article_ids` (default: all articles) as seen, one transaction per feed.

        Include articles deliberately skipped (e.g. near-duplicates): otherwise they come back every poll.
        """
        ids = [a.id for a in self.articles] if article_ids is None else list(article_ids)
        by_feed: dict[str, list[str]] = {}
        for article_id in ids:
            for feed_url, guid in self.origins.get(article_id, []):
                by_feed.setdefault(feed_url, []).append(guid)
        for feed_url, guids in by_feed.items():
            store.mark_seen(feed_url, guids)


class FeedError(ValueError):
    """The body is not a usable feed; the message is the one-line reason."""


# ------------------------------------------------------------------------------------------- parsing


class _TextCollector(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Feed summaries are HTML snippets: their text, one paragraph per block, blank lines between."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n\n".join(line for line in lines if line)


def _item_published(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:  # feedparser already converted it to UTC
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
    return normalize_published(entry.get("published") or entry.get("updated"))


#: A numeric character reference; `_no_character` tells which name no character Python can hold.
_CHAR_REF = re.compile(rb"&#(?:[xX](?P<hex>[0-9a-fA-F]{1,12})|(?P<dec>[0-9]{1,20}));")
#: What such a reference becomes: a Unicode noncharacter (reserved for a program's internal use), so the
#: item holding it can be told apart and skipped.
_BROKEN = "\ufdd0"


def _no_character(m: re.Match[bytes]) -> bytes:
    """`&#xD800;` (half a surrogate pair) or past U+10FFFF: feedparser's fallback parser fails on the
    whole document for one of them, so the feed's good items were lost too; it becomes the marker."""
    value = int(m["hex"], 16) if m["hex"] else int(m["dec"])
    if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return b"&#xFDD0;"
    return m.group(0)


def parse_feed(body: bytes, feed_url: str, content_type: str | None = None) -> list[FeedItem]:
    """The items of an RSS or Atom document, in feed order; FeedError when it is not a feed.

    A feed with recoverable syntax errors still yields the entries feedparser could read; an item holding
    a reference to no character (`&#xD800;`) is skipped, the others kept.
    """
    body = _CHAR_REF.sub(_no_character, body)
    headers = {"content-location": feed_url}  # the base for relative links
    if content_type:
        headers["content-type"] = content_type
    # A stream, never the bytes themselves: feedparser treats a bare string as a path or URL to open.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    entries = parsed.get("entries") or []
    if not entries:
        if not parsed.get("version"):
            raise FeedError("not an RSS or Atom feed")
        problem = parsed.get("bozo_exception")
        # feedparser also flags harmless things (a missing or odd Content-Type, an overridden charset).
        if parsed.get("bozo") and not isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe):
            raise FeedError(f"malformed feed ({' '.join(str(problem or 'unreadable').split())})")
        return []
    source = html_to_text(parsed.get("feed", {}).get("title", "")).replace(_BROKEN, "\ufffd") or None
    items = []
    skipped = 0
    for entry in entries:
        link = (entry.get("link") or "").strip()
        title = html_to_text(entry.get("title", ""))
        summary = html_to_text(entry.get("summary", ""))
        guid = (entry.get("id") or "").strip() or link
        if any(_BROKEN in text for text in (link, title, summary, guid)):
            skipped += 1
            continue
        if not guid:
            guid = "sha256:" + hashlib.sha256(f"{title}\x1f{summary}".encode()).hexdigest()[:32]
        items.append(FeedItem(feed_url, link, title, summary, _item_published(entry), guid, source))
    if skipped:
        log.warning("feed %s: %d items skipped (a character reference to no character)", feed_url, skipped)
    return items


# --------------------------------------------------------------------------------------------- state


class FeedStateStore:
    """Per-feed state in the index's database (tables `feed_state`, `feed_state_seen`, made by the index's
    migrations: store.py on SQLite, pgstore.py on PostgreSQL); the SQL is the store's (sqlstore.py), each
    update one write transaction.

    Seen keys are only ever added, and dropped only by a `save` that knows what the feed lists now: a
    `save` of a state loaded before a concurrent `mark_seen` cannot un-see what was confirmed meanwhile,
    and a key the feed still lists is never dropped (it would be fetched again). Safe to share between
    threads. Given a path instead of a store, it opens (and closes) a SQLite store of its own there.
    """

    def __init__(self, store: IndexStore | Path, *, seen_cap: int = SEEN_CAP) -> None:
        self.seen_cap = seen_cap
        self._owned = isinstance(store, Path)
        self.store: IndexStore = SqliteStore(store) if isinstance(store, Path) else store

    def load(self, url: str) -> FeedState:
        """The stored state of `url`, or a fresh one (due now) for a feed never polled."""
        row, seen = self.store.feed_state(url)
        state = FeedState(url, seen=seen)
        if row is not None:
            state.etag, state.last_modified, state.failures, state.last_error, state.next_due = row
        return state

    def save(self, state: FeedState, listed: Iterable[str] | None = None) -> None:
        """Store `state` atomically: fields replaced, seen keys added.

        With `listed` (the guids the feed lists now), seen keys it no longer lists are dropped beyond the
        newest `seen_cap` of them.
        """
        fields = (state.etag, state.last_modified, state.failures, state.last_error, state.next_due)
        chosen = set(listed) if listed is not None else None
        self.store.save_feed_state(state.url, fields, sorted(state.seen), chosen, self.seen_cap)

    def mark_seen(self, feed_url: str, guids: Iterable[str]) -> None:
        """Record items as handled (indexed or deliberately skipped): later polls will not fetch them."""
        self.store.mark_feed_seen(feed_url, list(guids))

    def close(self) -> None:
        """Close the store if this opened it (from a path); a borrowed store is its owner's to close."""
        if self._owned:
            self.store.close()

    def __enter__(self) -> FeedStateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ------------------------------------------------------------------------------------------- polling


def backoff_delay(failures: int, options: PollOptions) -> float:
    """Seconds to wait after `failures` consecutive failures: base, 2x base, 4x base ... capped."""
    if failures <= 0:
        return 0.0
    return float(min(options.backoff_max_s, options.backoff_base_s * 2 ** min(failures - 1, 32)))


async def poll_feeds(
    urls: list[str],
    store: FeedStateStore,
    fetcher: Fetcher,
    *,
    now: float | None = None,
    options: PollOptions | None = None,
) -> PollReport:
    """Poll every due feed once, concurrently; new items come back as Articles (not yet marked seen)."""
    clock = time.time() if now is None else now
    opts = options or PollOptions()
    report = PollReport()
    states = [store.load(url) for url in dict.fromkeys(urls)]
    due = [s for s in states if s.next_due <= clock]
    report.not_due = len(states) - len(due)
    pages: dict[str, asyncio.Task[Article | LoadProblem]] = {}  # one fetch per link, shared across feeds
    outcomes = await asyncio.gather(*(_poll_feed(s, store, fetcher, clock, opts, pages) for s in due))
    for outcome in outcomes:
        outcome.merge_into(report)
    return report


@dataclass
class _FeedOutcome:
    status: str  # "ok" | "not_modified" | "failed"
    articles: list[tuple[Article, str, str]] = field(default_factory=list)  # article, feed url, guid
    problems: list[LoadProblem] = field(default_factory=list)

    def merge_into(self, report: PollReport) -> None:
        if self.status == "failed":
            report.feeds_failed += 1
        else:
            report.feeds_ok += 1
            report.not_modified += self.status == "not_modified"
        known = {a.id for a in report.articles}
        for article, feed_url, guid in self.articles:
            if article.id not in known:
                report.articles.append(article)
                known.add(article.id)
            report.origins.setdefault(article.id, []).append((feed_url, guid))
        report.problems.extend(self.problems)


async def _poll_feed(
    state: FeedState,
    store: FeedStateStore,
    fetcher: Fetcher,
    now: float,
    opts: PollOptions,
    pages: dict[str, asyncio.Task[Article | LoadProblem]],
) -> _FeedOutcome:
    result = await fetcher.get(
        state.url, etag=state.etag, last_modified=state.last_modified, accept=ACCEPT_FEED
    )
    if result.error is not None:
        return _record_failure(state, store, now, opts, result.error)
    if result.not_modified:
        _record_success(
            state, store, now, result.etag or state.etag, result.last_modified or state.last_modified
        )
        return _FeedOutcome("not_modified")
    try:
        items = parse_feed(result.body or b"", state.url, result.content_type)
    except FeedError as exc:
        return _record_failure(state, store, now, opts, str(exc))
    except Exception as exc:  # a parser bug on one feed must not end the poll of the others
        log.exception("parsing feed %s failed unexpectedly", state.url)
        return _record_failure(
            state, store, now, opts, f"unreadable feed ({type(exc).__name__}: {' '.join(str(exc).split())})"
        )

    fresh = new_items(items, state.seen, opts.max_new_items)
    outcome = _FeedOutcome("ok")
    results = await asyncio.gather(*(_item_article(item, fetcher, opts, pages) for item in fresh))
    for item, got in zip(fresh, results, strict=True):
        if isinstance(got, Article):
            outcome.articles.append((got, state.url, item.guid))
        else:
            outcome.problems.append(got)
            if not is_transient(got.reason):  # a page without an article stays so: report it once
                state.seen.add(item.guid)
    listed = [i.guid for i in items]
    if any(guid not in state.seen for guid in listed):
        # Keep the old validators: until these items are confirmed (or fetched, past max_new_items), the
        # next poll must download the feed again rather than get a 304 that hides them.
        _record_success(state, store, now, state.etag, state.last_modified, listed)
    else:
        _record_success(state, store, now, result.etag, result.last_modified, listed)
    return outcome


def new_items(items: list[FeedItem], seen: set[str], limit: int) -> list[FeedItem]:
    """The first `limit` items not seen yet, each guid once (linear: a feed may list 10,000 items)."""
    fresh: list[FeedItem] = []
    taken: set[str] = set()
    for item in items:
        if len(fresh) >= limit:
            break
        if item.guid not in seen and item.guid not in taken:
            fresh.append(item)
            taken.add(item.guid)
    return fresh


def _record_failure(
    state: FeedState, store: FeedStateStore, now: float, opts: PollOptions, reason: str
) -> _FeedOutcome:
    state.failures += 1
    state.last_error = reason
    state.next_due = now + backoff_delay(state.failures, opts)
    store.save(state)
    return _FeedOutcome("failed", problems=[LoadProblem(state.url, reason)])


def _record_success(
    state: FeedState,
    store: FeedStateStore,
    now: float,
    etag: str | None,
    last_modified: str | None,
    listed: list[str] | None = None,
) -> None:
    state.failures = 0
    state.last_error = None
    state.next_due = now
    state.etag, state.last_modified = etag, last_modified
    store.save(state, listed)


async def _item_article(
    item: FeedItem, fetcher: Fetcher, opts: PollOptions, pages: dict[str, asyncio.Task[Article | LoadProblem]]
) -> Article | LoadProblem:
    """The item's page as an Article; else its summary when substantial; else a LoadProblem."""
    reason = "the feed item has no link"
    if item.link:
        key = normalize_url(item.link)
        task = pages.get(key)
        if task is None:
            task = pages[key] = asyncio.ensure_future(_fetch_page(fetcher, item.link))
        page = await task
        if isinstance(page, Article):
            if page.published is None and item.published:
                page = dataclasses.replace(page, published=item.published)
            return page
        reason = page.reason
    if len(item.summary.split()) >= opts.min_summary_words:
        return summary_article(item)
    where = item.link or f"{item.feed_url} ({item.title or item.guid})"
    return LoadProblem(where, f"{reason}; the feed's summary is too short to stand in")


async def _fetch_page(fetcher: Fetcher, url: str) -> Article | LoadProblem:
    try:
        return await fetcher.fetch_article(url)
    except Exception as exc:  # an extractor bug on one page must not end the poll
        log.exception("fetching %s failed unexpectedly", url)
        return LoadProblem(url, f"unexpected error: {type(exc).__name__}: {' '.join(str(exc).split())}")


def summary_article(item: FeedItem) -> Article:
    """An Article made of the feed's own title and summary, when the page itself is out of reach."""
    url = normalize_url(item.link) if item.link else None
    return Article(
        id=url or f"{item.feed_url}#{item.guid}",
        title=clean_text(item.title or item.summary.split("\n", 1)[0][:120]),
        text=clean_text(item.summary),
        url=url,
        published=item.published,
        source=item.source or site_from_url(item.link or item.feed_url),
        origin=item.feed_url,
    )
