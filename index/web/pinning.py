"""Connect only where the address policy allows, to the very address that was checked.

Checking a host name and then letting the HTTP library resolve it again leaves a window (DNS rebinding):
the second answer can be 127.0.0.1. So the check happens inside httpcore's network backend, at the moment
of connecting: `connect_tcp` resolves the name once, checks every address, and connects to a checked one.
httpcore still sends the original Host header and uses the host name for TLS SNI and certificate checks,
because only the TCP connect target changes. Every redirect hop is a new request, so it is checked too.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import ip_address
from typing import Any

import httpcore
import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading of HTTP(S)_PROXY / NO_PROXY

from .netguard import AddressPolicy, IPAddress, ip_literal

Resolver = Callable[[str, int], Awaitable[list[str]]]  # host, port -> addresses (tests inject their own)


class AddressRefused(Exception):
    """The policy refused every way to reach a host; the message is the one-line reason."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for `host`, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver
) -> list[IPAddress]:
    """The addresses to connect to for `host`: all of them pass the policy, or AddressRefused.

    A numeric host (in any form the resolver would accept) is read here, without a lookup.
    """
    literal = ip_literal(host)
    if literal is not None:
        ips = [literal]
    else:
        try:
            ips = [ip_address(a) for a in await resolver(host, port)]
        except OSError as exc:  # socket.gaierror: httpx reports it as a ConnectError, "host not found"
            raise httpcore.ConnectError(str(exc)) from exc
        if not ips:
            raise httpcore.ConnectError(f"no address for {host}")
    reason = policy.first_refusal(host, ips)
    if reason is not None:
        raise AddressRefused(reason)
    return ips


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy check between resolving and connecting."""

    def __init__(
        self, policy: AddressPolicy, resolver: Resolver, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        ips = await checked_addresses(host, port, self.policy, self.resolver)
        failure: Exception | None = None
        for ip in ips:
            try:
                return await self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("refused: Unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def pinned_transport(
    policy: AddressPolicy, resolver: Resolver, *, limits: httpx.Limits, trust_env: bool
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connection pool built on the PinnedBackend (httpx has no switch for it)."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=trust_env)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=trust_env),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PinnedBackend(policy, resolver),
    )
    return transport


def proxy_mounts(*, limits: httpx.Limits, trust_env: bool) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The environment's proxies as httpx mounts (None: no proxy, i.e. the pinned transport).

    httpx ignores the environment once it is given a transport of its own, so they are mounted here.
    A proxy connects for us: the fetcher checks the host by its own lookup before asking one.
    """
    if not trust_env:
        return {}
    return {
        pattern: None
        if url is None
        else httpx.AsyncHTTPTransport(proxy=url, limits=limits, trust_env=trust_env)
        for pattern, url in get_environment_proxies().items()
    }
