"""The webhook server refuses a request without the secret before reading its body, caps a body and the
bodies held at once, and matches its path literally."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot

from newsqa.bot import webhook
from newsqa.bot.settings import BotSettings
from newsqa.bot.webhook import BodyBudget, WebhookServer

SECRET = "s3cret-Token_1"
UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1,
        "date": 0,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
        "text": "hello",
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, port: int, queue: asyncio.Queue[Any]) -> None:
        self.port = port
        self.queue = queue

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def _serve(path: str, budget: BodyBudget | None = None) -> tuple[WebhookServer, Served]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    server = WebhookServer(Bot("123:ABC"), queue, path=path, secret=SECRET, budget=budget)
    port = _free_port()
    server.start("127.0.0.1", port)
    return server, Served(port, queue)


@pytest.fixture
async def hook() -> AsyncIterator[Served]:
    server, served = await _serve(
        BotSettings(token="1:A", webhook_url="https://bot.example/newsqa/hook").webhook_path
    )
    yield served
    await server.stop()


async def _head_only(port: int, headers: dict[str, str]) -> bytes:
    """Send a POST's headers and none of its body; what the server answers within two seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = ["POST /newsqa/hook HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    writer.write("\r\n".join(lines).encode())
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(200), 2.0)
    except TimeoutError:
        return b""
    finally:
        writer.close()


async def test_a_wrong_secret_is_refused_before_the_body_is_read(hook: Served) -> None:
    big = {"Content-Type": "application/json", "Content-Length": str(90 * 1024 * 1024)}
    assert (await _head_only(hook.port, big)).startswith(b"HTTP/1.1 403")
    wrong = {**big, webhook.SECRET_HEADER: "guess"}
    assert (await _head_only(hook.port, wrong)).startswith(b"HTTP/1.1 403")
    right = {**big, webhook.SECRET_HEADER: SECRET}  # the right secret, but far too big a body
    assert (await _head_only(hook.port, right)).startswith(b"HTTP/1.1 413")


async def test_an_update_with_the_secret_is_queued_and_a_big_body_is_refused(hook: Served) -> None:
    headers = {webhook.SECRET_HEADER: SECRET}
    async with httpx.AsyncClient() as client:
        ok = await client.post(hook.url("/newsqa/hook"), json=UPDATE, headers=headers)
        assert ok.status_code == 200
        assert (await hook.queue.get()).update_id == 7

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(40):
                yield b" " * 10_000

        try:  # refused: a 413, or tornado cuts the connection once past the cap
            big = await client.post(
                hook.url("/newsqa/hook"),
                content=chunked(),
                headers={**headers, "Content-Type": "application/json"},
            )
            assert big.status_code == 413
        except httpx.TransportError:
            pass
        garbage = await client.post(
            hook.url("/newsqa/hook"),
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert garbage.status_code == 400
    assert hook.queue.empty()


async def test_bodies_held_at_once_are_capped() -> None:
    server, served = await _serve("newsqa/hook", BodyBudget(limit=100_000))
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        head = (
            "POST /newsqa/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{webhook.SECRET_HEADER}: {SECRET}\r\nContent-Length: 200000\r\n\r\n"
        )
        writer.write(head.encode() + b" " * 90_000)  # held, its request not finished
        await writer.drain()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as client:
            second = await client.post(
                served.url("/newsqa/hook"),
                content=b" " * 30_000 + json.dumps(UPDATE).encode(),
                headers={webhook.SECRET_HEADER: SECRET, "Content-Type": "application/json"},
            )
        assert second.status_code == 503
        writer.close()
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as client:  # the first one gone, its bytes are given back
            third = await client.post(
                served.url("/newsqa/hook"), json=UPDATE, headers={webhook.SECRET_HEADER: SECRET}
            )
        assert third.status_code == 200
    finally:
        await server.stop()


@pytest.mark.parametrize("path", ["/ho(ok", "/hook.*", "/h[o]ok+"])
async def test_the_path_is_matched_literally(path: str) -> None:
    settings = BotSettings(token="1:A", webhook_url=f"https://bot.example{path}")
    server, served = await _serve(settings.webhook_path)  # no re.error at start-up
    try:
        async with httpx.AsyncClient() as client:
            headers = {webhook.SECRET_HEADER: SECRET}
            exact = await client.post(
                served.url(httpx.URL(f"http://x{path}").raw_path.decode()), json=UPDATE, headers=headers
            )
            other = await client.post(served.url("/hookANYTHING/else"), json=UPDATE, headers=headers)
        assert exact.status_code == 200
        assert other.status_code == 404
    finally:
        await server.stop()
