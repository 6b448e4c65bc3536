"""The webhook's inbox (bot/inbox.py): an accepted update is durable before the 200, handled once, and
finished by another process when the one that accepted it died; against both stores, then end to end
with two real replicas, one killed 0.2 s after it acknowledged a question."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from botapi_stub import BotApiStub
from conftest import TESTS
from proxy import RoundRobinProxy
from test_replicas import ADMIN, HOOK, Telegram, free_port

from newsqa.bot.chatstore import ChatStore
from newsqa.bot.inbox import MAX_ATTEMPTS, Inbox
from newsqa.index.storage.library import Library


def test_an_update_is_accepted_once_and_taken_over_once_after_its_lease(library: Library) -> None:
    chats = ChatStore(library.store)
    first = Inbox(chats, lease=0.3, owner="replica-1")
    second, third = Inbox(chats, lease=5, owner="replica-2"), Inbox(chats, lease=5, owner="replica-3")
    assert first.accept(41, '{"update_id": 41}') and first.accept(42, '{"update_id": 42}')
    assert not second.accept(41, '{"update_id": 41}')  # Telegram delivering it again: not handled twice
    first.done(41)
    assert second.take_over() == []  # 42's lease still runs
    time.sleep(0.4)  # replica-1 died: it renews no more
    assert second.take_over() == ['{"update_id": 42}']
    assert third.take_over() == []  # exactly one takes it over
    first.done(42)  # the dead one's word no longer counts ...
    second.renew()
    assert third.take_over() == []  # ... and the new owner's lease is renewed
    second.done(42)
    assert chats.abandoned_updates(time.time() + 3600, 10) == []


def test_an_update_that_kills_every_handler_is_given_up(library: Library) -> None:
    chats = ChatStore(library.store)
    assert Inbox(chats, lease=0.01, owner="a").accept(7, "{}")
    for attempt in range(MAX_ATTEMPTS):
        time.sleep(0.02)
        taken = Inbox(chats, lease=0.01, owner=f"b{attempt}").take_over()
        assert taken == (["{}"] if attempt < MAX_ATTEMPTS - 1 else [])
    assert chats.abandoned_updates(time.time() + 3600, 10) == []


SLOW = "slowly"  # a question holding this word takes the fake embedder 3 s (time to kill its replica)
LAUNCH_SLOW = textwrap.dedent(
    f"""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from fakes import HashingEmbedder
    from newsqa.cli import main

    class Slow(HashingEmbedder):
        def embed(self, texts):
            if any({SLOW!r} in t for t in texts):
                time.sleep(3)
            return super().embed(texts)

    embedder = Slow()
    main(sys.argv[2:], obj={{"embedder_factory": lambda: embedder}}, prog_name="newsqa")
    """
)


def test_a_replica_killed_after_acknowledging_a_question_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    """Replica A answers the webhook 200 and is killed 0.2 s later, mid-question: replica B answers it
    once A's lease ran out, and only B (a redelivery of the same update is not answered again)."""
    with BotApiStub() as stub:
        ports, procs = [free_port(), free_port()], []
        try:
            for i, port in enumerate(ports):
                log = open(tmp_path / f"replica{i}.log", "wb")  # noqa: SIM115 - closed with the process
                args = [
                    "--store", pg_url, "-v", "serve", "--token", stub.token, "--base-url", stub.base_url,
                    "--webhook-url", HOOK, "--listen", "127.0.0.1", "--port", str(port),
                    "--admins", str(ADMIN), "--inbox-lease", "2",
                ]  # fmt: skip
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", LAUNCH_SLOW, str(TESTS), *args], stdout=log, stderr=log
                    )
                )
                _wait_listening(port, procs[-1], tmp_path)
            with RoundRobinProxy([f"127.0.0.1:{p}" for p in ports]) as proxy:
                telegram = Telegram(stub, proxy)
                (warm,) = telegram.say(5001, "Which airbase was targeted by drones?")  # replica A
                update = stub.push_message(5002, f"Which airbase was targeted {SLOW} by drones?")
                direct = f"http://127.0.0.1:{ports[1]}/newsqa/hook"  # straight to replica B ...
                headers = {"X-Telegram-Bot-Api-Secret-Token": telegram.secret}
                accepted = httpx.post(direct, json=update, headers=headers, timeout=10)
                assert accepted.status_code == 200
                time.sleep(0.2)
                procs[1].send_signal(signal.SIGKILL)  # ... which dies before it answers
                procs[1].wait()
                (answer,) = stub.wait_for_messages(5002, 1, timeout=30)
                assert "Ain al-Asad" in answer.text, _logs(tmp_path)
                again = httpx.post(
                    f"http://127.0.0.1:{ports[0]}/newsqa/hook", json=update, headers=headers, timeout=10
                )
                assert again.status_code == 200  # Telegram retrying: acknowledged, not answered twice
                time.sleep(3)
                assert len(stub.sent(5002)) == 1, _logs(tmp_path)
                assert "taken over" in (tmp_path / "replica0.log").read_text()
                assert warm.text and stub.errors == []
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], tmp_path: Path) -> None:
    import socket

    deadline = time.monotonic() + 120
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, _logs(tmp_path)
        assert time.monotonic() < deadline, _logs(tmp_path)
        time.sleep(0.2)


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("replica*.log")))
