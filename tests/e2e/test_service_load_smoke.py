"""The service load test of `make bench` (bench/service_load.py), briefly on SQLite, so that it
cannot rot. No timing is asserted: only that every figure is produced, no request failed and
the invariants were checked and hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_service_load_test_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    args = ["--clients", "2", "--seconds", "2", "--databases", "sqlite", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.service_load", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(out.read_text())["sqlite"]
    assert result["errors"] == 0 and result["commands"]["count"] > 0
    assert result["invariants"] == {
        "each_accepted_once": True,
        "chain_verifies": True,
        "read_models_at_head": True,
        "ok": True,
    }
    assert {"per_second", "p50_ms", "p99_ms"} <= set(result["raw_insert_commit"])
    assert "| sqlite | 2 | 1 |" in done.stdout
