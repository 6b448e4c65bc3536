from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from web_fixture import ALLOW_LOCAL, WebServer, atom_feed, html_page, rss_feed

from newsqa.index.stories.dedupe import NearDupIndex
from newsqa.index.text.article import Article
from newsqa.index.web.feeds import (
    FeedError,
    FeedState,
    FeedStateStore,
    PollOptions,
    backoff_delay,
    parse_feed,
    poll_feeds,
)
from newsqa.index.web.fetch import Fetcher, FetchOptions
from newsqa.index.web.netguard import AddressPolicy

FAST = FetchOptions(timeout_s=1.0, max_bytes=256 * 1024, trust_env=False, policy=AddressPolicy(ALLOW_LOCAL))
NOW = 1_714_557_600.0  # 2024-05-01 10:00 UTC
RSS = "application/rss+xml; charset=utf-8"

STORIES = {
    "harbour": [
        "The city council approved a plan on Tuesday to rebuild the old harbour wall for 48 million.",
        "Work is due to start in March and should take about two years, the council's engineers said.",
        "Fishing boats will be moved to a temporary mooring on the northern pier while the wall is rebuilt.",
        "The national government will pay for most of the project from its coastal protection fund.",
    ],
    "election": [
        "Voters in the northern province went to the polls on Sunday in a closely watched regional election.",
        "The alliance that has governed the province for twelve years was projected to lose its majority.",
        "A new party campaigning on housing costs was expected to finish second, according to an exit poll.",
    ],
    "vaccine": [
        "A new vaccine against a common childhood virus cut hospital admissions by two thirds in a trial.",
        "The trial followed 8,000 infants in four countries through their first winter, researchers said.",
        "Health officials will review the data before adding the shot to the national schedule.",
    ],
}

LONG_SUMMARY = (
    "Firefighters spent the night battling a blaze at a furniture warehouse on the edge of the industrial "
    "estate, and the fire was brought under control shortly before dawn on Wednesday. No one was injured, "
    "the fire service said, but residents of nearby streets were told to keep their windows closed because "
    "of the smoke. The cause of the fire is being investigated."
)


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeedStateStore]:
    """The feed state in the index's database: a SQLite file, or PostgreSQL through a PgStore."""
    if request.param == "sqlite":
        with FeedStateStore(tmp_path / "feeds.db") as s:
            yield s
        return
    from newsqa.index.storage.pgstore import PgStore

    index = PgStore(request.getfixturevalue("pg_url"))
    with FeedStateStore(index) as s:
        yield s
    index.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FAST) as f:
        yield f


def publish(web: WebServer, slug: str, title: str, *, published: str | None = None) -> str:
    web.set_route(f"/news/{slug}", html_page(title, STORIES[slug], site="Coastal Times", published=published))
    return web.url(f"/news/{slug}")


def item(web: WebServer, slug: str, title: str, **extra: str) -> dict[str, str]:
    fields = {"title": title, "link": web.url(f"/news/{slug}"), "guid": f"urn:story:{slug}"}
    fields.update(extra)
    return fields


# ------------------------------------------------------------------------------------------- parsing


def test_parse_rss_items_as_plain_text() -> None:
    body = rss_feed(
        "Coastal Times - Local",
        [
            {
                "title": "Harbour <b>wall</b> &amp; pier",
                "link": "/news/harbour?utm_source=rss",
                "guid": "urn:story:harbour",
                "description": "<p>The council <a href='/x'>voted</a> on Monday.</p><p>Work starts soon.</p>",
                "pubDate": "Wed, 01 May 2024 10:00:00 +0200",
            },
            {"title": "No guid", "link": "http://127.0.0.1:9/news/other"},
            {"title": "Neither guid nor link", "description": "Just words."},
        ],
    ).encode()
    items = parse_feed(body, "http://127.0.0.1:9/feeds/local.xml", RSS)
    first = items[0]
    assert first.title == "Harbour wall & pier"
    assert first.link == "http://127.0.0.1:9/news/harbour?utm_source=rss"  # relative to the feed
    assert first.summary == "The council voted on Monday.\n\nWork starts soon."
    assert first.published == "2024-05-01T08:00:00Z"
    assert first.guid == "urn:story:harbour"
    assert first.source == "Coastal Times - Local"
    assert first.feed_url == "http://127.0.0.1:9/feeds/local.xml"
    assert items[1].guid == "http://127.0.0.1:9/news/other"
    assert items[2].guid.startswith("sha256:") and items[2].link == ""
    assert items[2].guid == parse_feed(body, "http://127.0.0.1:9/feeds/local.xml")[2].guid  # stable


