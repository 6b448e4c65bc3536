"""Which addresses a fetch may reach: public ones, plus what the operator allow-listed.

Feed links and `/add` URLs come from strangers. Without this a link to http://169.254.169.254/ (cloud
metadata) or http://127.0.0.1:8080/admin would be fetched and its text quoted to anyone who asks. Pure
functions only: resolving and connecting live in `pinning.py`, which connects to the address checked here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALLOW_FLAG = "--allow-host"
_SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT: not private in ipaddress, not public either
_NAT64 = IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?:\*\.)?{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$")


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` is, when it is a number a resolver would take as one, else None (a name).

    Besides dotted quads and IPv6 this reads the forms inet_aton accepts, so '2130706433', '0x7f000001',
    '0177.0.0.1' and '127.1' are all 127.0.0.1, exactly as the system resolver would connect to them.
    """
    text = host.strip().removeprefix("[").removesuffix("]")
    try:
        return ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.match(p) for p in parts):
        return None
    numbers = [
        int(p, 16) if p[:2].lower() == "0x" else int(p, 8) if p.startswith("0") else int(p) for p in parts
    ]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (8 * (3 - i))
    return IPv4Address(value)


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (v4-mapped, 6to4, NAT64, v4-compatible), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: IPAddress) -> str | None:
    """None for a public unicast address, else what it is ('loopback', 'private', ...) for the message."""
    if isinstance(ip, IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return address_kind(inner)
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, IPv6Address) and ip.is_site_local, "site-local"),  # fec0::/10, deprecated, not global
        (ip.is_multicast, "multicast"),
        (isinstance(ip, IPv4Address) and ip in _SHARED, "shared (carrier-grade NAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    )
    return next((kind for hit, kind in checks if hit), None)


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts the operator vouches for: names ('feeds.intranet', '*.corp.example'), IPs and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows(self, host: str, ip: IPAddress) -> bool:
        name = host.strip().strip("[]").rstrip(".").lower()
        if name in self.hosts or any(h.startswith("*.") and name.endswith(h[1:]) for h in self.hosts):
            return True
        inner = embedded_ipv4(ip) if isinstance(ip, IPv6Address) else None
        return any(
            a in net
            for net in self.networks
            for a in (ip, inner)
            if a is not None and a.version == net.version
        )

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)

    def __str__(self) -> str:
        return ", ".join([*sorted(self.hosts), *map(str, self.networks)]) or "none"


def parse_allow_hosts(values: Iterable[str]) -> AllowList:
    """'127.0.0.1, 10.0.0.0/8 feeds.intranet' (values split on commas and spaces) -> an AllowList.

    ValueError with a one-line reason for an entry that is no host name, address or network.
    """
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for value in values:
        for entry in value.replace(",", " ").split():
            bare = entry.strip("[]")
            literal = ip_literal(bare) if "/" not in bare else None
            if literal is not None:
                networks.append(ip_network(literal))
                continue
            try:
                networks.append(ip_network(bare, strict=False))
                continue
            except ValueError:
                pass
            name = bare.rstrip(".").lower()
            if not _HOST_NAME.match(name):
                raise ValueError(f"not a host name, IP address or network: {entry!r}")
            hosts.add(name)
    return AllowList(frozenset(hosts), tuple(dict.fromkeys(networks)))


def _is_standard_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Public addresses, plus the allow-list. `kind` classifies an address (tests swap it)."""

    allow: AllowList = AllowList()
    kind: Callable[[IPAddress], str | None] = address_kind

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        """None when `host` at `ip` may be fetched, else the one-line reason it may not."""
        if self.allow.allows(host, ip):
            return None
        kind = self.kind(ip)
        if kind is None:
            return None
        name = host.strip().strip("[]")
        what = f"{name} is {_a(kind)}" if _is_standard_ip(name) else f"{name} is {ip}, {_a(kind)}"
        return f"refused: {what} address (only public addresses are fetched, others with {ALLOW_FLAG})"

    def first_refusal(self, host: str, ips: Iterable[IPAddress]) -> str | None:
        """Every address a name resolves to must pass: one private answer is enough to refuse it."""
        return next((r for r in (self.refusal(host, ip) for ip in ips) if r is not None), None)
