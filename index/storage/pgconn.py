"""PostgreSQL connections that speak the SQLite store's dialect where the SQL is the same.

The store's plain statements (`?` placeholders, `ON CONFLICT`, `IN (...)`) run unchanged on PostgreSQL
through `PgConnection`, so `PgStore` (pgstore.py) only rewrites what truly differs: full-text search,
`RETURNING` ids, `INSERT OR IGNORE`. psycopg is imported when a PostgreSQL store is opened, never for
the SQLite default.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .migrations import Migration

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

#: Advisory lock keys (one 64-bit space per database). WRITE serialises writes to the change log so its
#: sequence numbers commit in order (a reader that saw seq 10 must never later find a 9); WRITER is the
#: long-lived "one writer at a time" lock the data directory's writer.lock is for SQLite; MIGRATE runs a
#: track's migrations once; FEEDS lets one process of many poll the feeds.
WRITE_KEY = 0x6E657773_0001
WRITER_KEY = 0x6E657773_0002
MIGRATE_KEY = 0x6E657773_0003
FEEDS_KEY = 0x6E657773_0004
#: Where `NOTIFY` tells listeners the change log grew (payload: the last sequence number).
CHANGES_CHANNEL = "newsqa_changes"


def is_postgres(store: str | None) -> bool:
    """Whether a --store value names a PostgreSQL server (else the SQLite data directory is used)."""
    return bool(store) and urlsplit(store or "").scheme in ("postgresql", "postgres")


#: query parameters of a PostgreSQL URL that hold a secret, or say where one is kept
_SECRET_PARAMS = ("password", "passfile", "sslpassword")
MASK = "***"


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a PostgreSQL URL (no password in it), or None when it parses."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    return None


def _secret_param(piece: str) -> bool:
    return unquote(piece.split("=", 1)[0]).strip().lower() in _SECRET_PARAMS


def redacted(url: str) -> str:
    """The URL without its secrets (the password in user:password@, and password=, passfile=,
    sslpassword= in the query), for messages, logs and the admin's /stats. A URL that does not parse is
    not shown at all: where its password starts cannot be told."""
    if url_problem(url) is not None:
        return "(a malformed PostgreSQL URL)"
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{host}" if user else host
    query = "&".join(
        f"{piece.split('=', 1)[0]}={MASK}" if _secret_param(piece) else piece
        for piece in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets_of(url: str) -> list[str]:
    """The secret values in `url`, as written and decoded (to take out of a message that echoes them)."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    netloc = parts.netloc if parts else url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    query = parts.query if parts else url.partition("?")[2]
    found += [piece.split("=", 1)[1] for piece in query.split("&") if "=" in piece and _secret_param(piece)]
    found = [v for v in found if v]
    return sorted({*found, *(unquote(v) for v in found)}, key=len, reverse=True)


def scrubbed(message: str, url: str | None) -> str:
    """`message` (a server's or libpq's error, which may quote the connection string) without the
    secrets of `url`."""
    for secret in secrets_of(url or ""):  # whole words only: a password "p" leaves "PostgreSQL" be
        message = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", MASK, message)
    return message


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|%")


def to_pg(sql: str) -> str:
    """`?` placeholders as psycopg's `%s`, a literal `%` doubled; quoted strings are left alone."""

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return "%s" if token == "?" else "%%" if token == "%" else token

    return _PLACEHOLDER.sub(swap, sql)


