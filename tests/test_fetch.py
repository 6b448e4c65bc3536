from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from web_fixture import ALLOW_LOCAL, FlightCounter, WebServer, html_page, http_date

from newsqa.index.text.article import Article, LoadProblem
from newsqa.index.web.fetch import (
    Fetcher,
    FetchOptions,
    choose_article_url,
    decode_html,
    fetch_article_sync,
    is_transient,
    looks_like_url,
    normalize_published,
)
from newsqa.index.web.netguard import AddressPolicy

LOCAL = AddressPolicy(ALLOW_LOCAL)  # the fixture server on 127.0.0.1, allowed explicitly
FAST = FetchOptions(timeout_s=2.0, max_bytes=1024 * 1024, max_redirects=3, trust_env=False, policy=LOCAL)

STORY = [
    "The city council approved a plan on Tuesday to rebuild the old harbour wall at a cost of 48 million.",
    "Work is due to start in March and should take about two years, the council's engineers said.",
    "Fishing boats will be moved to a temporary mooring on the northern pier while the wall is rebuilt.",
]


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


async def fetch_article(url: str, options: FetchOptions = FAST) -> Article | LoadProblem:
    async with Fetcher(options) as fetcher:
        return await fetcher.fetch_article(url)


# ------------------------------------------------------------------------------------------- articles


async def test_article_uses_canonical_url_site_name_and_date(web: WebServer) -> None:
    canonical = web.url("/world/harbour-wall")
    page = html_page(
        "Harbour wall to be rebuilt",
        STORY,
        canonical=canonical,
        site="Coastal Times",
        published="2024-05-01T10:00:00+02:00",
    )
    web.set_route("/world/harbour-wall", page)
    web.set_route("/amp/harbour-wall", page)

    article = await fetch_article(web.url("/amp/harbour-wall?utm_source=rss"))

    assert isinstance(article, Article)
    assert article.id == canonical
    assert article.url == canonical
    assert article.title == "Harbour wall to be rebuilt"
    assert article.source == "Coastal Times"
    assert article.published is not None and article.published.startswith("2024-05-01")
    assert "northern pier" in article.text
    assert "Copyright" not in article.text  # boilerplate stays out


async def test_same_story_under_tracking_url_gets_the_same_id(web: WebServer) -> None:
    page = html_page("Harbour wall to be rebuilt", STORY)
    web.set_route("/story", page)
    web.set_route("/story/", page)
    plain = await fetch_article(web.url("/story"))
    tracked = await fetch_article(web.url("/story/?utm_source=twitter&utm_medium=social&fbclid=abc"))
    assert isinstance(plain, Article) and isinstance(tracked, Article)
    assert plain.id == tracked.id == web.url("/story")
    assert plain.source == "127.0.0.1"  # no site name on the page: the host stands in
    assert web.hits["/story"] == 1 and web.hits["/story/"] == 1


async def test_redirect_is_followed_and_final_url_is_the_id(web: WebServer) -> None:
    web.set_route("/final", html_page("Harbour wall to be rebuilt", STORY))
    web.set_redirect("/short", "/middle", status=301)
    web.set_redirect("/middle", web.url("/final"), status=302)
    article = await fetch_article(web.url("/short"))
    assert isinstance(article, Article)
    assert article.id == web.url("/final")
    assert article.origin == web.url("/short")


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=windows-1252", None, "café"),
        ("text/html; charset=ISO-8859-1", None, "café"),  # as browsers do: read as windows-1252
        ("text/html", "meta", "café"),  # charset only in <meta>
        ("text/html", "utf8-no-declaration", "café"),  # fallback: UTF-8
    ],
)
async def test_charset_from_header_meta_or_utf8(
    web: WebServer, content_type: str, body: str | None, expected: str
) -> None:
    paragraphs = [*STORY, "Residents gathered at the harbour café to watch the vote on a big screen."]
    if body == "meta":
        data = html_page("Harbour wall", paragraphs, charset_meta="windows-1252").encode("cp1252")
    elif body == "utf8-no-declaration":
        data = html_page("Harbour wall", paragraphs).encode("utf-8")
    else:
        data = html_page("Harbour wall", paragraphs).encode("cp1252")
    web.set_route("/page", data, content_type=content_type)
    article = await fetch_article(web.url("/page"))
    assert isinstance(article, Article)
    assert "harbour café to watch" in article.text


async def test_page_without_article_is_a_problem(web: WebServer) -> None:
    web.set_route(
        "/index", "<html><body><nav><a href='/a'>Home</a> <a href='/b'>World</a></nav></body></html>"
    )
    problem = await fetch_article(web.url("/index"))
    assert problem == LoadProblem(web.url("/index"), "no article text found on the page")


