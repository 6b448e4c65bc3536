"""A polite, bounded HTTP fetcher: pages and feeds from the open web, failures as one-line reasons.

The open web is slow, huge, looping and broken in every way; none of that may stall or crash ingest. So
every fetch has a deadline, a size cap read from the stream (never trusting Content-Length alone), a
redirect cap with loop detection, and limits on requests in flight overall and per host (one server is
never hammered). Only http(s) to public addresses is fetched (plus an operator's allow-list), checked at
every hop and pinned at connect time (`pinning.py`), and a compressed body is capped as it is decoded.
Ordinary failures come back as data (`FetchResult.error`, `LoadProblem`), never raised.
"""

from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ..ingest.html_extract import extract_html
from ..stories.dedupe import normalize_url
from ..text.article import Article, LoadProblem
from ..text.textclean import clean_text
from .inflate import ACCEPT_ENCODING, DecodeError, decoder_for
from .netguard import AddressPolicy, AllowList, ip_literal
from .pinning import (
    AddressRefused,
    Resolver,
    checked_addresses,
    pinned_transport,
    proxy_mounts,
    system_resolver,
)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """Limits for one Fetcher; the defaults suit a background poller on a small machine."""

    timeout_s: float = 15.0  # per request (each redirect hop), connect to last byte
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 4  # requests in flight overall
    per_host: int = 2  # requests in flight to one host (host:port)
    user_agent: str = "newsqa/0.1 (+news question answering)"
    trust_env: bool = True  # honour HTTP(S)_PROXY / NO_PROXY from the environment
    policy: AddressPolicy = field(default_factory=AddressPolicy)  # public addresses only, unless allow-listed

    @classmethod
    def allowing(cls, allow: AllowList) -> FetchOptions:
        """The defaults, fetching also from the operator's allow-list (`--allow-host`)."""
        return cls(policy=AddressPolicy(allow))


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one GET produced. `error` is None on success (including a 304, see `not_modified`)."""

    url: str
    final_url: str
    status: int  # 0 when no response arrived
    body: bytes | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    error: str | None  # one-line reason when it failed
    content_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str


def _failed(url: str, final_url: str, reason: str, status: int = 0) -> FetchResult:
    return FetchResult(url, final_url, status, None, None, None, False, reason)


def human_size(n: int) -> str:
    """5242880 -> '5 MB': limits in messages read the way they were configured."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, socket.gaierror):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


_BAD_HOST_CHARS = re.compile(r"[\s%\[\]<>\"{}|\\^`/?#@]")


def check_address(url: str) -> str:
    """The 'host:port' `url` is fetched from; ValueError (one-line reason) when it is no web address.

    Checked before any connection: httpx accepts garbage hosts ("exa mple.com") and hands them to the
    resolver, and a bad address should be a clear message, not a DNS query.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid web address ({_one_line(str(exc))})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("not a web address (only http and https are fetched)")
    host = (parts.hostname or "").rstrip(".")
    if not host or (_BAD_HOST_CHARS.search(host) and ":" not in host):
        raise ValueError(f"not a valid web address (bad host name {host!r})")
    default = 443 if parts.scheme.lower() == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port or default}"


_TRANSIENT = re.compile(r"^(timed out|could not connect|host not found|network error|HTTP (5\d\d|408|429)\b)")


_OTHER_SCHEMES = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|(?:file|data|javascript|vbscript|about|blob|mailto|jar|view-source):)\S*$",
    re.IGNORECASE,
)


def looks_like_url(text: str) -> bool:
    """Whether `text` is meant as an address ('https://…', 'file:///etc/passwd', 'ftp://…').

    Such text is fetched when it is http(s) and refused with a reason otherwise: never read as a file
    name or indexed as an article's text.
    """
    return bool(_OTHER_SCHEMES.match(text.strip()))


def is_transient(reason: str) -> bool:
    """Whether a failure reason from this module is worth retrying later (server or network trouble)."""
    return bool(_TRANSIENT.match(reason))


def mime_type(content_type: str | None) -> str | None:
    """'text/html; charset=UTF-8' -> 'text/html'."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


