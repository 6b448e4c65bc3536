"""Two `newsqa serve` processes in webhook mode behind a round-robin proxy, on one PostgreSQL store.

The real command in real processes (the fake embedder injected, as tests/test_cli.py does), the strict
Bot API stub as Telegram, tests/proxy.py as the load balancer: each update goes to the next replica, so a
conversation's turns land on different processes. What must hold: a follow-up keeps its context across
replicas, an admin's /add through one is answerable through the other at once, a feed round (its fetches,
its alerts) happens once, and killing a replica loses nothing.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bot_harness import bold
from botapi_stub import BotApiStub, Outgoing
from conftest import TESTS
from proxy import RoundRobinProxy
from web_fixture import WebServer, html_page, rss_feed

from newsqa.bot.settings import BotSettings

USER = 5001
OTHER = 5002
ADMIN = 7001
AIRBASE = "Which airbase was targeted by drones shortly after midnight on Sunday?"
AIN = "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday."
ERBIL = "Erbil International Airport was also targeted by an explosives-laden drone in April."
HOOK = "https://bot.example/newsqa/hook"
TOPIC = "harbour bridge"
BRIDGE = ["The council approved the new harbour bridge on Monday after a decade of debate."] * 3

LAUNCH = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from fakes import HashingEmbedder
    from newsqa.cli import main
    embedder = HashingEmbedder()
    main(sys.argv[2:], obj={"embedder_factory": lambda: embedder}, prog_name="newsqa")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(predicate: Callable[[], bool], timeout: float, *, what: str) -> None:
    """Poll `predicate` (the stub's wait_for only wakes on the stub's own events)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Replicas:
    """N `newsqa --store URL serve` processes in webhook mode, their logs kept for the report."""

    def __init__(self, store: str, stub: BotApiStub, tmp: Path, extra: list[str]) -> None:
        self.store, self.stub, self.tmp, self.extra = store, stub, tmp, extra
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, n: int) -> None:
        for i in range(n):
            port = free_port()
            log = open(self.tmp / f"replica{i}.log", "wb")  # noqa: SIM115 - closed with the process
            args = [
                "--store", self.store, "-v", "serve",
                "--token", self.stub.token, "--base-url", self.stub.base_url,
                "--webhook-url", HOOK, "--listen", "127.0.0.1", "--port", str(port),
                "--admins", str(ADMIN), "--allow-host", "127.0.0.1", *self.extra,
            ]  # fmt: skip
            self.procs.append(
                subprocess.Popen([sys.executable, "-c", LAUNCH, str(TESTS), *args], stdout=log, stderr=log)
            )
            self.ports.append(port)
        deadline = time.monotonic() + 120
        for port, proc in zip(self.ports, self.procs, strict=True):
            while not self._listening(port):
                assert proc.poll() is None, f"a replica exited:\n{self.logs()}"
                assert time.monotonic() < deadline, f"replicas not up in time:\n{self.logs()}"
                time.sleep(0.2)

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.tmp.glob("replica*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub() as s:
        yield s


def replicas_behind_proxy(
    pg_url: str, stub: BotApiStub, tmp_path: Path, extra: list[str] | None = None
) -> tuple[Replicas, RoundRobinProxy]:
    replicas = Replicas(pg_url, stub, tmp_path, extra or [])
    replicas.start(2)
    proxy = RoundRobinProxy([f"127.0.0.1:{p}" for p in replicas.ports])
    return replicas, proxy


class Telegram:
    """Posts updates to the webhook URL the way Telegram does: through the proxy, with the secret."""

    def __init__(self, stub: BotApiStub, proxy: RoundRobinProxy) -> None:
        self.stub = stub
        self.url = f"{proxy.url}/newsqa/hook"
        self.secret = BotSettings(token=stub.token).secret_token

    def say(self, chat: int, text: str, *, count: int = 1, timeout: float = 20) -> list[Outgoing]:
        before = len(self.stub.sent(chat))
        update: dict[str, Any] = self.stub.push_message(chat, text)
        response = httpx.post(
            self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": self.secret}, timeout=10
        )
        assert response.status_code == 200, response.text
        return self.stub.wait_for_messages(chat, before + count, timeout)[before:]


def test_two_replicas_share_conversations_admin_writes_and_survive_a_kill(
    pg_url: str, stub: BotApiStub, tmp_path: Path
) -> None:
    replicas, proxy = replicas_behind_proxy(pg_url, stub, tmp_path)
    try:
        with proxy, WebServer() as web:
            assert stub.webhook is not None and stub.webhook["url"] == HOOK
            telegram = Telegram(stub, proxy)
            (first,) = telegram.say(USER, AIRBASE)
            assert bold(first)[0] == AIN, replicas.logs()
            (follow_up,) = telegram.say(USER, "And in April?")  # the other replica answers
            assert ERBIL in bold(follow_up), follow_up.text
            assert sorted(proxy.hits.values()) == [1, 1]  # one turn each

            web.set_route(
                "/harbour",
                html_page("Harbour wall rebuilt", ["Forty divers will rebuild the northern pier."] * 3),
            )
            (added,) = telegram.say(ADMIN, f"/add {web.url('/harbour')}")
            assert added.text.startswith("Added: 1 added"), added.text
            added_at = time.monotonic()
            (answer,) = telegram.say(OTHER, "How many divers will rebuild the northern pier?")
            assert "Forty divers" in bold(answer)[0]  # through the replica that did not add it
            assert time.monotonic() - added_at < 5  # the answer itself came within a second or so

            replicas.procs[0].send_signal(signal.SIGKILL)  # a replica dies; the proxy fails over
            replicas.procs[0].wait()
            (again,) = telegram.say(USER, AIRBASE)
            (april,) = telegram.say(USER, "And in April?")
            assert bold(again)[0] == AIN and ERBIL in bold(april)
            assert stub.errors == []
    finally:
        replicas.stop()


def test_a_feed_round_runs_once_across_replicas(pg_url: str, stub: BotApiStub, tmp_path: Path) -> None:
    """Both replicas are configured with the feed; one polls it: each story is fetched once and its
    follower alerted once."""
    with WebServer() as web:
        items: list[dict[str, str]] = []
        web.set_route("/feed.xml", rss_feed("City Paper", items), content_type="application/rss+xml")
        replicas, proxy = replicas_behind_proxy(
            pg_url, stub, tmp_path, ["--feed", web.url("/feed.xml"), "--every", "1s"]
        )
        try:
            with proxy:
                telegram = Telegram(stub, proxy)
                (followed,) = telegram.say(USER, f"/follow {TOPIC}")
                assert followed.text.startswith(f"Following “{TOPIC}”."), followed.text
                web.set_route(
                    "/bridge", html_page("Bridge approved", BRIDGE, published="2024-03-05T09:00:00Z")
                )
                items.append({"title": "Bridge approved", "link": web.url("/bridge"), "guid": "/bridge"})
                web.set_route("/feed.xml", rss_feed("City Paper", items), content_type="application/rss+xml")
                (alert,) = stub.wait_for_messages(USER, 2, 30)[1:]
                assert alert.text.startswith(f"New on {TOPIC}:"), alert.text
                polls = len(web.requests_for("/feed.xml"))
                until(lambda: len(web.requests_for("/feed.xml")) >= polls + 3, 30, what="3 more feed polls")
                window = len(web.requests_for("/feed.xml"))
                time.sleep(4)
                assert len(web.requests_for("/feed.xml")) - window <= 5  # one poller at 1/s, not two
                assert len(stub.sent(USER)) == 2  # one alert, not one per replica
                assert len(web.requests_for("/bridge")) == 1  # the story fetched once
        finally:
            replicas.stop()
