"""The address policy as pure functions: what is public, what an allow-list admits, how hosts are read."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsqa.index.web.netguard import AddressPolicy, address_kind, ip_literal, parse_allow_hosts

POLICY = AddressPolicy()


@pytest.mark.parametrize(
    ("host", "address", "kind"),
    [
        ("127.0.0.1", "127.0.0.1", "loopback"),
        ("127.9.9.9", "127.9.9.9", "loopback"),
        ("0", "0.0.0.0", "unspecified"),
        ("0.0.0.0", "0.0.0.0", "unspecified"),
        ("2130706433", "127.0.0.1", "loopback"),  # decimal
        ("0x7f000001", "127.0.0.1", "loopback"),  # hex
        ("0177.0.0.1", "127.0.0.1", "loopback"),  # octal
        ("0x7f.1", "127.0.0.1", "loopback"),  # inet_aton's short forms
        ("127.1", "127.0.0.1", "loopback"),
        ("10.1.2.3", "10.1.2.3", "private"),
        ("172.16.0.1", "172.16.0.1", "private"),
        ("192.168.1.1", "192.168.1.1", "private"),
        ("169.254.169.254", "169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "224.0.0.1", "multicast"),
        ("::1", "::1", "loopback"),
        ("[::1]", "::1", "loopback"),
        ("::", "::", "unspecified"),
        ("fd12:3456::1", "fd12:3456::1", "private"),  # unique local
        ("fe80::1", "fe80::1", "link-local"),
        ("fec0::1", "fec0::1", "site-local"),
        ("[feff:ffff::1]", "feff:ffff::1", "site-local"),  # the top of fec0::/10
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", "loopback"),  # v4-mapped
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_forms_are_read_and_refused(host: str, address: str, kind: str) -> None:
    ip = ip_literal(host)
    assert ip == ip_address(address)
    assert address_kind(ip) == kind
    reason = POLICY.refusal(host, ip)
    assert reason is not None and reason.startswith("refused: ") and f"{kind} address" in reason
    assert "--allow-host" in reason and "\n" not in reason


@pytest.mark.parametrize("host", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(host: str) -> None:
    ip = ip_literal(host)
    assert ip is not None and address_kind(ip) is None and POLICY.refusal(host, ip) is None


@pytest.mark.parametrize(
    "host", ["example.com", "news.example.co.uk", "1.2.3.4.5", "256.0.0.1", "08.0.0.1", ""]
)
def test_names_and_malformed_numbers_are_not_literals(host: str) -> None:
    assert ip_literal(host) is None  # a name: resolved (and its every address checked) when connecting


def test_message_names_the_address_a_numeric_form_stands_for() -> None:
    assert POLICY.refusal("2130706433", IPv4Address("127.0.0.1")) == (
        "refused: 2130706433 is 127.0.0.1, a loopback address "
        "(only public addresses are fetched, others with --allow-host)"
    )
    assert POLICY.refusal("localhost", IPv6Address("::1")) is not None


def test_every_resolved_address_must_pass() -> None:
    public, private = IPv4Address("93.184.216.34"), IPv4Address("10.0.0.7")
    assert POLICY.first_refusal("mixed.example", [public]) is None
    reason = POLICY.first_refusal("mixed.example", [public, private])
    assert reason is not None and "mixed.example is 10.0.0.7, a private address" in reason


def test_allow_list_by_address_network_and_name() -> None:
    allow = parse_allow_hosts(["127.0.0.1, 10.0.0.0/8", "feeds.intranet *.corp.example", "[fd00::1]"])
    policy = AddressPolicy(allow)
    loopback, ten, other = IPv4Address("127.0.0.1"), IPv4Address("10.20.30.40"), IPv4Address("192.168.0.9")
    assert policy.refusal("127.0.0.1", loopback) is None
    assert policy.refusal("::ffff:127.0.0.1", IPv6Address("::ffff:127.0.0.1")) is None  # the same address
    assert policy.refusal("127.0.0.2", IPv4Address("127.0.0.2")) is not None  # only what was allowed
    assert policy.refusal("wiki.internal", ten) is None  # an allowed network, under any name
    assert policy.refusal("FEEDS.intranet.", other) is None  # an allowed name, at any address
    assert policy.refusal("news.corp.example", other) is None
    assert policy.refusal("corp.example", other) is not None  # *. means subdomains
    assert policy.refusal("fd00::1", IPv6Address("fd00::1")) is None
    assert policy.refusal("printer.local", other) is not None
    assert str(allow) == "*.corp.example, feeds.intranet, 127.0.0.1/32, 10.0.0.0/8, fd00::1/128"


def test_bad_allow_entry_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"^not a host name, IP address or network: 'http://x/'$"):
        parse_allow_hosts(["http://x/"])
    assert not parse_allow_hosts([]) and not parse_allow_hosts([" , "])


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_inet_aton_forms_agree(value: int) -> None:
    ip = IPv4Address(value)
    a, b, c, d = ip.packed
    for form in (
        str(value),
        hex(value),
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"0{a:o}.{b}.{c}.{d}",
    ):
        assert ip_literal(form) == ip, form
