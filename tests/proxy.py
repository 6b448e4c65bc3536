"""A round-robin HTTP reverse proxy for tests: one address in front of several webhook replicas.

    with RoundRobinProxy(["127.0.0.1:8441", "127.0.0.1:8442"]) as proxy:
        post(proxy.url + "/telegram", ...)     # goes to 8441, the next request to 8442, ...
        assert all(proxy.hits.values())        # both replicas answered

Like a real load balancer's failover, a backend that refuses the connection (a replica down) is skipped
and the request goes to the next one; only when every backend refuses does the client get a 502. A
backend that accepted the request is never retried: a webhook update must not be delivered twice.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

# Per connection, never forwarded (RFC 9110 7.6.1); the body is re-framed with a Content-Length.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",  # this side already answered 100 Continue
        "content-length",
    }
)


class RoundRobinProxy:
    """Forwards each request (method, path, headers, body) to the next backend ("host:port") in turn."""

    def __init__(self, backends: list[str], timeout_s: float = 30.0) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = list(backends)
        self.timeout_s = timeout_s
        self.hits: dict[str, int] = dict.fromkeys(self.backends, 0)  # requests each backend answered
        self.refused: dict[str, int] = dict.fromkeys(self.backends, 0)  # connections it refused
        self._next = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RoundRobinProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="test-proxy", daemon=True
        )  # polls for stop() every 50 ms
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> RoundRobinProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def order(self) -> list[str]:
        """The backends to try for one request: the next in turn first, then the others after it."""
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.backends)
        return self.backends[start:] + self.backends[:start]

    def count(self, table: dict[str, int], backend: str) -> None:
        with self._lock:
            table[backend] += 1

    def forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        """The first answering backend's (status, reason, headers, body); None when all refused."""
        for backend in self.order():
            host, _, port = backend.rpartition(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=self.timeout_s)
            try:
                try:
                    conn.connect()
                except OSError:  # refused, unreachable, connect timeout: nothing sent, the next may take it
                    self.count(self.refused, backend)
                    continue
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                if not any(name.lower() == "host" for name, _ in headers):  # an HTTP/1.0 client's request
                    conn.putheader("Host", backend)
                for name, value in headers:
                    conn.putheader(name, value)
                if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                self.count(self.hits, backend)
                return resp.status, resp.reason, resp.getheaders(), data
            finally:
                conn.close()
        return None


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: RoundRobinProxy
    protocol_version = "HTTP/1.1"  # keep-alive towards the client, as a real proxy

    def _proxy(self) -> None:
        body = self._read_body()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        headers.append(("X-Forwarded-For", self.client_address[0]))
        try:
            answer = self.owner.forward(self.command, self.path, headers, body)
        except (OSError, http.client.HTTPException) as exc:  # the backend failed after accepting the request
            self._reply(502, "Bad Gateway", [], f"backend failed: {exc!r}\n".encode())
            return
        if answer is None:
            self._reply(502, "Bad Gateway", [], b"every backend refused the connection\n")
            return
        status, reason, resp_headers, data = answer
        self._reply(status, reason, resp_headers, data)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status, reason)
        length = str(len(data))
        for name, value in headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value  # a HEAD answer has the length of the body it does not send
            elif name.lower() not in HOP_BY_HOP and name.lower() not in ("server", "date"):
                self.send_header(name, value)
        if status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", length)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    def log_message(self, format: str, *args: object) -> None:
        pass
