"""Every example line in docs/commands.md is accepted, run in a sensible order."""

from __future__ import annotations

import io
import json
from itertools import groupby
from pathlib import Path
from typing import Any

from commands.batch import run_batch
from commands.wiring import Ledger
from ledger.vocabulary import DECLARATIONS
from tests.scenario import at

ORDER = [
    # Qingdao's 2024 year first: the ledger's clock follows the story, and 2024 is long past
    # once Chengdu's 2025 has been told.
    "submit-operator-claim",
    "district-pre-review",
    "city-review",
    "city-re-review",
    "allocate-operator-subsidy",
    "open-programme",
    "register-supplier",
    "register-applicant",
    "publish-supplier-list",
    "apply-inclusive",
    "redeem",
    "claim-reimbursement",
    "reimburse",
    "approve-payment",
    "approve-payments",
    "record-settlement",
    "open-case",
    "record-fraud-finding",
    "demand-clawback",
    "record-repayment",
    "write-off",
    "lift-debarment",
    "offset-clawback",
    "cancel-payment",
    "resolve-exception",
    "record-credit-listing",
    "end-credit-listing",
    "apply-special",
    "rank-special",
    "review-special",
    "publish-special-plan",
    "raise-objection",
    "resolve-objection",
    "finalise-special",
    "expire-vouchers",
    "apply-supplier-subsidy",
    "plan-supplier-subsidy",
    "publish-supplier-subsidy-plan",
    "finalise-supplier-subsidy",
    "certify-green-data-centre",
    "import-statement",
    "reconcile",
    # Last: the affiliation would have blocked the redemption example.
    "record-affiliation",
    # Roles after everything: once granted, only the granted identities may act.
    "grant-role",
    "issue-api-token",
    "revoke-api-token",
    "close-period",
    "reopen-period",
    "revoke-role",
]


def _identity(line: dict[str, Any]) -> str:
    return "wang.finance" if line["command"] in ("approve-payment", "approve-payments") else "docs"


