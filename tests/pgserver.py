"""A throwaway PostgreSQL cluster owned by the test run: the PostgreSQL store is tested against a real server.

    cluster = PgCluster()
    cluster.start()                  # initdb in a temp dir, pg_ctl start -w on 127.0.0.1:<free port>
    url = cluster.create_database()  # postgresql://postgres@127.0.0.1:PORT/t_<unique>
    cluster.halt(); cluster.resume() # an outage: stopped and started again, its data kept
    cluster.stop()                   # pg_ctl stop -m immediate, the temp dir removed

Nothing is shared with a system cluster: its own data directory, port and socket directory, trust
authentication, no fsync (a crash loses nothing a test needs). initdb refuses to run as root, so as root
the binaries run as the `postgres` user (Debian's package creates it) and the temp dir is handed to it.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import pytest

REQUIRE_ENV = "NEWSQA_REQUIRE_POSTGRES"  # "1" (CI): missing PostgreSQL fails the tests instead of skipping
SERVER_USER = "postgres"  # the OS user the binaries run as when we are root
BINARIES = ("initdb", "pg_ctl", "postgres")


def find_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres live: `pg_config --bindir`, else Debian's newest versioned dir.

    Debian's /usr/bin/pg_config comes with libpq-dev and may name a version whose server is not installed,
    so a directory counts only when it holds all the binaries.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versioned = (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin"))
    candidates += sorted(versioned, key=lambda p: _version_key(p.parent.name), reverse=True)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in BINARIES):
            return bindir
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def missing() -> str | None:
    """Why no cluster can be started here (None: it can): the reason a skipped test shows."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin): "
            "install Debian's postgresql-15 (.ci/run does)"
        )
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg (psycopg 3) is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser (util-linux) is missing"
    return None


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when NEWSQA_REQUIRE_POSTGRES=1: CI never silently skips this tier."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 requires the PostgreSQL tests to run)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port nobody listens on right now (the kernel's pick; start() retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One initdb'ed, running cluster in a temp dir; `postgres` is its trusted superuser."""

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise RuntimeError(missing() or "PostgreSQL binaries not found")
        self.bindir = found
        self.as_root = os.geteuid() == 0
        self.dir: Path | None = None
        self.port = 0

    @property
    def datadir(self) -> Path:
        assert self.dir is not None, "PgCluster not started"
        return self.dir / "data"

    @property
    def logfile(self) -> Path:
        assert self.dir is not None, "PgCluster not started"
        return self.dir / "server.log"

    def start(self, attempts: int = 3) -> PgCluster:
        """initdb and start; a port taken between free_port() and the server's bind gets another try."""
        self.dir = Path(tempfile.mkdtemp(prefix="newsqa-pg-", dir=self._tmp_base()))
        try:
            if self.as_root:
                pw = pwd.getpwnam(SERVER_USER)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._run(
                "initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "--no-sync",
                "-E", "UTF8", "--locale=C",
            )  # fmt: skip
            with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
                conf.write(
                    "\n# tests/pgserver.py: a throwaway cluster\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    "max_connections = 200\n"
                )
            for attempt in range(attempts):
                self.port = free_port()
                try:
                    self._run(
                        "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.logfile),
                        "-o", f"-p {self.port}",
                    )  # fmt: skip
                    return self
                except RuntimeError:
                    if attempt == attempts - 1:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def halt(self) -> None:
        """Stop the server but keep its data (an outage): `resume` starts it again on the same port."""
        self._run("pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", str(self.datadir))

    def resume(self) -> None:
        """Start a halted server again, with its data, on its port."""
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.logfile),
            "-o", f"-p {self.port}",
        )  # fmt: skip

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A fresh, uniquely named, empty database: its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database, closing any connection a test left open."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop at once (nothing to keep) and remove the directory; safe to call twice."""
        if self.dir is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already gone
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.datadir))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> PgCluster:
        return self.start() if self.dir is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, binary: str, *args: str) -> None:
        cmd = [str(self.bindir / binary), *args]
        if self.as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no PGDATA/PGPORT leaking in
        proc = subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = ""
            if self.dir is not None and self.logfile.exists():
                log = "\n--- server.log ---\n" + self.logfile.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}{log}".rstrip()
            )

    def _tmp_base(self) -> str | None:
        """As root the postgres user must reach the temp dir: a TMPDIR under /root would not do."""
        base = Path(tempfile.gettempdir())
        if not self.as_root:
            return None
        for parent in (base, *base.parents):
            if not parent.stat().st_mode & stat.S_IXOTH:
                return "/tmp"
        return str(base)
