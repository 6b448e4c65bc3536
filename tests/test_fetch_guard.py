"""Fetches reach public addresses only (plus an allow-list), at every redirect hop, pinned to the address
that was checked. Real connections go to the fixture server on 127.0.0.1 only: loopback is refused by
default, so "public" is played by made-up names that an injected resolver maps to 127.0.0.1 and an
injected classifier calls public. Everything else is refused before any connection is attempted."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path

import httpcore
import pytest
from web_fixture import ALLOW_LOCAL, WebServer, html_page

from newsqa.index.text.article import Article, LoadProblem
from newsqa.index.web.fetch import Fetcher, FetchOptions
from newsqa.index.web.netguard import AddressPolicy, IPAddress, address_kind, parse_allow_hosts
from newsqa.index.web.pinning import AddressRefused, PinnedBackend

STORY = [
    "The city council approved a plan on Tuesday to rebuild the old harbour wall at a cost of 48 million.",
    "Work is due to start in March and should take about two years, the council's engineers said.",
]
DEFAULT = FetchOptions(timeout_s=2.0, trust_env=False)  # the policy every command starts from
PUBLIC_LOOPBACK = IPv4Address("127.0.0.1")  # the one address tests pretend is public


def pretend_public(ip: IPAddress) -> str | None:
    """The real classification, except that 127.0.0.1 counts as public (127.0.0.2 stays loopback)."""
    return None if ip == PUBLIC_LOOPBACK else address_kind(ip)


class FakeDNS:
    """A resolver that answers from a table and counts its lookups (the system resolver is never used)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"no such test host: {host}")
        return self.table[host]


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        server.set_route("/secret", "internal admin page")
        server.set_route("/story", html_page("Harbour wall to be rebuilt", STORY))
        yield server


def refused(error: str | None) -> bool:
    return error is not None and error.startswith("refused: ") and "\n" not in error


# ----------------------------------------------------------------------------- the default refuses


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]"]
)
async def test_loopback_in_every_spelling_is_refused_by_default(web: WebServer, host: str) -> None:
    url = web.url("/secret").replace("127.0.0.1", host)
    async with Fetcher(DEFAULT) as fetcher:
        result = await fetcher.get(url)
        article = await fetcher.fetch_article(url)
    assert refused(result.error) and "loopback address" in (result.error or ""), result.error
    assert isinstance(article, LoadProblem) and article.reason == result.error
    assert result.body is None and web.hits == {}  # nothing reached the server


async def test_names_resolving_to_internal_addresses_are_refused_before_connecting(web: WebServer) -> None:
    dns = FakeDNS(
        {
            "localhost": ["127.0.0.1", "::1"],
            "metadata.test": ["169.254.169.254"],
            "intranet.test": ["10.0.0.5"],
            "router.test": ["192.168.0.1"],
            "ula.test": ["fd00::5"],
            "mapped.test": ["::ffff:10.0.0.5"],
            "nothing.test": ["0.0.0.0"],
        }
    )
    kinds = {
        "localhost": "loopback",
        "metadata.test": "link-local",
        "intranet.test": "private",
        "router.test": "private",
        "ula.test": "private",
        "mapped.test": "private",
        "nothing.test": "unspecified",
    }
    async with Fetcher(DEFAULT, resolver=dns) as fetcher:
        for name, kind in kinds.items():
            result = await fetcher.get(f"http://{name}/latest/meta-data/")
            assert refused(result.error) and f"{name} is " in (result.error or ""), result.error
            assert f", a {kind} address" in (result.error or "") or f", an {kind} address" in (
                result.error or ""
            )
    assert sorted(set(dns.lookups)) == sorted(kinds)


async def test_one_internal_answer_among_public_ones_refuses_the_name(web: WebServer) -> None:
    dns = FakeDNS({"mixed.test": ["127.0.0.1", "127.0.0.2"]})
    options = FetchOptions(timeout_s=2.0, trust_env=False, policy=AddressPolicy(kind=pretend_public))
    async with Fetcher(options, resolver=dns) as fetcher:
        result = await fetcher.get(f"http://mixed.test:{web.base_url.rsplit(':', 1)[1]}/secret")
    assert result.error is not None and result.error.startswith(
        "refused: mixed.test is 127.0.0.2, a loopback"
    )
    assert web.hits == {}


# ----------------------------------------------------------------------------------- redirects


