"""Two processes opening a fresh data directory at once: the schema is created exactly once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from newsqa.index.store import MIGRATIONS, Store

OPEN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from newsqa.index.store import Store
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