def example_lines() -> list[dict[str, Any]]:
    """Every documented example, with the few lines they need before them, in an order that
    runs (also run over HTTP by tests/e2e/test_service_e2e.py)."""
    examples = {name: {"command": name, **d.example} for name, d in DECLARATIONS.items()}
    lines = [examples[n] for n in ORDER]
    # The special-round examples are about a second applicant, registered here.
    special = examples["apply-special"]["applicant"]
    lines.insert(1, {**examples["register-applicant"], "credit_code": special, "name": "其他"})
    # The offset example needs a later payment to the supplier once its bar is lifted: a
    # second bill for the service of 2025-06-20, redeemed, claimed and reimbursed in August.
    second = {"invoice_number": "INV-2025-000124"}
    later = [
        {
            **examples["redeem"],
            **second,
            "service_date": "2025-06-20",
            "at": "2025-08-06T10:00:00+08:00",
        },
        {**examples["claim-reimbursement"], **second, "at": "2025-08-10T10:00:00+08:00"},
        {**examples["reimburse"], **second, "at": "2025-08-20T10:00:00+08:00"},
    ]
    offset_at = lines.index(examples["offset-clawback"])
    lines[offset_at:offset_at] = later
    # The cancellation example cancels the reimbursement of a third bill.
    third = {"invoice_number": "INV-2025-000125"}
    cancel_at = lines.index(examples["cancel-payment"])
    lines[cancel_at:cancel_at] = [
        {
            **examples["redeem"],
            **third,
            "service_date": "2025-06-21",
            "bill_amount": "1000.00",
            "at": "2025-09-05T10:00:00+08:00",
        },
        {**examples["claim-reimbursement"], **third, "at": "2025-09-06T10:00:00+08:00"},
        {**examples["reimburse"], **third, "at": "2025-09-07T10:00:00+08:00"},
    ]
    # The Qingdao examples need their programme open and their operator registered.
    claim_at = lines.index(examples["submit-operator-claim"])
    lines[claim_at:claim_at] = [
        {
            **examples["open-programme"],
            "policy": "qingdao",
            "year": 2024,
            "at": "2024-01-02T09:00:00+08:00",
        },
        {
            **examples["register-supplier"],
            "credit_code": examples["submit-operator-claim"]["operator"],
            "city": "Qingdao AI industrial park",
            "name": "青岛算力中心",
            "at": "2024-01-03T09:00:00+08:00",
        },
    ]
    # The re-review example excludes a second operator, approved and then blacklisted.
    late = examples["city-re-review"]["operator"]
    register_at = lines.index(examples["submit-operator-claim"])
    lines.insert(
        register_at,
        {**lines[register_at - 1], "credit_code": late, "at": "2024-01-03T09:30:00+08:00"},
    )
    for name, at_ in (
        ("submit-operator-claim", "2024-01-23T11:00:00+08:00"),
        ("district-pre-review", "2024-02-01T11:00:00+08:00"),
        ("city-review", "2024-03-05T11:00:00+08:00"),
    ):
        after = lines.index(examples[name]) + 1
        step = {**examples[name], "operator": late, "at": at_}
        if name == "submit-operator-claim":
            step["lines"] = [{**step["lines"][0], "contract_number": "HT-2023-0092"}]
        lines.insert(after, step)
    lines.insert(
        lines.index(examples["city-re-review"]),
        {
            **examples["record-credit-listing"],
            "entity": late,
            "reference": "QD-SAFE-2024-007",
            "kind": "safety-production-blacklist",
            "source": "青岛市应急管理局 安全生产黑名单",
            "listed_from": "2024-03-10",
            "at": "2024-03-10T10:00:00+08:00",
        },
    )
    # The supplier round of 2026 needs its programme open.
    next_year = lines.index(examples["apply-supplier-subsidy"])
    lines.insert(
        next_year, {**examples["open-programme"], "year": 2026, "at": "2026-01-02T09:00:00+08:00"}
    )
    # The green award goes to a supplier on the list of the award's half-year (§六(一)).
    lines.insert(
        next_year + 1,
        {
            **examples["publish-supplier-list"],
            "programme": "CD-2026",
            "period": "2026H1",
            "at": "2026-01-05T09:00:00+08:00",
        },
    )
    # The first grant makes the batch's own identity the administrator, so the grant and revoke
    # examples are allowed.
    grant_at = lines.index(examples["grant-role"])
    lines.insert(
        grant_at,
        {
            "command": "grant-role",
            "identity": "docs",
            "role": "administrator",
            "at": examples["grant-role"]["at"],
        },
    )
    return lines


def test_the_documented_examples_run_as_a_batch(ledger: Ledger, tmp_path: Path) -> None:
    assert sorted(ORDER) == sorted(DECLARATIONS)
    examples = {name: {"command": name, **d.example} for name, d in DECLARATIONS.items()}
    lines = example_lines()
    # Four eyes: the approvals are a second person's; everything else is the clerk's batch.
    results: list[dict[str, Any]] = []
    codes = []
    for chunk, (identity, group) in enumerate(groupby(lines, key=_identity)):
        batch = list(group)
        source = tmp_path / f"examples-{chunk}.jsonl"
        source.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in batch))
        out = io.StringIO()
        codes.append(run_batch(ledger, source, out, identity=identity, now=lambda: at().at))
        results += [
            {**r, "line": r["line"] + len(results)}
            for r in (json.loads(text) for text in out.getvalue().splitlines())
        ]
    code = max(codes)
    # An exception exists only after a reconciliation (a finance CLI step, not a batch
    # command): the example is well-formed and refused by name.
    resolve_at = lines.index(examples["resolve-exception"]) + 1
    refused = [r for r in results if not r["ok"]]
    assert refused == [
        {
            "line": resolve_at,
            "ok": False,
            "error": "unknown-exception",
            "message": "no reconciliation exception EX-0123456789AB",
        }
    ]
    assert code == 1
    preview = lines.index(examples["approve-payments"]) + 1
    assert [r["line"] for r in results if r["ok"] and not r["events"]] == [preview]
