"""The benchmark harness at 1,000 events on both databases, so it cannot rot. Timings are
never asserted here (they belong to `make bench`): only that every figure was produced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.pgserver import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_the_bench_harness_writes_every_figure_at_1000_events(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    out = tmp_path / "performance.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--sizes",
            "500,1000",
            "--out",
            str(out),
            "--postgres-admin",
            pg_server.admin_url(),
            "--commits",
            "50",
            "--holders",
            "20",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    for section in ("## Machine and versions", "## SQLite", "## PostgreSQL", "## Targets"):
        assert section in text
    for figure in (
        "**raw** bulk insert",
        "**raw** ordered read",
        "**raw** single-row INSERT+COMMIT",
        "**library** read + decode",
        "`audit rebuild` (× library)",
        "`audit verify` (× raw read)",
        "`reports balances --as-of`",
        "`issue` command",
        "`redeem` command",
        "`reimburse` command",
        "`run` batch",
        "memory flat",
    ):
        assert text.count(figure) >= 1, figure
    assert "1,000 events" in text and "nan" not in text
    assert "history: 1,000 of 1,000 events" in done.stderr  # progress is shown
