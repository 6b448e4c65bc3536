"""`newsqa dev bench --quick`: the whole benchmark on a generated corpus with the fake embedder, so it keeps
working."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fakes import HashingEmbedder

from newsqa.cli import main


def test_quick_bench_prints_every_row(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    out = tmp_path / "rows.json"
    result = CliRunner().invoke(
        main,
        [
            "--data-dir",
            str(tmp_path / "unused"),
            "dev",
            "bench",
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--json",
            str(out),
            "--plot",
            str(tmp_path / "latency.png"),
            "--against",
            "sentence-transformers/all-MiniLM-L6-v2",  # the injected fake embeds for it too
        ],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    rows = json.loads(out.read_text())["rows"]
    timed = [name for r in rows for name, _, _ in r["latency"]]  # what --plot draws (tests/test_charts.py)
    assert sum(name.startswith("answer, ") for name in timed) == 2, timed  # the small and the large index
    assert (tmp_path / "latency.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    metrics = " ".join(r["section"] + ": " + r["metric"] for r in rows)
    for expected in (
        "Build: end to end",
        "Build: encoder alone",
        "Query: answer p50",
        "Recall: recall@10",
        "Incremental: add one article",
        "Memory: resident per million",
        "Disk: per million",
        "Start: `newsqa --help`",
        "Query:   this model / ",  # --against: a second index of the same articles, timed in turn
    ):
        assert expected in metrics, metrics
    large = next(r for r in rows if r["section"] == "Recall")
    assert "IVF" in large["metric"]  # the quick scale crosses the lowered exact threshold
    assert float(large["value"]) >= 0.9
    assert not (tmp_path / "unused").exists()  # the bench never touches the user's index
    for row in rows:  # loading vectors never shrinks a process; an index never has negative size
        if row["section"] in ("Memory", "Disk"):
            assert "-" not in row["value"].split("(")[-1], row


def test_quick_bench_on_a_store_compares_sqlite_and_postgresql(tmp_path: Path, pg_url: str) -> None:
    """`newsqa --store URL dev bench`: one table, a column per store, the follow row among them; the database
    then holds the corpus, so a second run refuses it without --reuse and measures it with."""
    embedder = HashingEmbedder()
    out = tmp_path / "rows.json"
    work = str(tmp_path / "work")
    args = ["--store", pg_url, "dev", "bench", "--quick", "--work", work, "--json", str(out)]
    result = CliRunner().invoke(
        main, args, obj={"embedder_factory": lambda: embedder}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    assert "| section | metric | SQLite data directory | PostgreSQL | goal |" in result.output
    stores = json.loads(out.read_text())["stores"]
    assert list(stores) == ["SQLite data directory", "PostgreSQL"]
    sqlite, pg = stores.values()
    assert [r["metric"] for r in sqlite] == [r["metric"] for r in pg]
    metrics = " ".join(r["section"] + ": " + r["metric"] for r in pg)
    for expected in (
        "Build: end to end",
        "Build: encoder alone",
        "Query: answer p50 / p95",
        "Incremental: add one article",
        "Follow: time until another process answers with a new article",
    ):
        assert expected in metrics, metrics
    built = [r for r in pg if r["metric"] == "sentences indexed"]
    assert built[0]["value"] == next(r for r in sqlite if r["metric"] == "sentences indexed")["value"]
    (follow_row,) = [r for r in pg if r["section"] == "Follow"]
    follow = [float(v.split()[0]) for v in follow_row["value"].split(",")]
    assert max(follow) < 5000  # ms: every article found by the other Library (generous: a loaded machine)
    assert (tmp_path / "work" / "stores-sqlite" / "manifest.json").exists()  # the SQLite side under --work

    again = CliRunner().invoke(main, args, obj={"embedder_factory": lambda: embedder})
    assert again.exit_code != 0 and "holds 150 articles" in again.output and "--reuse" in again.output
    reused = CliRunner().invoke(
        main, [*args, "--reuse"], obj={"embedder_factory": lambda: embedder}, catch_exceptions=False
    )
    assert reused.exit_code == 0, reused.output
    assert "reused (not measured)" in reused.output


def test_replica_start_bench_measures_both_starts(tmp_path: Path, pg_url: str) -> None:
    """`newsqa --store URL dev bench --replica-start`: a start from every vector and one from a snapshot
    at each size, in child processes; a database of real articles is refused."""
    embedder = HashingEmbedder()
    out = tmp_path / "start.json"
    args = ["--store", pg_url, "dev", "bench", "--replica-start", "1500,3000", "--tail", "40"]
    args += ["--full-read-up-to", "1500", "--json", str(out)]
    result = CliRunner().invoke(
        main, args, obj={"embedder_factory": lambda: embedder}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())["figures"]
    assert [f["sentences"] for f in figures] == [1540, 3040]
    assert figures[0]["full"]["vectors"] == 1500 and figures[1]["full"] is None  # above --full-read-up-to
    for f in figures:
        assert f["snapshot"]["from_snapshot"] and f["snapshot"]["vectors"] == f["sentences"]
    assert "snapshot + 40 changes replayed, 3,040 sentences (exact)" in result.output

    from newsqa.index.storage.library import Library
    from newsqa.index.storage.pghome import PgHome
    from newsqa.index.text.article import Article

    lib = Library(PgHome(pg_url), lambda: embedder, model_name=embedder.name)
    with lib.dir.writer_lock():
        lib.ingest([Article(id="real", title="Real", text="A real article about the harbour.")])
    lib.close()
    refused = CliRunner().invoke(main, args, obj={"embedder_factory": lambda: embedder})
    assert refused.exit_code == 1 and "articles the bench did not write" in refused.output