def test_parse_atom_entries() -> None:
    body = atom_feed(
        "Wire",
        [
            {
                "title": "Vaccine trial",
                "link": "http://127.0.0.1:9/a/1",
                "id": "tag:wire,2024:1",
                "summary": "Fewer admissions.",
                "updated": "2024-05-01T12:30:00+02:00",
            }
        ],
    ).encode()
    [entry] = parse_feed(body, "http://127.0.0.1:9/atom.xml")
    assert (entry.title, entry.link, entry.guid, entry.summary) == (
        "Vaccine trial",
        "http://127.0.0.1:9/a/1",
        "tag:wire,2024:1",
        "Fewer admissions.",
    )
    assert entry.published == "2024-05-01T10:30:00Z"


def test_parse_rejects_what_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match=r"^malformed feed \("):
        parse_feed(b"<rss><channel><title>cut off", "http://127.0.0.1:9/f")
    with pytest.raises(FeedError, match=r"^not an RSS or Atom feed$"):
        parse_feed(b"<html><body><p>Hello</p></body></html>", "http://127.0.0.1:9/f")
    with pytest.raises(FeedError):
        parse_feed(b"", "http://127.0.0.1:9/f")
    assert parse_feed(rss_feed("Empty", []).encode(), "http://127.0.0.1:9/f") == []


