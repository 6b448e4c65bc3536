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

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(
            main, ["--data-dir", str(tmp_path / "data"), *args], obj={"embedder_factory": lambda: embedder}
        )
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_feed_items_become_answerable_once_and_copies_are_remembered(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/bridge", html_page("Bridge approved", BRIDGE, site="City Paper", published="2024-03-05"))
    items = [{"title": "Bridge approved", "link": web.url("/bridge"), "guid": "b1"}]
    web.set_route("/feed.xml", rss_feed("City Paper", items), content_type="application/rss+xml")

    out = run("index", "watch", "--feed", web.url("/feed.xml"), "--once")
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
    out = run("index", "watch", "--feed", web.url("/feed.xml"), "--once")
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
    out = run("index", "watch", "--feed", web.url("/bad.xml"), "--feed", web.url("/good.xml"), "--once")
    assert "1 ok, 1 failed" in out and "1 added" in out


def test_index_add_url(web: WebServer, run) -> None:  # type: ignore[no-untyped-def]
    web.set_route("/zoo", html_page("Zebras escape", ZOO, site="City Paper"))
    assert "1 added" in run("index", "add", web.url("/zoo"))
    out = run("index", "add", web.url("/missing"))
    assert "1 skipped" in out
