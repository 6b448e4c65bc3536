"""`--allow-host`, shared by `newsqa index add`, `newsqa index watch` and `newsqa serve`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from newsqa.index.web.netguard import AllowList, parse_allow_hosts

F = TypeVar("F", bound=Callable[..., Any])


def _parse(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> AllowList:
    try:
        return parse_allow_hosts(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def allow_host_option(command: F) -> F:
    """The option as a decorator; its value arrives as an AllowList (empty: public addresses only)."""
    return click.option(
        "--allow-host",
        "allow_hosts",
        multiple=True,
        envvar="NEWSQA_ALLOW_HOSTS",
        callback=_parse,
        metavar="HOST",
        help="Also fetch pages and feeds from this host name (*.corp.example for its subdomains), IP "
        "address or network (10.0.0.0/8), e.g. an intranet feed; repeatable. By default only public "
        "addresses are fetched [env NEWSQA_ALLOW_HOSTS, comma- or space-separated].",
    )(command)