@pytest.mark.parametrize("ref", ["&#xD800;", "&#55296;", "&#xDFFF;", "&#x110000;", "&#99999999999999999999;"])
def test_an_item_holding_a_reference_to_no_character_is_skipped_and_the_rest_kept(ref: str) -> None:
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire {ref}</title>
<item><title>Dam opens</title><link>http://127.0.0.1:9/a</link><description>A dam opened.</description></item>
<item><title>Broken {ref} one</title><link>http://127.0.0.1:9/b</link><description>{ref}</description></item>
<item><title>Bridge &#x41;head</title><link>http://127.0.0.1:9/c</link><description>Tolls.</description></item>
</channel></rss>"""
    items = parse_feed(feed.encode(), "http://127.0.0.1:9/f")
    assert [i.title for i in items] == ["Dam opens", "Bridge Ahead"]
    assert items[0].source == "Wire \ufffd"


def test_parse_never_opens_a_body_as_a_file_name(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text(rss_feed("Secret", [{"title": "private", "link": "http://127.0.0.1:9/p"}]))
    with pytest.raises(FeedError):
        parse_feed(str(secret).encode(), "http://127.0.0.1:9/f")


# --------------------------------------------------------------------------------------------- state


def test_state_store_roundtrip_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    with FeedStateStore(db) as store:
        assert store.load("http://x/feed") == FeedState("http://x/feed")
        state = FeedState("http://x/feed", etag='"e"', last_modified="lm", seen={"a", "b"}, failures=2)
        state.last_error, state.next_due = "HTTP 500 Internal Server Error", NOW + 120
        store.save(state)
        store.mark_seen("http://x/feed", ["c"])
    with FeedStateStore(db) as store:
        loaded = store.load("http://x/feed")
        assert loaded == FeedState(
            "http://x/feed", '"e"', "lm", {"a", "b", "c"}, 2, "HTTP 500 Internal Server Error", NOW + 120
        )


def test_save_never_unsees_and_drops_only_keys_the_feed_no_longer_lists(tmp_path: Path) -> None:
    url = "http://x/feed"
    with FeedStateStore(tmp_path / "feeds.db", seen_cap=5) as store:
        stale = store.load(url)  # loaded before the caller confirmed an item
        store.mark_seen(url, ["confirmed"])
        store.save(stale)
        assert "confirmed" in store.load(url).seen
        store.mark_seen(url, [f"k{i}" for i in range(7)])
        assert len(store.load(url).seen) == 8  # nothing is dropped without knowing what the feed lists
        store.save(store.load(url), listed=["confirmed", "k0", "k1"])  # 5 unlisted: all kept
        assert len(store.load(url).seen) == 8
        store.save(store.load(url), listed=["k0"])  # 7 unlisted: the newest 5 kept, the listed one too
        assert store.load(url).seen == {"k0", "k2", "k3", "k4", "k5", "k6"}
        store.mark_seen("http://y/feed", ["other"])  # caps are per feed
        store.save(store.load("http://y/feed"), listed=[])
        assert store.load("http://y/feed").seen == {"other"}


def test_backoff_doubles_and_caps_at_an_hour() -> None:
    opts = PollOptions()
    assert [backoff_delay(n, opts) for n in range(8)] == [0, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_delay(500, opts) == 3600


# ------------------------------------------------------------------------------------------- polling


async def test_poll_turns_new_items_into_articles(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    harbour = publish(web, "harbour", "Harbour wall to be rebuilt", published="2024-04-30")
    publish(web, "election", "Province votes")  # the page states no date: the feed's is used
    feed = web.url("/feeds/local.xml")
    web.set_route(
        "/feeds/local.xml",
        rss_feed(
            "Coastal Times",
            [
                item(web, "harbour", "Harbour wall to be rebuilt", pubDate="Tue, 30 Apr 2024 18:00:00 GMT"),
                item(web, "election", "Province votes", pubDate="Wed, 01 May 2024 07:15:00 +0000"),
            ],
        ),
        content_type=RSS,
        etag='"v1"',
    )

    report = await poll_feeds([feed], store, fetcher, now=NOW)

    assert (report.feeds_ok, report.feeds_failed, report.not_modified, report.problems) == (1, 0, 0, [])
    by_id = {a.id: a for a in report.articles}
    assert set(by_id) == {harbour, web.url("/news/election")}
    assert by_id[harbour].published == "2024-04-30"  # the page's own date wins
    assert by_id[web.url("/news/election")].published == "2024-05-01T07:15:00Z"
    assert by_id[harbour].source == "Coastal Times"
    assert "northern pier" in by_id[harbour].text
    assert report.origins[harbour] == [(feed, "urn:story:harbour")]


async def test_items_count_as_seen_only_after_indexing_is_confirmed(
    web: WebServer, tmp_path: Path, fetcher: Fetcher
) -> None:
    publish(web, "harbour", "Harbour wall to be rebuilt")
    feed = web.url("/feeds/local.xml")
    web.set_route(
        "/feeds/local.xml", rss_feed("T", [item(web, "harbour", "Harbour")]), content_type=RSS, etag='"v1"'
    )
    db = tmp_path / "feeds.db"
    with FeedStateStore(db) as store:
        first = await poll_feeds([feed], store, fetcher, now=NOW)
        assert len(first.articles) == 1
    # The process dies before indexing. After a restart the story must come back, not a 304.
    with FeedStateStore(db) as store:
        second = await poll_feeds([feed], store, fetcher, now=NOW + 60)
        assert [a.id for a in second.articles] == [a.id for a in first.articles]
        assert "if-none-match" not in web.requests_for("/feeds/local.xml")[1].headers
        second.mark_indexed(store)
        third = await poll_feeds([feed], store, fetcher, now=NOW + 120)  # all seen: validators stored now
        fourth = await poll_feeds([feed], store, fetcher, now=NOW + 180)
    assert third.articles == [] and third.feeds_ok == 1
    assert fourth.articles == [] and fourth.not_modified == 1
    assert web.requests_for("/feeds/local.xml")[3].headers["if-none-match"] == '"v1"'
    assert web.hits["/news/harbour"] == 2  # fetched again after the "crash", never after confirmation


async def test_new_item_appearing_later_is_the_only_one_fetched(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    publish(web, "harbour", "Harbour wall to be rebuilt")
    feed = web.url("/feeds/local.xml")
    items = [item(web, "harbour", "Harbour")]
    web.set_route("/feeds/local.xml", rss_feed("T", items), content_type=RSS, etag='"v1"')
    first = await poll_feeds([feed], store, fetcher, now=NOW)
    first.mark_indexed(store)

    vaccine = publish(web, "vaccine", "Vaccine trial")
    web.set_route(
        "/feeds/local.xml",
        rss_feed("T", [item(web, "vaccine", "Vaccine"), *items]),
        content_type=RSS,
        etag='"v2"',
    )
    second = await poll_feeds([feed], store, fetcher, now=NOW + 60)

    assert [a.id for a in second.articles] == [vaccine]
    assert web.hits["/news/harbour"] == 1 and web.hits["/news/vaccine"] == 1


async def test_atom_feed_is_polled_too(web: WebServer, store: FeedStateStore, fetcher: Fetcher) -> None:
    vaccine = publish(web, "vaccine", "Vaccine trial")
    web.set_route(
        "/atom.xml",
        atom_feed(
            "Wire",
            [{"title": "Vaccine", "link": vaccine, "id": "tag:wire:1", "updated": "2024-05-01T09:00:00Z"}],
        ),
        content_type="application/atom+xml",
    )
    report = await poll_feeds([web.url("/atom.xml")], store, fetcher, now=NOW)
    assert [a.id for a in report.articles] == [vaccine]
    assert report.articles[0].published == "2024-05-01T09:00:00Z"


async def test_page_without_article_falls_back_to_a_substantial_summary(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    web.set_route("/news/fire", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    web.set_route("/news/video", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    feed = web.url("/feeds/local.xml")
    web.set_route(
        "/feeds/local.xml",
        rss_feed(
            "Coastal Times",
            [
                {
                    "title": "Warehouse fire",
                    "link": web.url("/news/fire"),
                    "guid": "fire",
                    "description": LONG_SUMMARY,
                },
                {
                    "title": "Watch: sunset",
                    "link": web.url("/news/video"),
                    "guid": "video",
                    "description": "A video.",
                },
            ],
        ),
        content_type=RSS,
    )
    report = await poll_feeds([feed], store, fetcher, now=NOW)

    [article] = report.articles
    assert article == Article(
        id=web.url("/news/fire"),
        title="Warehouse fire",
        text=LONG_SUMMARY,
        url=web.url("/news/fire"),
        source="Coastal Times",
    )
    [problem] = report.problems
    assert problem.where == web.url("/news/video")
    assert problem.reason == "no article text found on the page; the feed's summary is too short to stand in"
    # Reported once: the thin item is not fetched again on the next poll; the fire story is (unconfirmed).
    again = await poll_feeds([feed], store, fetcher, now=NOW + 60)
    assert again.problems == [] and [a.id for a in again.articles] == [article.id]
    assert web.hits["/news/video"] == 1


async def test_page_temporarily_down_is_retried_next_poll(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    web.set_route("/news/harbour", "busy", status=503)
    feed = web.url("/feeds/local.xml")
    web.set_route("/feeds/local.xml", rss_feed("T", [item(web, "harbour", "Harbour")]), content_type=RSS)
    down = await poll_feeds([feed], store, fetcher, now=NOW)
    assert down.articles == []
    assert [p.reason for p in down.problems] == [
        "HTTP 503 Service Unavailable; the feed's summary is too short to stand in"
    ]
    assert "urn:story:harbour" not in store.load(feed).seen

    harbour = publish(web, "harbour", "Harbour wall to be rebuilt")  # the site is back
    back = await poll_feeds([feed], store, fetcher, now=NOW + 60)
    assert [a.id for a in back.articles] == [harbour] and back.problems == []


async def test_failing_feeds_back_off_and_never_stop_the_others(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    publish(web, "harbour", "Harbour wall to be rebuilt")
    good = web.url("/feeds/good.xml")
    web.set_route("/feeds/good.xml", rss_feed("T", [item(web, "harbour", "Harbour")]), content_type=RSS)
    web.set_route("/feeds/hang.xml", "never", delay_s=10)
    web.set_route("/feeds/error.xml", "oops", status=500)
    web.set_route("/feeds/bad.xml", "<rss version='2.0'><channel><title>cut off", content_type=RSS)
    web.set_route("/feeds/page.xml", "<html><body>Not a feed</body></html>")
    broken = [
        web.url(p) for p in ("/feeds/hang.xml", "/feeds/error.xml", "/feeds/bad.xml", "/feeds/page.xml")
    ]

    report = await poll_feeds([*broken, good], store, fetcher, now=NOW)

    assert (report.feeds_ok, report.feeds_failed) == (1, 4)
    assert len(report.articles) == 1
    reasons = {p.where: p.reason for p in report.problems}
    assert reasons[broken[0]] == "timed out after 1 s"
    assert reasons[broken[1]] == "HTTP 500 Internal Server Error"
    assert reasons[broken[2]].startswith("malformed feed (")
    assert reasons[broken[3]] == "not an RSS or Atom feed"
    state = store.load(broken[1])
    assert (state.failures, state.last_error, state.next_due) == (
        1,
        "HTTP 500 Internal Server Error",
        NOW + 60,
    )

    # Within the backoff the failed feeds are not even requested.
    soon = await poll_feeds(broken, store, fetcher, now=NOW + 30)
    assert soon.not_due == 4 and soon.feeds_failed == 0 and web.hits["/feeds/error.xml"] == 1

    later = await poll_feeds([broken[1]], store, fetcher, now=NOW + 61)
    assert later.feeds_failed == 1
    assert store.load(broken[1]).next_due == NOW + 61 + 120  # doubled

    web.set_route("/feeds/error.xml", rss_feed("T", []), content_type=RSS)  # the site recovers
    recovered = await poll_feeds([broken[1]], store, fetcher, now=NOW + 1000)
    assert recovered.feeds_ok == 1
    state = store.load(broken[1])
    assert (state.failures, state.last_error, state.next_due) == (0, None, NOW + 1000)


async def test_huge_feed_is_a_failure_not_a_crash(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    web.set_stream("/feeds/huge.xml", b"<item>" + b"x" * 65530, repeat=8, content_type=RSS)  # 512 KB > 256 KB
    report = await poll_feeds([web.url("/feeds/huge.xml")], store, fetcher, now=NOW)
    assert report.feeds_failed == 1
    assert report.problems[0].reason == "too large (over 256 KB)"


async def test_same_story_in_two_feeds_is_fetched_once(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    harbour = publish(web, "harbour", "Harbour wall to be rebuilt")
    tracked = item(web, "harbour", "Harbour", guid="urn:partner:harbour")
    tracked["link"] += "?utm_source=partner&utm_medium=rss"
    web.set_route("/feeds/a.xml", rss_feed("A", [item(web, "harbour", "Harbour")]), content_type=RSS)
    web.set_route("/feeds/b.xml", rss_feed("B", [tracked]), content_type=RSS)
    feeds = [web.url("/feeds/a.xml"), web.url("/feeds/b.xml")]

    report = await poll_feeds(feeds, store, fetcher, now=NOW)

    assert [a.id for a in report.articles] == [harbour]
    assert sorted(report.origins[harbour]) == [
        (feeds[0], "urn:story:harbour"),
        (feeds[1], "urn:partner:harbour"),
    ]
    assert web.hits["/news/harbour"] == 1
    report.mark_indexed(store)
    assert (
        "urn:story:harbour" in store.load(feeds[0]).seen
        and "urn:partner:harbour" in store.load(feeds[1]).seen
    )


async def test_syndicated_copy_on_another_path_is_caught_by_near_dup_check(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    original = publish(web, "harbour", "Harbour wall to be rebuilt")
    copy_paragraphs = [
        "LISBON (Reuters) - Councillors voted on Tuesday to rebuild the old harbour wall.",
        *STORIES["harbour"][1:],
    ]
    web.set_route(
        "/wire/harbour-copy", html_page("Storm-hit harbour to get new wall", copy_paragraphs, site="Wire")
    )
    copy_url = web.url("/wire/harbour-copy")
    web.set_route(
        "/feeds/local.xml",
        rss_feed("T", [item(web, "harbour", "Harbour"), {"title": "Copy", "link": copy_url, "guid": "copy"}]),
        content_type=RSS,
    )
    report = await poll_feeds([web.url("/feeds/local.xml")], store, fetcher, now=NOW)
    by_id = {a.id: a for a in report.articles}
    assert set(by_id) == {original, copy_url}  # different pages: both fetched, the caller decides

    seen = NearDupIndex()
    seen.add(original, by_id[original].text)
    [(match, similarity)] = seen.find(by_id[copy_url].text, threshold=0.6)
    assert match == original and similarity < 1.0


async def test_max_new_items_spreads_a_big_first_poll(
    web: WebServer, store: FeedStateStore, fetcher: Fetcher
) -> None:
    for slug in STORIES:
        publish(web, slug, slug.title())
    feed = web.url("/feeds/local.xml")
    web.set_route(
        "/feeds/local.xml", rss_feed("T", [item(web, s, s) for s in STORIES]), content_type=RSS, etag='"v1"'
    )
    opts = PollOptions(max_new_items=2)
    first = await poll_feeds([feed], store, fetcher, now=NOW, options=opts)
    first.mark_indexed(store)
    second = await poll_feeds([feed], store, fetcher, now=NOW + 60, options=opts)
    second.mark_indexed(store)
    assert len(first.articles) == 2 and len(second.articles) == 1
    assert {a.id for a in first.articles + second.articles} == {web.url(f"/news/{s}") for s in STORIES}
    # The etag was held back while items were pending: the second poll was a full GET.
    assert "if-none-match" not in web.requests_for("/feeds/local.xml")[1].headers


def many_items(web: WebServer, n: int) -> list[dict[str, str]]:
    return [{"title": f"Story {i}", "link": web.url(f"/many/{i}"), "guid": f"urn:many:{i}"} for i in range(n)]


def page_fetches(web: WebServer) -> int:
    return sum(count for path, count in web.hits.items() if path.startswith("/many/"))


async def test_a_feed_longer_than_the_seen_cap_fetches_nothing_the_second_time(
    web: WebServer, tmp_path: Path, fetcher: Fetcher
) -> None:
    """Once every item was handled, serving the same feed again costs its download and no page."""
    paragraphs = STORIES["harbour"]
    for i in range(60):
        web.set_route(f"/many/{i}", html_page(f"Story {i}", [f"Story {i} begins here.", *paragraphs]))
    feed = web.url("/many.xml")
    web.set_route("/many.xml", rss_feed("Many", many_items(web, 60)), content_type=RSS)
    opts = PollOptions(max_new_items=100)
    with FeedStateStore(tmp_path / "feeds.db", seen_cap=20) as small:  # the cap, 3x smaller than the feed
        first = await poll_feeds([feed], small, fetcher, now=NOW, options=opts)
        first.mark_indexed(small)
        assert len(first.articles) == 60 and page_fetches(web) == 60
        second = await poll_feeds([feed], small, fetcher, now=NOW + 60, options=opts)
    assert second.articles == [] and second.problems == []
    assert page_fetches(web) == 60  # before: the 40 items beyond the cap were fetched again every round


async def test_a_long_feed_costs_only_its_new_items(web: WebServer, tmp_path: Path, fetcher: Fetcher) -> None:
    """400 items already handled, the cap 100: a poll fetches no page, then only the one new item's."""
    items = many_items(web, 400)
    feed = web.url("/big.xml")
    web.set_route("/big.xml", rss_feed("Big", items), content_type=RSS)
    with FeedStateStore(tmp_path / "feeds.db", seen_cap=100) as small:
        small.mark_seen(feed, [i["guid"] for i in items])  # every item handled (indexed or skipped)
        first = await poll_feeds([feed], small, fetcher, now=NOW)
        first.mark_indexed(small)
        items.insert(0, {"title": "Brand new", "link": web.url("/news/harbour"), "guid": "urn:new"})
        publish(web, "harbour", "Brand new")
        web.set_route("/big.xml", rss_feed("Big", items), content_type=RSS)
        second = await poll_feeds([feed], small, fetcher, now=NOW + 60)
    assert first.articles == [] and page_fetches(web) == 0  # before: 50 old items refetched each poll
    assert [a.title for a in second.articles] == ["Brand new"] and page_fetches(web) == 0
    assert web.hits["/news/harbour"] == 1