async def test_non_html_is_refused_before_reading_it(web: WebServer) -> None:
    web.set_route("/report.pdf", b"%PDF-1.7 " + b"0" * 1000, content_type="application/pdf")
    problem = await fetch_article(web.url("/report.pdf"))
    assert problem == LoadProblem(web.url("/report.pdf"), "not an HTML page (application/pdf)")


async def test_http_errors_are_problems(web: WebServer) -> None:
    web.set_route("/broken", "oops", status=500)
    assert await fetch_article(web.url("/broken")) == LoadProblem(
        web.url("/broken"), "HTTP 500 Internal Server Error"
    )
    assert await fetch_article(web.url("/missing")) == LoadProblem(web.url("/missing"), "HTTP 404 Not Found")


def test_sync_wrapper_for_the_cli(web: WebServer) -> None:
    web.set_route("/story", html_page("Harbour wall to be rebuilt", STORY))
    article = fetch_article_sync(web.url("/story"), FAST)
    assert isinstance(article, Article)
    assert article.title == "Harbour wall to be rebuilt"
    problem = fetch_article_sync(web.url("/nothing-here"), FAST)
    assert isinstance(problem, LoadProblem)


# ------------------------------------------------------------------------------------------------ GET


async def test_huge_streamed_page_is_cut_off_at_the_cap(web: WebServer) -> None:
    chunk = b"<p>" + b"word " * 13106 + b"</p>"  # 64 KiB; 100 of them is 6.4 MB, never built at once
    web.set_stream("/huge", chunk, repeat=100)
    web.set_stream("/huge-declared", chunk, repeat=100, declare_length=True)
    async with Fetcher(FAST) as fetcher:
        streamed = await fetcher.get(web.url("/huge"))
        declared = await fetcher.get(web.url("/huge-declared"))
        article = await fetcher.fetch_article(web.url("/huge"))
    assert streamed.error == "too large (over 1 MB)"
    assert streamed.body is None and streamed.status == 200
    assert declared.error == "too large (over 1 MB)"
    assert article == LoadProblem(web.url("/huge"), "too large (over 1 MB)")


async def test_default_cap_is_5_mb_in_the_message(web: WebServer) -> None:
    web.set_stream("/huge", b"x" * 65536, repeat=100)
    async with Fetcher(FetchOptions(timeout_s=5.0, trust_env=False, policy=LOCAL)) as fetcher:
        result = await fetcher.get(web.url("/huge"))
    assert result.error == "too large (over 5 MB)"


def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MB of zeros, gzipped to about a thousandth of that (built a megabyte at a time)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


