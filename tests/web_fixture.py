"""A scriptable local web server for tests: feeds, article pages and every way a fetch can go wrong.

Runs the stdlib ThreadingHTTPServer on 127.0.0.1 with an ephemeral port in a background thread. Tests set
routes at any time, also while the code under test is polling (`set_route` replaces atomically), and read
back what was requested (`hits`, `requests`, `max_in_flight`).

    with WebServer() as web:
        web.set_route("/feed.xml", rss_xml, content_type="application/rss+xml", etag='"v1"')
        web.set_route("/slow", "late", delay_s=5)
        web.set_redirect("/loop", "/loop")
        web.set_stream("/huge", b"x" * 65536, repeat=100)   # 6.5 MB, never built in memory
        fetch(web.url("/feed.xml"))   # with FetchOptions(policy=AddressPolicy(ALLOW_LOCAL)): see below
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import repeat as _repeat
from types import TracebackType
from urllib.parse import urlsplit

import pytest

from newsqa.index.web.netguard import AllowList, parse_allow_hosts

# Fetches refuse loopback addresses by default; tests that fetch from this server allow it explicitly.
ALLOW_LOCAL: AllowList = parse_allow_hosts(["127.0.0.1"])


@dataclass(frozen=True)
class Route:
    """What one path answers. `body` is bytes, or a factory of chunks streamed one by one."""

    body: bytes | Callable[[], Iterable[bytes]] = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0  # sleep before answering (a hanging server); cut short when the server stops
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    chunk_delay_s: float = 0.0  # pause before each streamed chunk (a server that trickles)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    at: float


def http_date(epoch: float) -> str:
    """An RFC 7231 date, as Last-Modified carries it."""
    return formatdate(epoch, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: a streamed body simply ends at close

    def do_GET(self) -> None:
        web = self.server.web
        web._record(self)
        with web.flights:
            route = web._route_for(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            if route.delay_s and web._stopping.wait(route.delay_s):
                return
            if self._fresh(route):
                self.send_response(304)
                self._validators(route)
                self.end_headers()
                return
            self._answer(route)

    def _fresh(self, route: Route) -> bool:
        if route.status != 200:
            return False
        inm = self.headers.get("If-None-Match")
        if route.etag is not None and inm is not None:
            return route.etag in [tag.strip() for tag in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        return route.last_modified is not None and ims == route.last_modified

    def _validators(self, route: Route) -> None:
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        if route.last_modified is not None:
            self.send_header("Last-Modified", route.last_modified)

    def _answer(self, route: Route) -> None:
        self.send_response(route.status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        self._validators(route)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if isinstance(route.body, bytes):
            if route.content_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            return
        self.end_headers()
        stopping = self.server.web._stopping
        for chunk in route.body():
            if stopping.wait(route.chunk_delay_s) or stopping.is_set():
                return
            self.wfile.write(chunk)
            self.wfile.flush()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: test output is for failures."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping must not keep the test process alive

    def __init__(self, web: WebServer) -> None:
        self.web = web
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up mid-body on purpose (size caps, timeouts): not an error worth printing."""


class FlightCounter:
    """Requests being answered right now, and the most at once; share one between servers to count both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.max = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class WebServer:
    """The local server. Use as a context manager (or the `web` pytest fixture); routes are thread-safe."""

    def __init__(self, flights: FlightCounter | None = None) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self.flights = flights or FlightCounter()
        self._stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="web-fixture", daemon=True
        )
        self.hits: Counter[str] = Counter()  # path without query -> requests seen
        self.requests: list[Request] = []

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + path

    # ------------------------------------------------------------------ routes

    def set_route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay_s: float = 0.0,
        content_length: bool = True,
    ) -> None:
        """Answer GET `path` (matched without its query string unless a route includes one) with `body`."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._put(
            path,
            Route(
                data, status, content_type, dict(headers or {}), etag, last_modified, delay_s, content_length
            ),
        )

    def set_stream(
        self,
        path: str,
        chunk: bytes,
        repeat: int,
        *,
        content_type: str = "text/html",
        declare_length: bool = False,
        chunk_delay_s: float = 0.0,
    ) -> None:
        """Stream `chunk` `repeat` times: a huge body without building it, or a slow one (`chunk_delay_s`).

        With `declare_length` the Content-Length header announces the full size up front.
        """
        headers = {"Content-Length": str(len(chunk) * repeat)} if declare_length else {}
        route = Route(
            lambda: _repeat(chunk, repeat),
            200,
            content_type,
            headers,
            content_length=False,
            chunk_delay_s=chunk_delay_s,
        )
        self._put(path, route)

    def set_redirect(self, path: str, location: str, status: int = 302) -> None:
        """Redirect `path` to `location` (absolute, or a path on this server)."""
        self._put(path, Route(b"", status, None, {"Location": location}))

    def remove_route(self, path: str) -> None:
        """Forget `path`: it answers 404 from now on."""
        with self._lock:
            self._routes.pop(path, None)

    def _put(self, path: str, route: Route) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route paths start with '/': {path!r}")
        with self._lock:
            self._routes[path] = route

    def _route_for(self, raw_path: str) -> Route | None:
        with self._lock:
            return self._routes.get(raw_path) or self._routes.get(urlsplit(raw_path).path)

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.hits[urlsplit(handler.path).path] += 1
            self.requests.append(Request(handler.path, headers, time.monotonic()))

    @property
    def max_in_flight(self) -> int:
        """The most requests this server (and any sharing its FlightCounter) answered at once."""
        return self.flights.max

    def requests_for(self, path: str) -> list[Request]:
        """The requests whose path (without query) is `path`, oldest first."""
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture
def web() -> Iterator[WebServer]:
    """A running local server, stopped after the test."""
    with WebServer() as server:
        yield server


# ---------------------------------------------------------------------------------- content builders


def html_page(
    title: str,
    paragraphs: list[str],
    *,
    canonical: str | None = None,
    site: str | None = None,
    published: str | None = None,
    charset_meta: str | None = None,
) -> str:
    """A plausible news article page, with the metadata an extractor looks for."""
    meta = []
    if charset_meta:
        meta.append(f'<meta charset="{charset_meta}">')
    meta.append(f"<title>{title}</title>")
    if canonical:
        meta.append(f'<link rel="canonical" href="{canonical}">')
    if site:
        meta.append(f'<meta property="og:site_name" content="{site}">')
    if published:
        meta.append(f'<meta property="article:published_time" content="{published}">')
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head>" + "".join(meta) + "</head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        "<footer>Copyright 2024 Example News</footer></body></html>"
    )


def rss_feed(title: str, items: list[dict[str, str]]) -> str:
    """RSS 2.0 with `items` of keys title, link, guid, description, pubDate (each optional)."""
    parts = []
    for item in items:
        fields = "".join(f"<{k}>{_xml_escape(v)}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{_xml_escape(title)}</title><link>http://127.0.0.1/</link><description>test</description>"
        + "".join(parts)
        + "</channel></rss>"
    )


def atom_feed(title: str, entries: list[dict[str, str]]) -> str:
    """Atom 1.0 with `entries` of keys title, link, id, summary, updated (each optional)."""
    parts = []
    for entry in entries:
        fields = []
        for k, v in entry.items():
            if k == "link":
                fields.append(f'<link rel="alternate" href="{_xml_escape(v)}"/>')
            else:
                fields.append(f"<{k}>{_xml_escape(v)}</{k}>")
        parts.append("<entry>" + "".join(fields) + "</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{_xml_escape(title)}</title><id>urn:test:feed</id><updated>2024-05-01T00:00:00Z</updated>"
        + "".join(parts)
        + "</feed>"
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
