"""`newsqa bench --quick`: the whole benchmark on a generated corpus with the fake embedder, so it keeps
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
            "bench",
            "--quick",
            "--work",
            str(tmp_path / "work"),
            "--json",
            str(out),
        ],
        obj={"embedder_factory": lambda: embedder},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    rows = json.loads(out.read_text())["rows"]
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
    ):
        assert expected in metrics, metrics
    large = next(r for r in rows if r["section"] == "Recall")
    assert "IVF" in large["metric"]  # the quick scale crosses the lowered exact threshold
    assert float(large["value"]) >= 0.9
    assert not (tmp_path / "unused").exists()  # the bench never touches the user's index
    for row in rows:  # loading vectors never shrinks a process; an index never has negative size
        if row["section"] in ("Memory", "Disk"):
            assert "-" not in row["value"].split("(")[-1], row