async def test_gzip_bomb_is_capped_while_decoding_not_after(web: WebServer) -> None:
    bomb = gzip_bomb(200)  # ~200 KB on the wire, 200 MB decoded; each 64 KB read would be 64 MB
    assert len(bomb) < 256 * 1024
    web.set_route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    async with Fetcher(FAST) as fetcher:  # the cap: 1 MB
        tracemalloc.start()
        try:
            result = await fetcher.get(web.url("/bomb"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.error == "too large (over 1 MB)" and result.body is None
    assert peak < 8 * FAST.max_bytes, f"peak {peak / 1e6:.0f} MB while reading a 1 MB-capped body"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_pages_are_decoded(web: WebServer, encoding: str) -> None:
    page = html_page("Harbour wall to be rebuilt", STORY).encode()
    if encoding == "gzip":
        body = gzip.compress(page)
    elif encoding == "deflate":
        body = zlib.compress(page)
    else:  # what some servers send as "deflate": no zlib header
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = packer.compress(page) + packer.flush()
    web.set_route("/page", body, headers={"Content-Encoding": encoding.removeprefix("raw-")})
    async with Fetcher(FAST) as fetcher:
        result = await fetcher.get(web.url("/page"))
        article = await fetcher.fetch_article(web.url("/page"))
    assert result.body == page
    assert isinstance(article, Article) and "northern pier" in article.text
    assert web.requests_for("/page")[0].headers["accept-encoding"] == "gzip, deflate"


async def test_undecodable_or_unasked_for_encodings_are_one_line_errors(web: WebServer) -> None:
    web.set_route("/broken", b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    web.set_route("/brotli", b"\x1b\x03\x00", headers={"Content-Encoding": "br"})
    async with Fetcher(FAST) as fetcher:
        broken = await fetcher.get(web.url("/broken"))
        brotli = await fetcher.get(web.url("/brotli"))
    assert broken.error is not None and broken.error.startswith("bad gzip data from the server")
    assert brotli.error == "unsupported content encoding (br)"


async def test_redirect_loop_and_long_chain(web: WebServer) -> None:
    web.set_redirect("/loop-a", "/loop-b")
    web.set_redirect("/loop-b", "/loop-a")
    for i in range(6):
        web.set_redirect(f"/hop{i}", f"/hop{i + 1}")
    web.set_route("/hop6", "end")
    async with Fetcher(FAST) as fetcher:  # max_redirects=3
        loop = await fetcher.get(web.url("/loop-a"))
        chain = await fetcher.get(web.url("/hop0"))
        near = await fetcher.get(web.url("/hop3"))
    assert loop.error is not None and loop.error.startswith("too many redirects")
    assert web.hits["/loop-a"] == 1 and web.hits["/loop-b"] == 1  # the loop is noticed, not run to the cap
    assert chain.error == "too many redirects (more than 3)"
    assert near.ok and near.body == b"end" and near.final_url == web.url("/hop6")


async def test_hanging_server_times_out(web: WebServer) -> None:
    web.set_route("/slow", "late", delay_s=10)
    started = time.monotonic()
    async with Fetcher(FetchOptions(timeout_s=0.5, trust_env=False, policy=LOCAL)) as fetcher:
        result = await fetcher.get(web.url("/slow"))
    assert result.error == "timed out after 0.5 s"
    assert result.status == 0 and result.body is None
    assert time.monotonic() - started < 3


async def test_trickling_server_hits_the_overall_deadline(web: WebServer) -> None:
    web.set_stream("/trickle", b"<p>more</p>", repeat=40, chunk_delay_s=0.1)  # each read in time, not all
    started = time.monotonic()
    async with Fetcher(FetchOptions(timeout_s=0.8, trust_env=False, policy=LOCAL)) as fetcher:
        result = await fetcher.get(web.url("/trickle"))
    assert result.error == "timed out after 0.8 s"
    assert time.monotonic() - started < 3


async def test_conditional_get_with_etag_and_last_modified(web: WebServer) -> None:
    stamp = http_date(1_714_557_600)
    web.set_route("/feed.xml", "<rss/>", content_type="application/rss+xml", etag='"v1"', last_modified=stamp)
    async with Fetcher(FAST) as fetcher:
        first = await fetcher.get(web.url("/feed.xml"))
        by_etag = await fetcher.get(web.url("/feed.xml"), etag=first.etag)
        by_date = await fetcher.get(web.url("/feed.xml"), last_modified=first.last_modified)
        web.set_route("/feed.xml", "<rss>new</rss>", content_type="application/rss+xml", etag='"v2"')
        changed = await fetcher.get(web.url("/feed.xml"), etag=first.etag)
    assert (first.etag, first.last_modified, first.not_modified, first.body) == (
        '"v1"',
        stamp,
        False,
        b"<rss/>",
    )
    assert by_etag.not_modified and by_etag.ok and by_etag.body is None and by_etag.status == 304
    assert by_date.not_modified
    assert web.requests_for("/feed.xml")[1].headers["if-none-match"] == '"v1"'
    assert web.requests_for("/feed.xml")[2].headers["if-modified-since"] == stamp
    assert not changed.not_modified and changed.body == b"<rss>new</rss>" and changed.etag == '"v2"'


async def test_user_agent_is_sent(web: WebServer) -> None:
    web.set_route("/ua", "ok")
    async with Fetcher(FAST) as fetcher:
        await fetcher.get(web.url("/ua"))
    assert web.requests_for("/ua")[0].headers["user-agent"] == FAST.user_agent


async def test_refused_connection_and_bad_addresses_are_errors_not_exceptions() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with Fetcher(FAST) as fetcher:
            refused = await fetcher.get(f"http://127.0.0.1:{port}/story")
            ftp = await fetcher.get("ftp://127.0.0.1/file")
            garbage = await fetcher.get("http://[not-an-address/")
            spaced = await fetcher.get("http://exa mple.com/")
            hostless = await fetcher.get("http:///path")
            bad_idna = await fetcher.get("http://xn--zz.invalid/")  # refused while building the request
            article = await fetcher.fetch_article(f"http://127.0.0.1:{port}/story")
    assert refused.error is not None and refused.error.startswith(f"could not connect to 127.0.0.1:{port}")
    assert ftp.error == "not a web address (only http and https are fetched)"
    assert garbage.error is not None and garbage.error.startswith("not a valid web address")
    assert spaced.error == "not a valid web address (bad host name 'exa mple.com')"
    assert hostless.error == "not a valid web address (bad host name '')"
    assert bad_idna.error is not None and bad_idna.error.startswith("not a valid web address")
    assert isinstance(article, LoadProblem) and article.reason.startswith("could not connect")
    for message in (refused.error, ftp.error, garbage.error):
        assert "\n" not in message


async def test_at_most_per_host_requests_to_one_host(web: WebServer) -> None:
    for i in range(6):
        web.set_route(f"/p{i}", "ok", delay_s=0.2)
    async with Fetcher(
        FetchOptions(timeout_s=3.0, concurrency=4, per_host=2, trust_env=False, policy=LOCAL)
    ) as fetcher:
        results = await asyncio.gather(*(fetcher.get(web.url(f"/p{i}")) for i in range(6)))
    assert all(r.ok for r in results)
    assert web.max_in_flight == 2


async def test_at_most_concurrency_requests_overall() -> None:
    flights = FlightCounter()
    with WebServer(flights) as one, WebServer(flights) as two:  # two hosts (host:port) sharing one counter
        for server in (one, two):
            for i in range(4):
                server.set_route(f"/p{i}", "ok", delay_s=0.2)
        urls = [server.url(f"/p{i}") for server in (one, two) for i in range(4)]
        async with Fetcher(
            FetchOptions(timeout_s=3.0, concurrency=3, per_host=2, trust_env=False, policy=LOCAL)
        ) as fetcher:
            results = await asyncio.gather(*(fetcher.get(u) for u in urls))
    assert all(r.ok for r in results)
    assert flights.max == 3


# ------------------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize(
    ("reason", "transient"),
    [
        ("timed out after 15 s", True),
        ("could not connect to x.org:443 (All connection attempts failed)", True),
        ("HTTP 503 Service Unavailable", True),
        ("HTTP 429 Too Many Requests", True),
        ("HTTP 404 Not Found", False),
        ("HTTP 5000 Odd", False),
        ("no article text found on the page", False),
        ("too large (over 5 MB)", False),
    ],
)
def test_is_transient(reason: str, transient: bool) -> None:
    assert is_transient(reason) is transient


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"),
        ("2024-05-01T08:00:00Z", "2024-05-01T08:00:00Z"),
        ("2024-05-01T08:00:00.123456+00:00", "2024-05-01T08:00:00Z"),
        ("Wed, 01 May 2024 10:00:00 +0200", "2024-05-01T08:00:00Z"),
        ("Wed, 01 May 2024 08:00:00 GMT", "2024-05-01T08:00:00Z"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:00"),  # no zone given: not guessed
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_published(value: str | None, expected: str | None) -> None:
    assert normalize_published(value) == expected


def test_decode_html_precedence() -> None:
    body = '<meta charset="windows-1252"><p>café</p>'.encode("cp1252")
    assert "café" in decode_html(body, "text/html")
    assert "café" in decode_html("<p>café</p>".encode(), "text/html; charset=utf-8")
    assert "café" in decode_html(
        b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "text/html; charset=windows-1252"
    )  # BOM wins
    assert "caf\ufffd" in decode_html(b"<p>caf\xe9</p>", None)  # undeclared, not UTF-8: replaced, not raised
    assert "café" in decode_html("<p>café</p>".encode(), "text/html; charset=no-such-codec")


@pytest.mark.parametrize(
    ("final", "canonical", "expected"),
    [
        ("https://x.org/a/story?amp=1", "https://x.org/a/story", "https://x.org/a/story"),
        ("https://x.org/a/story", "/a/story-canonical", "https://x.org/a/story-canonical"),
        (
            "https://x.org/a/story",
            "https://x.org/",
            "https://x.org/a/story",
        ),  # a home-page canonical: ignored
        ("https://x.org/a/story", "javascript:void(0)", "https://x.org/a/story"),
        ("https://x.org/a/story", None, "https://x.org/a/story"),
        ("https://x.org/a/story", "  ", "https://x.org/a/story"),
    ],
)
def test_choose_article_url(final: str, canonical: str | None, expected: str) -> None:
    assert choose_article_url(final, canonical) == expected


@pytest.mark.parametrize(
    ("text", "is_url"),
    [
        ("https://example.com/story", True),
        ("HTTP://example.com", True),
        ("file:///etc/passwd", True),  # refused with a reason when fetched, never read as a file
        ("file:/etc/passwd", True),
        ("ftp://example.com/a.html", True),
        ("gopher://127.0.0.1:70/", True),
        ("javascript:alert(1)", True),
        ("notes/story.md", False),
        ("Breaking: the harbour wall will be rebuilt", False),
        ("Headline\nhttps://example.com in the text", False),
    ],
)
def test_looks_like_url(text: str, is_url: bool) -> None:
    assert looks_like_url(text) is is_url