class PgConnection:
    """A psycopg connection in autocommit mode with the sqlite3 calls the store uses.

    Transactions are explicit (BEGIN ... COMMIT), as in the SQLite store, so one `Store` method body works
    on both.
    """

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        import psycopg

        self.url = url
        self.raw: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True, connect_timeout=10)
        if readonly:
            self.raw.execute("SET default_transaction_read_only = on")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:  # a psycopg cursor
        if params is None:
            return self.raw.execute(sql)
        return self.raw.execute(to_pg(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            with self.raw.cursor() as cur:
                cur.executemany(to_pg(sql), batch)  # type: ignore[arg-type]

    @property
    def in_transaction(self) -> bool:
        """Inside BEGIN ... COMMIT (False for a broken connection: there is nothing to roll back)."""
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status in (
            TransactionStatus.ACTIVE,
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        )

    def alive(self) -> bool:
        """Whether the connection can still be used, told without a round trip: a server that restarted
        (or ended the session) closed the socket, which then reads as ready, with EOF or its goodbye,
        while an idle session has nothing to say. Without this each thread's first statement after a
        restart would fail, one question each."""
        if self.raw.closed:
            return False
        if self.in_transaction:  # mid-transaction: its own next statement tells
            return True
        try:
            ready, _, _ = select.select([self.raw.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not ready

    def close(self) -> None:
        self.raw.close()


#: what a connection failure says when the cause is the configuration, not an outage: no waiting helps
_NOT_TRANSIENT = (
    "does not exist",
    "authentication failed",
    "no password supplied",
    "permission denied",
    "no pg_hba.conf entry",
    "invalid dsn",
)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the PostgreSQL server cannot be reached right now (down, restarting, the
    network): what a long-running process waits out, telling its users to try again in a minute. False
    for anything else, a wrong database name or password among them. psycopg is never imported here."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.OperationalError):
        return False
    text = str(exc).lower()
    return not any(marker in text for marker in _NOT_TRANSIENT)


def try_advisory_lock(conn: PgConnection, key: int) -> bool:
    return bool(conn.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0])


@contextlib.contextmanager
def session_lock(url: str, key: int, *, timeout: float, busy: str) -> Iterator[None]:
    """Hold an advisory lock on a connection of its own while the block runs; the server releases it
    when the connection ends, so a killed process never leaves it held. `busy`: the one-line message
    raised (as `LockBusy`) when another process holds it past `timeout` seconds."""
    conn = PgConnection(url)
    try:
        deadline = time.monotonic() + timeout
        while not try_advisory_lock(conn, key):
            if time.monotonic() >= deadline:
                raise LockBusy(busy)
            time.sleep(0.1)
        try:
            yield
        finally:  # at once: the server ends a closed session's locks a moment later, and the next
            with contextlib.suppress(Exception):  # writer may be trying right now
                conn.execute("SELECT pg_advisory_unlock(?)", (key,))
    finally:
        conn.close()


class LockBusy(Exception):
    pass


def schema_version(conn: PgConnection, track: str) -> int:
    """How many of `track`'s migrations ran in this database (0 in a new one)."""
    if not conn.execute("SELECT to_regclass('schema_versions') IS NOT NULL").fetchone()[0]:
        return 0
    row = conn.execute("SELECT version FROM schema_versions WHERE track = ?", (track,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: PgConnection, migrations: Sequence[Migration], track: str) -> None:
    """Run one track's pending migrations in one transaction, under an advisory lock taken before the
    count is read: of many processes starting at once on a new database, the first runs them and the
    others find nothing to do (PostgreSQL's DDL is transactional, so a failure leaves no half schema)."""
    if schema_version(conn, track) >= len(migrations):
        return
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (track TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        version = schema_version(conn, track)
        for migration in migrations[version:]:
            if migration.sql.strip():
                conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_versions(track, version) VALUES(?, ?)"
                " ON CONFLICT(track) DO UPDATE SET version = excluded.version",
                (track, migration.number),
            )
            log.info("%s migration %d (%s) applied", track, migration.number, migration.name)
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if "permission denied for schema public" in str(exc):
            raise SchemaNotOwned(_not_owned(conn)) from None
        raise
    conn.execute("COMMIT")


class SchemaNotOwned(Exception):
    """The role may not create tables in the database (PostgreSQL 15 lets only the database's owner
    create in schema public): the message says how to fix it."""


def _not_owned(conn: PgConnection) -> str:
    user, db = conn.raw.info.user, conn.raw.info.dbname
    return (
        f"PostgreSQL: role {user} may not create tables in database {db} (permission denied for schema "
        f"public; since PostgreSQL 15 only the database's owner may): create it with `createdb -O {user} "
        f"{db}`, or as a superuser run `ALTER DATABASE {db} OWNER TO {user};`"
    )
