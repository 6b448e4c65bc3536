"""`newsqa serve`: flags with environment fallbacks, refusals, and one real run against the stub."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botapi_stub import BotApiStub
from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.bot import command
from newsqa.bot.settings import BotSettings
from newsqa.cli import main

AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BotSettings]]:
    seen: list[BotSettings] = []
    monkeypatch.setattr(command, "_serve", lambda ctx, settings: seen.append(settings))
    yield seen


def invoke(args: list[str], env: dict[str, str] | None = None, data: Path | None = None) -> Any:
    return CliRunner().invoke(
        main,
        [*(["--data-dir", str(data)] if data else []), "serve", *args],
        env={
            "TELEGRAM_BOT_TOKEN": None,
            "NEWSQA_ADMINS": None,
            "NEWSQA_FOLDERS": None,
            "NEWSQA_FEEDS": None,
            "NEWSQA_FEED_EVERY": None,
            "NEWSQA_ALLOW_HOSTS": None,
            **(env or {}),
        },
        obj={"embedder_factory": lambda: HashingEmbedder()},
        catch_exceptions=False,
    )


def test_flags_fall_back_to_the_environment(captured: list[BotSettings], tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    env = {
        "TELEGRAM_BOT_TOKEN": "1:ENV",
        "NEWSQA_ADMINS": "11, 12",
        "NEWSQA_ALLOWED": "-100 13",
        "NEWSQA_FOLDERS": f"{a}{os.pathsep}{b}",
        "NEWSQA_TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
    }
    assert invoke([], env).exit_code == 0
    assert invoke(["--token", "2:FLAG", "--admins", "7", "--folder", str(a), "-k", "5"], env).exit_code == 0
    from_env, from_flags = captured
    assert (from_env.token, from_env.admins, from_env.allowed) == ("1:ENV", {11, 12}, {-100, 13})
    assert from_env.folders == (a, b) and from_env.mode == "polling"
    assert from_env.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert (from_flags.token, from_flags.admins, from_flags.folders, from_flags.k) == ("2:FLAG", {7}, (a,), 5)


def test_feeds_and_their_interval_from_flags_or_environment(captured: list[BotSettings]) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:X", "NEWSQA_FEEDS": "https://a.example/rss  https://b.example/atom"}
    assert invoke([], env).exit_code == 0
    assert invoke([], {**env, "NEWSQA_FEED_EVERY": "90s"}).exit_code == 0
    flags = ["--feed", "https://c.example/rss", "--feed", "https://c.example/rss", "--every", "1h"]
    assert invoke(flags, env).exit_code == 0
    from_env, every_from_env, from_flags = captured
    assert from_env.feeds == ("https://a.example/rss", "https://b.example/atom")
    assert (from_env.feed_every, every_from_env.feed_every) == (600.0, 90.0)
    assert (from_flags.feeds, from_flags.feed_every) == (("https://c.example/rss",), 3600.0)
    bad = invoke(["--every", "soon"], env)
    assert bad.exit_code == 2 and "'soon' is not a duration like 30s, 10m or 1h" in bad.output


def test_allow_hosts_from_flags_or_environment(captured: list[BotSettings]) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:X"}
    assert invoke([], env).exit_code == 0
    assert invoke([], {**env, "NEWSQA_ALLOW_HOSTS": "feeds.intranet, 10.0.0.0/8"}).exit_code == 0
    assert invoke(["--allow-host", "127.0.0.1", "--allow-host", "wiki.corp"], env).exit_code == 0
    default, from_env, from_flags = captured
    assert not default.allow_hosts  # public addresses only
    assert str(from_env.allow_hosts) == "feeds.intranet, 10.0.0.0/8"
    assert str(from_flags.allow_hosts) == "wiki.corp, 127.0.0.1/32"
    bad = invoke(["--allow-host", "http://wiki.corp/"], env)
    assert bad.exit_code == 2 and "not a host name, IP address or network: 'http://wiki.corp/'" in bad.output


def test_refusals_are_one_line(captured: list[BotSettings]) -> None:
    missing = invoke([])
    assert missing.exit_code == 2 and "no bot token: set TELEGRAM_BOT_TOKEN" in missing.output
    bad_id = invoke(["--token", "1:X", "--admins", "12,bob"])
    assert bad_id.exit_code == 2 and "not a Telegram id: 'bob'" in bad_id.output
    http = invoke(["--token", "1:X", "--webhook-url", "http://bot.example/hook"])
    assert http.exit_code == 2 and "only posts to https://" in http.output
    assert captured == []


def test_serve_indexes_the_seeds_answers_and_stops_on_a_signal(tmp_path: Path) -> None:
    """The real command, start to finish: empty index -> seeds, a question answered, SIGINT stops it."""
    bot_log = logging.getLogger("newsqa.bot")
    level = bot_log.level
    with BotApiStub() as stub:
        stub.push_message(4242, AIRBASE)
        outcome: dict[str, Any] = {}

        def user() -> None:  # another thread: the command owns the main thread and its signals
            try:
                outcome["sent"] = stub.wait_for_messages(4242, 1, timeout=30)
            finally:
                os.kill(os.getpid(), signal.SIGINT)

        thread = threading.Thread(target=user)
        thread.start()
        try:
            result = invoke(
                ["--base-url", stub.base_url], {"TELEGRAM_BOT_TOKEN": stub.token}, data=tmp_path / "data"
            )
        finally:
            thread.join(10)
            bot_log.setLevel(level)
        assert result.exit_code == 0, result.output
        assert "The index is empty: indexing" in result.output and "newsqa bot stopped" in result.output
        (answer,) = outcome["sent"]
        assert answer.text.startswith("[1] ")
        assert "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday." in answer.text
        assert stub.token not in result.output
        stub.assert_no_errors()


def test_the_webhook_secret_is_the_same_in_every_replica_and_not_the_token() -> None:
    """Replicas behind one load balancer each call setWebhook: a random secret per process would let
    only the last one started accept updates."""
    from newsqa.bot.settings import BotSettings

    a, b = BotSettings(token="123:ABC"), BotSettings(token="123:ABC")
    assert a.secret_token == b.secret_token and "ABC" not in a.secret_token
    assert BotSettings(token="123:ABD").secret_token != a.secret_token
    assert BotSettings(token="123:ABC", webhook_secret="given_1").secret_token == "given_1"
    assert all(c.isalnum() or c in "-_" for c in a.secret_token)  # Telegram's allowed characters
