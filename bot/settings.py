"""The bot's settings: one frozen object, built once by `newsqa serve` from flags and environment."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsqa.index.web.netguard import AllowList

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BotSettings:
    """Everything the Telegram front end needs to know; the index side lives in `newsqa.settings`."""

    token: str = field(repr=False)  # never printed, never logged
    base_url: str | None = None  # a self-hosted Bot API server, PTB's form: http://host:port/bot
    # Webhook mode when webhook_url is set; long polling otherwise.
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)
    # Who may do what (empty `allowed`: everyone may ask; admins are always allowed).
    admins: frozenset[int] = frozenset()
    allowed: frozenset[int] = frozenset()
    folders: tuple[Path, ...] = ()  # what /reindex rescans
    feeds: tuple[str, ...] = ()  # RSS/Atom feeds polled while serving; new stories alert followers
    feed_every: float = 600.0  # seconds between feed rounds
    allow_hosts: AllowList = field(
        default_factory=AllowList
    )  # /add URLs and feeds: fetched besides public addresses
    k: int = 3  # passages per answer page
    questions_per_window: int = 10  # per user ...
    window_seconds: float = 60.0  # ... in this many seconds
    max_upload_bytes: int = 5 * MB
    poll_timeout: int = 30  # seconds a getUpdates long poll may wait
    drop_pending_updates: bool = False
    concurrency: int = 16  # chats served at once; each chat's updates run one after another
    chat_backlog: int = 8  # updates a busy chat may have waiting; more are dropped
    shutdown_grace: float = 5.0  # seconds work in progress may finish at shutdown; queued work is dropped
    retries: int = 3  # for 429s, timeouts and network errors, each
    retry_backoff: float = 1.0  # seconds before the first retry; doubles after each
    lock_timeout: float = 30.0  # how long an admin write waits for another writer
    inbox_lease: float = 20.0  # webhook: seconds before another process finishes a dead one's update
    compressed: bool | None = None  # this process's FAISS layout: float16/SQ8 codes, float32, or as stored
    follow_seconds: float | None = None  # poll for others' changes (None: changefollower.py's default)

    @property
    def base_file_url(self) -> str | None:
        return file_url_for(self.base_url) if self.base_url else None

    @property
    def webhook_path(self) -> str:
        """The path the local webhook server answers: the path of the public webhook URL."""
        return urlsplit(self.webhook_url or "").path.strip("/")

    @property
    def secret_token(self) -> str:
        """What Telegram must send with each webhook update: the one given, else one derived from the
        token, the same in every replica behind one load balancer (a random one per process would make
        each replica's setWebhook lock the others out)."""
        if self.webhook_secret:
            return self.webhook_secret
        digest = hmac.new(self.token.encode(), b"newsqa webhook secret", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"


def file_url_for(base_url: str) -> str:
    """'http://host:8081/bot' -> 'http://host:8081/file/bot': where a Bot API server serves downloads."""
    root = base_url.rstrip("/")
    if root.endswith("/bot"):
        return root[: -len("/bot")] + "/file/bot"
    return root + "/file/bot"


def parse_ids(raw: str | None) -> frozenset[int]:
    """'123, -100456 789' -> {123, -100456, 789}; a bad entry is an error, not silently dropped."""
    if not raw:
        return frozenset()
    out = set()
    for part in raw.replace(",", " ").split():
        try:
            out.add(int(part))
        except ValueError:
            raise ValueError(f"not a Telegram id: {part!r}") from None
    return frozenset(out)
