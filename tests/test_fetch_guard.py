"""Fetches reach public addresses only (plus an allow-list), at every redirect hop, pinned to the address
that was checked. Real connections go to the fixture server on 127.0.0.1 only: loopback is refused by
default, so "public" is played by made-up names that an injected resolver maps to 127.0.0.1 and an
injected classifier calls public. Everything else is refused before any connection is attempted."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

import httpcore
import pytest
from web_fixture import ALLOW_LOCAL, WebServer, html_page

from newsqa.index.article import Article, LoadProblem
from newsqa.index.fetch import Fetcher, FetchOptions
from newsqa.index.netguard import AddressPolicy, IPAddress, address_kind, parse_allow_hosts
from newsqa.index.pinning import AddressRefused, PinnedBackend

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