async def test_redirect_from_a_public_host_to_an_internal_one_is_refused(web: WebServer) -> None:
    port = web.base_url.rsplit(":", 1)[1]
    web.set_redirect("/go", f"http://127.0.0.2:{port}/secret")
    web.set_redirect("/go-named", f"http://localhost:{port}/secret")
    dns = FakeDNS({"public.test": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"]})
    options = FetchOptions(timeout_s=2.0, trust_env=False, policy=AddressPolicy(kind=pretend_public))
    async with Fetcher(options, resolver=dns) as fetcher:
        to_ip = await fetcher.get(f"http://public.test:{port}/go")
        to_name = await fetcher.get(f"http://public.test:{port}/go-named")
    assert to_ip.error == (
        "refused: 127.0.0.2 is a loopback address "
        "(only public addresses are fetched, others with --allow-host)"
    )
    assert to_ip.final_url == f"http://127.0.0.2:{port}/secret"
    assert to_name.error is not None and to_name.error.startswith("refused: localhost is ::1, a loopback")
    assert web.hits == {"/go": 1, "/go-named": 1}  # the first hops only; /secret never
    assert web.requests_for("/go")[0].headers["host"] == f"public.test:{port}"  # pinned, Host kept


async def test_redirect_from_an_allowed_host_to_another_internal_one_is_refused(web: WebServer) -> None:
    port = web.base_url.rsplit(":", 1)[1]
    web.set_redirect("/go", f"http://127.0.0.2:{port}/secret")
    options = FetchOptions(timeout_s=2.0, trust_env=False, policy=AddressPolicy(ALLOW_LOCAL))
    async with Fetcher(options) as fetcher:
        result = await fetcher.get(web.url("/go"))
    assert refused(result.error) and "127.0.0.2 is a loopback address" in (result.error or "")
    assert web.hits == {"/go": 1}


async def test_behind_a_proxy_the_name_is_checked_before_asking_the_proxy(
    web: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment proxy connects for us, so the name is resolved and checked before it is asked."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", web.base_url)  # the fixture server answers proxy requests too
    monkeypatch.setenv("http_proxy", web.base_url)
    dns = FakeDNS({"public.test": ["127.0.0.1"], "intranet.test": ["10.0.0.5"]})
    options = FetchOptions(timeout_s=2.0, trust_env=True, policy=AddressPolicy(kind=pretend_public))
    async with Fetcher(options, resolver=dns) as fetcher:
        internal = await fetcher.get("http://intranet.test/secret")
        unknown = await fetcher.get("http://unknown.test/secret")
        public = await fetcher.get("http://public.test/secret")
    assert internal.error is not None and internal.error.startswith(
        "refused: intranet.test is 10.0.0.5, a private"
    )
    assert unknown.error == "host not found: unknown.test"
    assert public.ok and public.body == b"internal admin page"
    assert [r.path for r in web.requests] == [
        "http://public.test/secret"
    ]  # only the public one, via the proxy


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_https_to_a_pinned_address_keeps_sni_and_certificate_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the TCP target becomes the checked IP: SNI and the certificate check keep the host name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=public.test",
         "-addext", "subjectAltName=DNS:public.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(cert)
    )  # trust the test certificate (httpx reads it with trust_env)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    dns = FakeDNS({"public.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    options = FetchOptions(timeout_s=5.0, trust_env=True, policy=AddressPolicy(kind=pretend_public))
    try:
        async with Fetcher(options, resolver=dns) as fetcher:
            ok = await fetcher.get(f"https://public.test:{port}/")
            wrong_name = await fetcher.get(f"https://other.test:{port}/")  # same IP, certificate not for it
    finally:
        server.shutdown()
        server.server_close()
    assert ok.ok and ok.body == f"hello public.test:{port}".encode()
    assert names[0] == "public.test"  # SNI is the host name, not 127.0.0.1
    assert wrong_name.error is not None and "certificate" in wrong_name.error.lower()


# ---------------------------------------------------------------------------------- allow-list


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8", "intranet.test", "*.test"])
async def test_the_allow_list_admits_an_intranet_host(web: WebServer, entry: str) -> None:
    port = web.base_url.rsplit(":", 1)[1]
    dns = FakeDNS({"intranet.test": ["127.0.0.1"]})
    options = FetchOptions(timeout_s=2.0, trust_env=False, policy=AddressPolicy(parse_allow_hosts([entry])))
    async with Fetcher(options, resolver=dns) as fetcher:
        article = await fetcher.fetch_article(f"http://intranet.test:{port}/story")
    assert isinstance(article, Article) and article.title == "Harbour wall to be rebuilt"
    assert web.requests_for("/story")[0].headers["host"] == f"intranet.test:{port}"


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """The backend resolves once and hands the checked IP, not the name, to the real connect."""

    class Recorder(httpcore.AsyncNetworkBackend):
        def __init__(self) -> None:
            self.targets: list[tuple[str, int]] = []

        async def connect_tcp(
            self, host: str, port: int, *args: object, **kwargs: object
        ) -> httpcore.AsyncNetworkStream:
            self.targets.append((host, port))
            return httpcore.AsyncMockStream([])

    answers = iter([["127.0.0.1"], ["127.0.0.2"]])  # a rebinding DNS: public first, internal after

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    inner = Recorder()
    backend = PinnedBackend(AddressPolicy(kind=pretend_public), rebinding, inner)
    await backend.connect_tcp("rebind.test", 443)
    with pytest.raises(AddressRefused, match=r"rebind\.test is 127\.0\.0\.2, a loopback address"):
        await backend.connect_tcp("rebind.test", 443)
    assert inner.targets == [("127.0.0.1", 443)]
