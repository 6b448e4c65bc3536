"""A password in `--store` is never shown: not in `index stats`, the "no index" lines, the admin's /stats,
nor in the one line a malformed URL gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder

from newsqa.bot.backend import Backend
from newsqa.cli import main
from newsqa.index.search.qa import QuestionAnswerer
from newsqa.index.search.ranking import Searcher
from newsqa.index.storage.library import Library
from newsqa.index.storage.pgconn import redacted, scrubbed
from newsqa.index.storage.pghome import PgHome

SECRET = "hunter2x"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@db.internal/newsqa",
        f"postgresql://u@db.internal/newsqa?password={SECRET}",
        f"postgresql://u@db.internal/newsqa?sslmode=require&PassWord={SECRET}",
        f"postgresql://u@db.internal/newsqa?passfile=/home/{SECRET}/.pgpass",
        f"postgresql://u@db.internal/newsqa?sslpassword={SECRET}",
        f"postgresql://u:{SECRET}@[::1/db",
        f"postgresql://u:{SECRET}@db.internal:99x/db",
    ],
)
def test_every_credential_form_is_redacted(url: str) -> None:
    shown = redacted(url)
    assert SECRET not in shown
    assert "db.internal" in shown or "malformed" in shown


def test_redacting_keeps_the_rest_of_the_url() -> None:
    assert redacted("postgresql://u:pw@[::1]:5433/db?sslmode=require&password=pw") == (
        "postgresql://u@[::1]:5433/db?sslmode=require&password=***"
    )
    assert redacted("postgresql://u@h/db") == "postgresql://u@h/db"
    assert scrubbed('invalid percent-encoded token: "p%zz"', "postgresql://u:p%zz@h/db") == (
        'invalid percent-encoded token: "***"'
    )
    assert scrubbed("PostgreSQL: failed", "postgresql://u:p@h/db") == "PostgreSQL: failed"


def _run(tmp_path: Path, store: str, *args: str) -> Result:
    embedder = HashingEmbedder()
    return CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "data"), "--store", store, *args],
        obj={"embedder_factory": lambda: embedder},
    )


def test_a_malformed_store_url_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = _run(tmp_path, f"postgresql://u:{SECRET}@[::1/db", "index", "stats")
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and SECRET not in result.output
    assert "--store" in result.output and "not a valid URL" in result.output


def _with_password(url: str) -> str:
    return url + ("&" if "?" in url else "?") + f"password={SECRET}"


def test_no_store_output_shows_a_query_password(tmp_path: Path, pg_url: str) -> None:
    store = _with_password(pg_url)  # the throwaway server trusts local users: the password is unused
    empty = _run(tmp_path, store, "index", "stats")
    assert empty.exit_code == 1 and "no index in" in empty.output
    assert SECRET not in empty.output
    asked = _run(tmp_path, store, "ask", "Which airbase was targeted?")
    assert asked.exit_code == 0, asked.output
    assert "No index in" in asked.output and SECRET not in asked.output
    stats = _run(tmp_path, store, "index", "stats")
    assert stats.exit_code == 0 and "store" in stats.output
    assert SECRET not in stats.output
    embedder = HashingEmbedder()
    lib = Library(PgHome(store), lambda: embedder, model_name=embedder.name)
    try:
        shown = Backend(lib, QuestionAnswerer(Searcher(lib)), k=3, lock_timeout=1.0).stats()
        assert SECRET not in repr(shown) and "password=***" in shown.data_dir
    finally:
        lib.close()
