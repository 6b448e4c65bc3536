"""Two processes opening a fresh data directory at once: the schema is created exactly once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from legacy_schema import MAIN_MIGRATIONS

from newsqa.index.storage.store import MIGRATIONS, Store

OPEN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from newsqa.index.storage.store import Store
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    Store(Path(sys.argv[1])).close()
    """
)


def test_two_processes_migrating_a_fresh_database_never_collide(tmp_path: Path) -> None:
    import time

    for round_ in range(8):
        path = tmp_path / f"r{round_}" / "newsqa.sqlite"
        path.parent.mkdir()
        start = str(time.time() + 0.4)  # both start migrating at the same instant
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, str(path), start], stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.strip().splitlines()[-1]
        store = Store(path)
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        store.close()


def test_an_upgrade_waits_for_one_running_elsewhere_and_reads_the_version_it_left(tmp_path: Path) -> None:
    import threading
    import time

    from newsqa.index.storage.store import connect

    path = tmp_path / "newsqa.sqlite"
    conn = connect(path)
    for number, script in enumerate(MAIN_MIGRATIONS[:4], start=1):  # the schema of an older newsqa
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    conn.close()
    other = connect(path)
    other.execute("BEGIN IMMEDIATE")  # another process has begun upgrading
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(path).close()
        except BaseException as exc:
            errors.append(exc)

    opener = threading.Thread(target=open_store)
    opener.start()
    time.sleep(0.3)  # the opener is waiting for the upgrade (before the fix: has read version 4 already)
    for migration in MIGRATIONS[4:]:  # ... and finishes it
        for statement in split(migration.sql):
            other.execute(statement)
        other.execute(f"PRAGMA user_version={migration.number}")
    other.execute("COMMIT")
    other.close()
    opener.join()
    assert not errors, errors
    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    store.close()


def split(script: str) -> list[str]:
    """A script's statements, to run them inside a transaction this test holds."""
    out, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                out.append(buffer)
            buffer = ""
    return out
