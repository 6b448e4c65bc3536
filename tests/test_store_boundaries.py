"""The stores keep their SQL and their engines to themselves: no SQL outside the store modules (README,
"How it works"), and no front end or folder outside storage/ asks which engine or home it has (an
`isinstance` on a store or a home): each home opens its own store and lease, each store is an
`IndexStore` (index/storage/indexstore.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = [p for folder in ("index", "bot", "newsqa") for p in (ROOT / folder).rglob("*.py")]
#: the store modules: the index's engines and what they stand on, and the bot's own tables
STORE_MODULES = {
    "index/storage/sqlstore.py",
    "index/storage/store.py",
    "index/storage/pgstore.py",
    "index/storage/pgconn.py",
    "index/storage/migrations.py",
    "index/storage/lease.py",
    "index/storage/rebuild.py",
    "index/storage/pgsnapshot.py",  # FAISS snapshots as rows of the PostgreSQL store
    "bot/chatstore.py",
    # `dev bench --replica-start` pads a PostgreSQL database to 10M sentences with COPY: the store's own
    # writes (BM25 postings per sentence) would take hours
    "newsqa/benchmark/replicastart.py",
}
SQL = re.compile(r"\b(SELECT\s+[\w*(]|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE)")
ENGINES = {"Store", "SqliteStore", "PgStore", "SqlStore", "DataDir", "PgHome"}


def strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_sql_outside_the_store_modules() -> None:
    found = sorted(
        str(p.relative_to(ROOT))
        for p in CODE
        if str(p.relative_to(ROOT)) not in STORE_MODULES and any(SQL.search(s) for s in strings(p))
    )
    assert found == [], f"SQL outside the store modules: {found}"


def test_the_check_sees_sql(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text('q = "SELECT key FROM feed_state_seen WHERE url = ?"\n')
    assert any(SQL.search(s) for s in strings(tmp_path / "m.py"))


def test_no_isinstance_on_a_store_or_home_outside_storage() -> None:
    asked = []
    for path in CODE:
        if path.is_relative_to(ROOT / "index" / "storage"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
                kinds = ast.unparse(node.args[1]) if len(node.args) > 1 else ""
                if set(re.findall(r"\w+", kinds)) & ENGINES:
                    asked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert asked == [], f"isinstance on a store or home outside storage/: {asked}"