@dataclass
class Fetcher:
    """An async context manager owning one httpx.AsyncClient and the concurrency limits."""

    options: FetchOptions = field(default_factory=FetchOptions)
    resolver: Resolver = system_resolver  # tests resolve made-up names to 127.0.0.1
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _transport: httpx.AsyncBaseTransport | None = field(default=None, init=False, repr=False)
    _all: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _hosts: dict[str, asyncio.Semaphore] = field(default_factory=dict, init=False, repr=False)

    async def __aenter__(self) -> Fetcher:
        opts = self.options
        limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
        self._transport = pinned_transport(
            opts.policy, self.resolver, limits=limits, trust_env=opts.trust_env
        )
        self._client = httpx.AsyncClient(
            headers={"User-Agent": opts.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(opts.timeout_s),
            follow_redirects=False,  # followed by hand: per-hop host limits, loop detection, address checks
            transport=self._transport,
            mounts=proxy_mounts(limits=limits, trust_env=opts.trust_env),
            trust_env=opts.trust_env,
        )
        self._all = asyncio.Semaphore(opts.concurrency)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ GET

    async def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str = "*/*"
    ) -> FetchResult:
        """GET `url`, following redirects; conditional when given the validators of an earlier fetch."""
        return await self._get(url, etag=etag, last_modified=last_modified, accept=accept, html_only=False)

    async def _get(
        self, url: str, *, etag: str | None, last_modified: str | None, accept: str, html_only: bool
    ) -> FetchResult:
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        visited = {url}
        for hop in range(self.options.max_redirects + 1):
            try:
                host = check_address(current)
                await self._precheck(current)
            except (ValueError, AddressRefused) as exc:
                return _failed(url, current, str(exc))
            async with self._slot(host):
                outcome = await self._hop(url, current, host, headers, html_only)
            if isinstance(outcome, FetchResult):
                return outcome
            nxt = urljoin(current, outcome.location)
            if nxt in visited:
                return _failed(url, current, f"too many redirects (a loop back to {nxt})")
            if hop == self.options.max_redirects:
                break
            visited.add(nxt)
            current = nxt
        return _failed(url, current, f"too many redirects (more than {self.options.max_redirects})")

    async def _precheck(self, url: str) -> None:
        """Refuse a numeric host at once; behind a proxy (which connects for us), check the name here.

        Direct connections are checked (again) and pinned by the transport's network backend; through a
        proxy only our own lookup can be checked, and a name we cannot look up is not sent to it.
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        literal = ip_literal(host)
        policy = self.options.policy
        if literal is not None:
            reason = policy.refusal(host, literal)
            if reason is not None:
                raise AddressRefused(reason)
        elif self._proxied(url):
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
            try:
                await checked_addresses(host, port, policy, self.resolver)
            except httpcore.ConnectError:
                raise AddressRefused(f"host not found: {host}") from None

    def _proxied(self, url: str) -> bool:
        """Whether httpx sends `url` through an environment proxy (HTTP_PROXY & co.), not our transport."""
        assert self._client is not None
        for_url = getattr(self._client, "_transport_for_url", None)
        try:
            return for_url is None or for_url(httpx.URL(url)) is not self._transport
        except httpx.InvalidURL:
            return False  # the request itself fails with the reason, before any connection

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        # Host first, then the global slot: requests queued behind a busy host never hold a global slot.
        assert self._all is not None
        sem = self._hosts.setdefault(host, asyncio.Semaphore(self.options.per_host))
        async with sem, self._all:
            yield

    async def _hop(
        self, url: str, current: str, host: str, headers: dict[str, str], html_only: bool
    ) -> FetchResult | _Redirect:
        assert self._client is not None
        opts = self.options
        try:
            async with asyncio.timeout(opts.timeout_s):
                async with self._client.stream("GET", current, headers=headers) as resp:
                    return await self._read(url, current, resp, html_only)
        except AddressRefused as exc:
            return _failed(url, current, str(exc))
        except (TimeoutError, httpx.TimeoutException):
            return _failed(url, current, f"timed out after {opts.timeout_s:g} s")
        except httpx.ConnectError as exc:
            if _is_dns_failure(exc):
                return _failed(url, current, f"host not found: {host.rsplit(':', 1)[0]}")
            return _failed(url, current, f"could not connect to {host} ({_one_line(str(exc))})")
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. a bad IDNA host name (idna raises ValueError)
            return _failed(url, current, f"not a valid web address ({_one_line(str(exc))})")
        except httpx.HTTPError as exc:
            return _failed(url, current, f"network error: {type(exc).__name__}: {_one_line(str(exc))}")

    async def _read(
        self, url: str, current: str, resp: httpx.Response, html_only: bool
    ) -> FetchResult | _Redirect:
        opts = self.options
        status = resp.status_code
        location = resp.headers.get("location")
        if resp.is_redirect and location:
            return _Redirect(location)
        etag = resp.headers.get("etag")
        last_modified = resp.headers.get("last-modified")
        ctype = resp.headers.get("content-type")
        if status == 304:
            return FetchResult(url, current, status, None, etag, last_modified, True, None, ctype)
        if not 200 <= status < 300:
            reason = f"HTTP {status} {resp.reason_phrase}".strip()
            return _failed(url, current, reason, status)
        too_large = f"too large (over {human_size(opts.max_bytes)})"
        if html_only and mime_type(ctype) not in HTML_TYPES and ctype is not None:
            return _failed(url, current, f"not an HTML page ({mime_type(ctype) or ctype})", status)
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > opts.max_bytes:
            return _failed(url, current, too_large, status)
        body = bytearray()
        try:
            decoder = decoder_for(resp.headers.get("content-encoding"))
            async for chunk in resp.aiter_raw():  # decoded here, within the cap (see inflate.py)
                body += decoder.feed(chunk, opts.max_bytes - len(body))
                if len(body) > opts.max_bytes:
                    return _failed(url, current, too_large, status)
        except DecodeError as exc:
            return _failed(url, current, str(exc), status)
        return FetchResult(url, current, status, bytes(body), etag, last_modified, False, None, ctype)

    # ------------------------------------------------------------------ articles

    async def fetch_article(self, url: str) -> Article | LoadProblem:
        """Fetch a news page and extract its article: the Article, or a LoadProblem saying why not."""
        result = await self._get(url, etag=None, last_modified=None, accept=ACCEPT_HTML, html_only=True)
        if result.error is not None:
            return LoadProblem(url, result.error)
        if not result.body:
            return LoadProblem(url, "empty page")
        html = decode_html(result.body, result.content_type)
        # Extraction is CPU work (lxml); off the event loop so other downloads keep moving meanwhile.
        page = await asyncio.to_thread(extract_html, html, result.final_url)
        if page is None or not page.text.strip():
            return LoadProblem(url, "no article text found on the page")
        article_url = normalize_url(choose_article_url(result.final_url, page.url))
        return Article(  # cleaned as the file loaders clean text (textclean)
            id=article_url,
            title=clean_text(page.title).strip() or article_url,
            text=clean_text(page.text),
            url=article_url,
            published=normalize_published(page.published),
            source=clean_text(page.source or "").strip() or site_from_url(article_url),
            origin=url,
        )


def fetch_article_sync(url: str, options: FetchOptions | None = None) -> Article | LoadProblem:
    """One article, for the CLI: its own event loop and client, closed before returning."""

    async def run() -> Article | LoadProblem:
        async with Fetcher(options or FetchOptions()) as fetcher:
            return await fetcher.fetch_article(url)

    return asyncio.run(run())


# ---------------------------------------------------------------------------------------- pure helpers

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    # As browsers do (WHATWG Encoding): latin-1 and ascii labels mean windows-1252, whose extra
    # characters (curly quotes, dashes) pages labelled that way really contain.
    if name in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    if name.startswith("utf-16"):  # a page cannot truthfully declare UTF-16 in ASCII-compatible bytes
        return "utf-8"
    return name


def decode_html(body: bytes, content_type: str | None) -> str:
    """Bytes to text: BOM, else the Content-Type charset, else a <meta> charset, else UTF-8 (lenient)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:4096])
    codec = (
        _codec(header.group(1) if header else None)
        or _codec(meta.group(1).decode("ascii", "replace") if meta else None)
        or "utf-8"
    )
    return body.decode(codec, errors="replace")


def choose_article_url(final_url: str, canonical: str | None) -> str:
    """The page's canonical URL when it is a plausible one, else the URL we ended up at.

    Some sites declare their home page as every article's canonical URL: that would merge all their
    stories into one id, so a canonical root for a non-root page is ignored.
    """
    if not canonical or not canonical.strip():
        return final_url
    absolute = urljoin(final_url, canonical.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return final_url
    if parts.path in ("", "/") and urlsplit(final_url).path not in ("", "/"):
        return final_url
    return absolute


def site_from_url(url: str) -> str | None:
    """'https://www.example.com/a' -> 'example.com': the outlet when the page does not name itself."""
    host = urlsplit(url).hostname
    if not host:
        return None
    return host.removeprefix("www.")


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_published(value: str | None) -> str | None:
    """ISO 8601: aware times in UTC ('2024-05-01T08:00:00Z'), bare dates as dates; None if unreadable.

    Accepts ISO 8601 (pages) and RFC 822 (RSS). A time without a zone is kept as given: guessing UTC
    would move it by hours for most outlets.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    parsed: dt.datetime | None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(microsecond=0).isoformat()
    return parsed.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
