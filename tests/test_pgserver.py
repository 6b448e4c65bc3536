"""The throwaway PostgreSQL the store's tests run against: reachable, isolated per test, local only."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pgserver import PgCluster, missing, unavailable

if TYPE_CHECKING:
    import psycopg


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """psycopg imported here: without it the fixtures skip (or fail in CI) instead of collection erroring."""
    import psycopg

    return psycopg.connect(url)


def test_connect_and_create_a_table(pg_url: str) -> None:
    assert pg_url.startswith("postgresql://postgres@127.0.0.1:")
    with connect(pg_url) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO t (body) VALUES (%s), (%s)", ("ünïcode ✓", "two"))
        conn.commit()
    with connect(pg_url) as conn:
        rows = conn.execute("SELECT body FROM t ORDER BY id").fetchall()
        encoding = conn.execute("SHOW server_encoding").fetchone()
    assert rows == [("ünïcode ✓",), ("two",)]
    assert encoding == ("UTF8",)


def test_two_databases_are_separate(pg_cluster: PgCluster) -> None:
    first, second = pg_cluster.create_database(), pg_cluster.create_database()
    assert first != second
    with connect(first) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
        conn.commit()
    with connect(second) as conn:
        found = conn.execute("SELECT to_regclass('only_here')").fetchone()
    assert found == (None,)
    pg_cluster.drop_database(first)
    pg_cluster.drop_database(second)


def test_each_test_gets_an_empty_database(pg_url: str) -> None:
    with connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)


def test_listens_on_loopback_only(pg_cluster: PgCluster, pg_url: str) -> None:
    with socket.create_connection(("127.0.0.1", pg_cluster.port), timeout=5):
        pass
    with connect(pg_url) as conn:
        addr = conn.execute("SELECT host(inet_server_addr()), current_setting('listen_addresses')").fetchone()
        conn_limit = conn.execute("SHOW max_connections").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
    assert addr == ("127.0.0.1", "127.0.0.1")
    assert conn_limit == ("200",)
    assert fsync == ("off",)
    assert pg_cluster.dir is not None
    assert (pg_cluster.dir / f".s.PGSQL.{pg_cluster.port}").exists()  # its socket in its own temp dir


def test_a_database_left_open_is_still_dropped(pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database()
    leaked = connect(url)
    pg_cluster.drop_database(url)
    with connect(pg_cluster.url()) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (url.rsplit("/", 1)[1],))
        assert left.fetchone() == (0,)
    leaked.close()


@pytest.mark.postgres
def test_stop_removes_the_cluster() -> None:
    if (reason := missing()) is not None:
        unavailable(reason)
    cluster = PgCluster().start()
    where, port = cluster.dir, cluster.port
    assert where is not None and (where / "data" / "PG_VERSION").exists()
    cluster.stop()
    cluster.stop()  # twice is fine
    assert not Path(where).exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_missing_postgres_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSQA_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no binaries"):
        unavailable("no binaries")
    monkeypatch.setenv("NEWSQA_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception, match="NEWSQA_REQUIRE_POSTGRES=1"):
        unavailable("no binaries")
