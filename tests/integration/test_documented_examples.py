"""Every example line in docs/commands.md is accepted, run in the order documented."""

from __future__ import annotations

import io
import json
from pathlib import Path

from commands.batch import run_batch
from commands.catalogue import CATALOGUE
from commands.wiring import Ledger
from tests.scenario import at


def test_the_documented_examples_run_as_a_batch(ledger: Ledger, tmp_path: Path) -> None:
    order = [
        "open-programme",
        "register-supplier",
        "register-applicant",
        "record-affiliation",
        "publish-supplier-list",
        "apply-inclusive",
        "redeem",
        "claim-reimbursement",
        "reimburse",
        "expire-vouchers",
    ]
    assert sorted(order) == sorted(s.name for s in CATALOGUE)
    examples = {s.name: {"command": s.name, **s.example} for s in CATALOGUE}
    # The affiliation example would block the redemption example; record it after.
    lines = [examples[n] for n in order if n != "record-affiliation"]
    lines.append(examples["record-affiliation"])
    source = tmp_path / "examples.jsonl"
    source.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    out = io.StringIO()
    code = run_batch(ledger, source, out, default_actor="docs", now=lambda: at().at)
    results = [json.loads(r) for r in out.getvalue().splitlines()]
    assert code == 0, results
    assert all(r["ok"] and r["events"] for r in results)
