"""docs/deploy.md's PostgreSQL steps, as an operator follows them: the role, a database it owns (and the
one-line fix when it does not), a new database whole after `index build` (the bot's tables in it before
any replica starts), /stats's last write, serve's --compressed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import SEEDS
from fakes import HashingEmbedder
from pgserver import PgCluster

from newsqa.bot.backend import Backend
from newsqa.bot.command import serve
from newsqa.cli import main
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.storage.pghome import PgHome


def newsqa(store: str, *args: str) -> Result:
    embedder = HashingEmbedder()
    return CliRunner().invoke(main, ["--store", store, *args], obj={"embedder_factory": lambda: embedder})


@pytest.fixture
def role(pg_cluster: PgCluster) -> Iterator[str]:
    """A login role like deploy.md's `createuser newsqa` (the test cluster trusts every local login)."""
    name = f"newsqa_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        for db in conn.execute(
            "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
            (name,),
        ).fetchall():
            conn.execute(f'DROP DATABASE "{db[0]}" WITH (FORCE)')
        conn.execute(f"DROP ROLE {name}")


def test_a_database_the_role_does_not_own_is_one_line_naming_the_fix(
    pg_cluster: PgCluster, role: str
) -> None:
    """PostgreSQL 15: a database made by `postgres` refuses the role CREATE in schema public."""
    db = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')  # createdb without -O
    store = f"postgresql://{role}@127.0.0.1:{pg_cluster.port}/{db}"
    refused = newsqa(store, "index", "build", str(SEEDS))
    assert refused.exit_code == 1, refused.output
    assert f"createdb -O {role} {db}" in refused.output and len(refused.output.strip().splitlines()) == 1
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db}" OWNER TO {role}')  # the fix it names
    built = newsqa(store, "index", "build", str(SEEDS))
    assert built.exit_code == 0, built.output


def test_a_new_database_has_the_bots_tables_after_a_build(pg_url: str) -> None:
    """deploy.md's rebuild copies follows into the new database before any replica starts there."""
    assert newsqa(pg_url, "index", "build", str(SEEDS)).exit_code == 0
    with psycopg.connect(pg_url) as conn:
        for table in (
            "conversations",
            "follows",
            "alerts",
            "question_limits",
            "feed_state",
            "feed_state_seen",
        ):
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None, table


def test_stats_on_postgresql_tells_the_last_write(pg_url: str) -> None:
    embedder = HashingEmbedder()
    lib = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    try:
        backend = Backend(lib, QuestionAnswerer(Searcher(lib)), k=3, lock_timeout=1)
        assert backend.stats().built_at is None
        newsqa(pg_url, "index", "build", str(SEEDS))
        assert backend.stats().built_at is not None  # was "Last write: never"
    finally:
        lib.close()


def test_serve_takes_compressed() -> None:
    text = CliRunner().invoke(serve, ["--help"]).output
    assert "--compressed / --float32" in text
