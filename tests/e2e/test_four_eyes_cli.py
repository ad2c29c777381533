"""Four eyes on money, as finance meets it on the command line (issue 15): an instruction is
approved by a second person, never by whoever instructed it; a bank payment nobody approved is
kept and flagged; approval in bulk with a preview; only approved instructions go to the bank."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

from ledger.ids import make_credit_code
from tests.e2e.test_cli import SETUP, SUPPLIER, write_jsonl
from tests.e2e.test_trust import run

WANG = ["--actor", "wang.finance"]
# A second listed supplier whose registered name a spreadsheet would run as a formula.
SUPPLIER2 = make_credit_code("91510100MA7000002")
FORMULA_NAME = "=HYPERLINK(1)算力"
EVIDENCE = {"contract": "C", "payment-proof": "P", "invoice": "I", "service-proof": "S"}


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def reimbursed(
    invoice: str, bill: str, supplier: str, service: str, day: str
) -> list[dict[str, Any]]:
    """A bill on the tour's voucher, claimed and reimbursed on ``day`` of April 2025."""
    return [
        {
            "command": "redeem",
            "voucher": "CD-2025-INC-0001",
            "supplier": supplier,
            "bill_amount": bill,
            "invoice_number": invoice,
            "service_kind": "compute",
            "service_date": service,
            "at": f"{service}T18:00:00+08:00",
        },
        {
            "command": "claim-reimbursement",
            "supplier": supplier,
            "invoice_number": invoice,
            "evidence": EVIDENCE,
            "at": "2025-04-01T10:00:00+08:00",
        },
        {
            "command": "reimburse",
            "supplier": supplier,
            "invoice_number": invoice,
            "at": f"2025-04-{day}T10:00:00+08:00",
        },
    ]


def payments(db: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(ok(run(db, "payments", "--format", "json")).stdout)["rows"]
    return {r["payee_name"] + " " + r["amount"]: r for r in rows}


def test_four_eyes_on_the_command_line(db_url: str, tmp_path: Path) -> None:
    db = db_url
    setup: list[dict[str, Any]] = [
        *SETUP[:2],
        {
            "command": "register-supplier",
            "credit_code": SUPPLIER2,
            "name": FORMULA_NAME,
            "kind": "data-centre",
            "city": "Chengdu",
            "at": "2025-03-01T09:00:00+08:00",
        },
        *[
            {**line, "suppliers": [SUPPLIER, SUPPLIER2]}
            if line["command"] == "publish-supplier-list"
            else line
            for line in SETUP[2:]
        ],
        *reimbursed("INV-1", "8000.00", SUPPLIER, "2025-03-10", "15"),
        *reimbursed("INV-2", "2000.00", SUPPLIER, "2025-03-11", "16"),
        *reimbursed("INV-3", "2000.00", SUPPLIER2, "2025-03-12", "25"),
    ]
    # The clerk at this keyboard instructs every payment.
    ok(run(db, "run", str(write_jsonl(tmp_path / "year.jsonl", *setup))))
    found = payments(db)
    first = found["成都智算中心 4000.00"]["reference"]
    second = found["成都智算中心 1000.00"]["reference"]
    third = found[FORMULA_NAME + " 1000.00"]["reference"]

    # 1. Whoever instructed a payment may not approve it: refused by name, and recorded.
    own = run(db, "approve-payment", "--payment", first, "--at", "2025-04-16T09:00:00+08:00")
    assert own.returncode == 1 and "approver-is-instructor" in own.stderr
    refusals = json.loads(ok(run(db, "audit", "refusals", "--format", "json")).stdout)["rows"]
    assert [r["code"] for r in refusals] == ["approver-is-instructor"]

    # 2. The bank pays the first though nobody approved it: recorded, and an exception opens.
    ok(
        run(
            db,
            *WANG,
            "record-settlement",
            "--payment",
            first,
            "--amount",
            "4000.00",
            "--bank-reference",
            "ICBC-0001",
            "--value-date",
            "2025-04-18",
            "--at",
            "2025-04-19T09:00:00+08:00",
        )
    )
    assert payments(db)["成都智算中心 4000.00"]["status"] == "settled"
    exceptions = json.loads(
        ok(run(db, "finance", "exceptions", "--on", "2025-04-30", "--format", "json")).stdout
    )["rows"]
    assert [(e["kind"], e["payment_reference"]) for e in exceptions] == [
        ("settled-unapproved", first)
    ]

    # 3. What may wang approve? A preview stores nothing.
    approvable = json.loads(ok(run(db, *WANG, "finance", "approvable", "--format", "json")).stdout)[
        "rows"
    ]
    assert {(r["reference"], r["approvable"]) for r in approvable} == {
        (second, "yes"),
        (third, "yes"),
    }
    mine = json.loads(ok(run(db, "finance", "approvable", "--format", "json")).stdout)["rows"]
    assert {r["approvable"] for r in mine} == {"no: own instruction"}
    bulk = ["approve-payments", "--programme", "CD-2025", "--up-to", "2025-04-20"]
    at = ["--at", "2025-04-26T09:00:00+08:00"]
    preview = ok(run(db, *WANG, *bulk, "--preview", "yes", *at))
    assert "Preview: nothing stored" in preview.stdout
    assert second in preview.stdout and third not in preview.stdout
    assert "would approve 1" in preview.stdout
    assert not any(p["approved"] for p in payments(db).values())
    # The instructor's own bulk approval approves nothing and says why.
    skipped = ok(run(db, *bulk, "--note", "mine", *at))
    assert "approved 0; skipped 1" in skipped.stdout and "approver-is-instructor" in skipped.stdout
    done = ok(run(db, *WANG, *bulk, "--note", "April reviewed", *at))
    assert "approved 1; skipped 0" in done.stdout and second in done.stdout
    approved = {p["reference"]: p["approved"] for p in payments(db).values()}
    assert approved == {first: 0, second: 1, third: 0}

    # 4. The bank file holds only the approved, unpaid instruction.
    out = tmp_path / "to-bank.csv"
    wrote = ok(
        run(db, *WANG, "finance", "payment-file", "--programme", "CD-2025", "--output", str(out))
    )
    assert "wrote 1 approved payments" in wrote.stdout
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["付款参考号"], r["收款人名称"], r["金额"]) for r in rows] == [
        (second, "成都智算中心", "1000.00")
    ]
    assert set(rows[0]) >= {"收款人名称", "收款账号", "金额", "用途", "付款参考号"}

    # Approved by a second person, the formula-named supplier's payment joins the file, its
    # name neutralised so a spreadsheet shows it as text.
    ok(run(db, *WANG, "approve-payment", "--payment", third, "--at", "2025-04-26T10:00:00+08:00"))
    printed = ok(run(db, "finance", "payment-file"))
    assert printed.stdout.startswith("\ufeff")
    names = [r["收款人名称"] for r in csv.DictReader(io.StringIO(printed.stdout.lstrip("\ufeff")))]
    assert names == ["成都智算中心", "'" + FORMULA_NAME]
