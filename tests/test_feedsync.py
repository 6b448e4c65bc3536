"""Feeds and URLs into the index through the CLI: `index watch --feed`, `index add https://...`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder
from stories import BRIDGE, ZOO
from web_fixture import WebServer, html_page, rss_feed

from newsqa.cli import main


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedder = HashingEmbedder()

    def invoke(*args: str, env: dict[str, str | None] | None = None, code: int = 0) -> str:
        result = CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path / "data"), *args],
            obj={"embedder_factory": lambda: embedder},
            env={"NEWSQA_ALLOW_HOSTS": None, **(env or {})},
        )
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_feed_items_become_answerable_once_and_copies_are_remembered(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/bridge", html_page("Bridge approved", BRIDGE, site="City Paper", published="2024-03-05"))
    items = [{"title": "Bridge approved", "link": web.url("/bridge"), "guid": "b1"}]
    web.set_route("/feed.xml", rss_feed("City Paper", items), content_type="application/rss+xml")

    out = run("index", "watch", "--feed", web.url("/feed.xml"), "--once", "--allow-host", "127.0.0.1")
    assert "1 added" in out
    answer = json.loads(run("ask", "When will bridge construction begin?", "--json"))
    cite = answer["passages"][0]["article"]
    assert cite["title"] == "Bridge approved" and cite["source"] == "City Paper"
    assert cite["url"].endswith("/bridge") and cite["published"].startswith("2024-03-05")

    # a new item appears: a syndicated copy of the bridge story under another URL, and a new story
    web.set_route("/wire/bridge", html_page("Bridge gets go-ahead", BRIDGE[1:], site="Wire Service"))
    web.set_route("/zoo", html_page("Zebras escape", ZOO, site="City Paper"))
    items += [
        {"title": "Bridge gets go-ahead", "link": web.url("/wire/bridge"), "guid": "w1"},
        {"title": "Zebras escape", "link": web.url("/zoo"), "guid": "z1"},
    ]
    web.set_route("/feed.xml", rss_feed("City Paper", items), content_type="application/rss+xml")
    out = run("index", "watch", "--feed", web.url("/feed.xml"), "--once", "--allow-host", "127.0.0.1")
    assert "1 added" in out and "1 copies of stories already indexed" in out
    assert len(web.requests_for("/bridge")) == 1  # seen items are not fetched again

    answer = json.loads(run("ask", "When will bridge construction begin?", "--json"))
    assert [o["source"] for o in answer["passages"][0]["article"]["also_reported_by"]] == ["Wire Service"]
    assert (
        "zebras" in json.loads(run("ask", "zebras escaped zoo", "--json"))["passages"][0]["sentence"].lower()
    )


def test_broken_feed_is_reported_and_others_go_on(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/zoo", html_page("Zebras escape", ZOO))
    web.set_route("/good.xml", rss_feed("Good", [{"title": "Z", "link": web.url("/zoo"), "guid": "z"}]))
    web.set_route("/bad.xml", "<rss><channel><title>cut off", content_type="application/rss+xml")
    out = run(
        "index",
        "watch",
        "--feed",
        web.url("/bad.xml"),
        "--feed",
        web.url("/good.xml"),
        "--once",
        env={"NEWSQA_ALLOW_HOSTS": "10.0.0.0/8, 127.0.0.1"},
    )
    assert "1 ok, 1 failed" in out and "1 added" in out


def test_index_add_url(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/zoo", html_page("Zebras escape", ZOO, site="City Paper"))
    assert "1 added" in run("index", "add", "--allow-host", "127.0.0.1", web.url("/zoo"))
    out = run("index", "add", "--allow-host", "127.0.0.1", web.url("/missing"), code=3)
    assert "1 skipped" in out
    assert "1 skipped" in run("index", "add", "--skip-bad", "--allow-host", "127.0.0.1", web.url("/missing"))


def test_internal_addresses_are_refused_unless_allowed(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/zoo", html_page("Zebras escape", ZOO, site="City Paper"))
    web.set_route("/feed.xml", rss_feed("City Paper", [{"title": "Z", "link": web.url("/zoo"), "guid": "z"}]))
    out = run("index", "add", web.url("/zoo"), code=3)
    refusal = (
        "refused: 127.0.0.1 is a loopback address "
        "(only public addresses are fetched, others with --allow-host)"
    )
    assert f"skipped {web.url('/zoo')}: {refusal}" in out and "1 skipped" in out
    out = run("index", "watch", "--feed", web.url("/feed.xml"), "--once")
    assert "0 ok, 1 failed" in out and f"{web.url('/feed.xml')}: {refusal}" in out
    assert web.hits == {}  # nothing was fetched
    allowed = web.url("/feed.xml?again")  # another feed URL: the refused one is backing off
    out = run("index", "watch", "--feed", allowed, "--once", env={"NEWSQA_ALLOW_HOSTS": "127.0.0.0/8"})
    assert "1 ok" in out and "1 added" in out


@pytest.mark.parametrize("address", ["file:///etc/passwd", "file:/etc/passwd", "ftp://127.0.0.1/story.html"])
def test_only_http_and_https_addresses_are_read(run, address: str) -> None:  # type: ignore[no-untyped-def]
    out = run("index", "add", address, code=3)
    assert f"skipped {address}: not a web address (only http and https are fetched)" in out
    assert "1 skipped" in out and "added" not in out.replace("0 added", "")


def test_a_bad_allow_host_entry_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path), "index", "add", "--allow-host", "a b/c", "x"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--allow-host': not a host name, IP address or network: 'b/c'" in result.output
