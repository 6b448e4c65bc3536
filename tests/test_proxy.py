"""The test reverse proxy: round robin over two local servers, failover past a refusing one, 502 when none."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pgserver import free_port
from proxy import RoundRobinProxy

SECRET = "X-Telegram-Bot-Api-Secret-Token"


class Backend:
    """A tiny HTTP server answering with its name and what it received, as JSON."""

    def __init__(self, name: str) -> None:
        self.name = name
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/missing"):
                    payload, status = b"nope", 404
                else:
                    seen = {
                        "backend": backend.name,
                        "method": self.command,
                        "path": self.path,
                        "secret": self.headers.get(SECRET),
                        "host": self.headers.get("Host"),
                        "body": body.decode(),
                    }
                    payload, status = json.dumps(seen).encode(), 201 if self.command == "POST" else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Backend", backend.name)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends() -> Iterator[tuple[Backend, Backend]]:
    a, b = Backend("a"), Backend("b")
    yield a, b
    a.close()
    b.close()


def request(
    proxy: RoundRobinProxy,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_round_robin_forwards_method_path_headers_and_body(backends: tuple[Backend, Backend]) -> None:
    a, b = backends
    with RoundRobinProxy([a.address, b.address]) as proxy:
        answered = []
        for i in range(4):
            update = json.dumps({"update_id": i}).encode()
            status, headers, body = request(
                proxy, "POST", "/telegram?x=1", update, {SECRET: "s3cret", "Content-Type": "application/json"}
            )
            seen = json.loads(body)
            assert status == 201
            assert headers["X-Backend"] == seen["backend"]
            assert seen["method"] == "POST" and seen["path"] == "/telegram?x=1"
            assert seen["secret"] == "s3cret"
            assert seen["host"] == f"127.0.0.1:{proxy.port}"  # the client's Host passes through
            assert json.loads(seen["body"]) == {"update_id": i}
            answered.append(seen["backend"])
        assert answered == ["a", "b", "a", "b"]
        assert proxy.hits == {a.address: 2, b.address: 2}


def test_backend_status_passes_through_and_is_not_a_failover(backends: tuple[Backend, Backend]) -> None:
    a, b = backends
    with RoundRobinProxy([a.address, b.address]) as proxy:
        assert request(proxy, "GET", "/missing")[0] == 404
        status, headers, body = request(proxy, "HEAD", "/")
        assert (status, body) == (200, b"")
        assert int(headers["Content-Length"]) > 0
        assert proxy.hits == {a.address: 1, b.address: 1}


def test_a_refusing_backend_is_skipped(backends: tuple[Backend, Backend]) -> None:
    a, _ = backends
    down = f"127.0.0.1:{free_port()}"  # nobody listens there: connection refused
    with RoundRobinProxy([down, a.address]) as proxy:
        for _ in range(4):
            status, _, body = request(proxy, "POST", "/telegram", b"{}", {SECRET: "s"})
            assert status == 201 and json.loads(body)["backend"] == "a"
        assert proxy.hits == {down: 0, a.address: 4}
        assert proxy.refused[down] == 2  # every other request started at the dead one


def test_a_replica_stopping_midway_fails_over(backends: tuple[Backend, Backend]) -> None:
    a, b = backends
    with RoundRobinProxy([a.address, b.address]) as proxy:
        assert [json.loads(request(proxy, "GET", "/")[2])["backend"] for _ in range(2)] == ["a", "b"]
        b.close()
        assert [json.loads(request(proxy, "GET", "/")[2])["backend"] for _ in range(2)] == ["a", "a"]
        assert proxy.hits == {a.address: 3, b.address: 1}


def test_every_backend_refusing_is_a_502() -> None:
    down = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    with RoundRobinProxy(down) as proxy:
        status, _, body = request(proxy, "POST", "/telegram", b"{}")
        assert status == 502 and b"refused" in body
        assert proxy.hits == dict.fromkeys(down, 0)


def test_chunked_request_body_is_forwarded_whole(backends: tuple[Backend, Backend]) -> None:
    a, _ = backends
    with RoundRobinProxy([a.address]) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("POST", "/telegram", body=iter([b'{"update', b'_id": 7}']), encode_chunked=True)
        seen = json.loads(conn.getresponse().read())
        conn.close()
        assert json.loads(seen["body"]) == {"update_id": 7}
