"""``voucher-ledger demo --programme qingdao``: the 2024 Qingdao compute-centre operation
subsidy (QD-1…QD-8) on a fresh SQLite ledger — claims with audited lines, exclusions, a
blacklisted operator, reviews, an operator blacklisted after the city review and excluded by a
re-review, and a pro-rata allocation split between city and district."""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from commands import render as r
from commands.batch import run_batch
from commands.wiring import open_ledger
from ledger.clock import PROGRAMME_TZ
from ledger.ids import make_credit_code
from projections import reports

PROGRAMME = "QD-2024"
PARK = "Qingdao AI industrial park"
# Issue 16 item 14 (QD-7): the operator approved by the city and blacklisted afterwards.
LATE_LISTED = make_credit_code("91370200MA3C00006")


def _at(day: date, minute: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, 10, 0, tzinfo=PROGRAMME_TZ)
    return (moment + timedelta(minutes=minute)).isoformat()


def _line(n: int, amount: str, **changes: Any) -> dict[str, Any]:
    line = {
        "customer": make_credit_code(f"91370212MA3D{n:05d}"),
        "customer_in_area": True,
        "contract_number": f"HT-2023-{n:04d}",
        "amount": amount,
        "service_from": "2023-03-01",
        "service_to": "2023-11-30",
        "invoice": f"FP-2023-{n:04d}",
        "bank_receipt": f"BR-2023-{n:04d}",
    }
    return {**line, **changes}


def qingdao_commands() -> list[dict[str, Any]]:
    ops = [make_credit_code(f"91370200MA3C{n:05d}") for n in range(1, 6)] + [LATE_LISTED]
    c: list[dict[str, Any]] = [
        {
            "command": "open-programme",
            "policy": "qingdao",
            "year": 2024,
            "at": _at(date(2024, 1, 2)),
        },
    ]
    for n, code in enumerate(ops, start=1):
        c.append(
            {
                "command": "register-supplier",
                "credit_code": code,
                "name": f"青岛人工智能算力中心{n}号",
                "kind": "data-centre",
                "city": PARK if n != 5 else "Qingdao",
                "bank_account": f"3803 0210 0900 {n:04d}",
                "at": _at(date(2024, 1, 3), n),
            }
        )
    c.append(
        {
            "command": "record-credit-listing",
            "entity": ops[3],
            "reference": "QD-ENV-2023-118",
            "kind": "environmental-credit-blacklist",
            "source": "青岛市生态环境局 环境信用黑名单",
            "listed_from": "2023-06-01",
            "at": _at(date(2024, 1, 10)),
        }
    )
    claim = {"command": "submit-operator-claim", "programme": PROGRAMME}
    # Entitlements (50%): 12,000,000 + 10,000,000 + 8,000,000 = 30,000,000 > the 20,000,000 pool.
    c += [
        {
            **claim,
            "operator": ops[0],
            "audit_report": "青审专字(2024)第011号",
            "lines": [
                _line(1, "14000000.00"),
                _line(2, "10000000.00"),
                # a Jinan customer: its credit code's division is 370102, not Qingdao's 3702 (QD-2)
                _line(3, "800000.00", customer=make_credit_code("91370102MA3D00003")),
                _line(4, "500000.00", service_from="2024-01-02", service_to="2024-01-20"),
            ],
            "at": _at(date(2024, 1, 22)),
        },
        {
            **claim,
            "operator": ops[1],
            "audit_report": "青审专字(2024)第015号",
            "lines": [_line(5, "20000000.00"), _line(6, "300000.00", funded_elsewhere=True)],
            "at": _at(date(2024, 1, 24)),
        },
        {
            **claim,
            "operator": ops[2],
            "audit_report": "青审专字(2024)第021号",
            "lines": [
                _line(7, "16000000.00"),
                _line(2, "10000000.00"),
            ],  # operator 1's contract again (QD-8)
            "at": _at(date(2024, 1, 26)),
        },
        {
            **claim,
            "operator": ops[3],
            "audit_report": "青审专字(2024)第030号",
            "lines": [_line(8, "6000000.00")],
            "at": _at(date(2024, 1, 27)),
        },
        {
            **claim,
            "operator": ops[4],
            "audit_report": "青审专字(2024)第031号",
            "lines": [_line(9, "1000000.00")],
            "at": _at(date(2024, 1, 28)),
        },  # outside the park
        {
            **claim,
            "operator": ops[0],
            "audit_report": "late",
            "lines": [_line(10, "1000.00")],
            "at": _at(date(2024, 1, 30)),
        },  # after the window
    ]
    review = {"programme": PROGRAMME}
    for n, code in enumerate(ops[:3]):
        c.append(
            {
                "command": "district-pre-review",
                **review,
                "operator": code,
                "outcome": "pass",
                "green_threshold_met": True,
                "reason": "no listing; green threshold met",
                "at": _at(date(2024, 2, 1), n),
            }
        )
    c += [
        {
            "command": "district-pre-review",
            **review,
            "operator": ops[3],
            "outcome": "pass",
            "green_threshold_met": True,
            "reason": "submitted for pass",
            "at": _at(date(2024, 2, 1), 5),
        },  # refused: on the environmental-credit blacklist
        {
            "command": "district-pre-review",
            **review,
            "operator": ops[3],
            "outcome": "fail",
            "green_threshold_met": True,
            "reason": "on the environmental-credit blacklist (QD-7)",
            "at": _at(date(2024, 2, 1), 6),
        },
    ]
    for n, code in enumerate(ops[:3]):
        c.append(
            {
                "command": "city-review",
                **review,
                "operator": code,
                "outcome": "pass",
                "assessment": f"专家评审意见 2024-03-{n + 1:02d}",
                "reason": "contracts, invoices and receipts verified",
                "at": _at(date(2024, 3, 5), n),
            }
        )
    c += late_listing_commands(claim, review)
    c.append({"command": "allocate-operator-subsidy", **review, "at": _at(date(2024, 3, 20))})
    return sorted(c, key=lambda command: str(command["at"]))  # business-time order


# ---- issue 16 item 14: blacklisted after the city review (QD-7) ------------------------------
def late_listing_commands(claim: dict[str, Any], review: dict[str, Any]) -> list[dict[str, Any]]:
    """Operator 6 (a 4,000,000 contract) passes both reviews; on 2024-03-10 it is put on the
    safety-production blacklist. The allocation is refused until the city re-reviews it and
    excludes it — 「取消政策性资金扶持」 — and then goes to the other three alone."""
    return [
        {
            **claim,
            "operator": LATE_LISTED,
            "audit_report": "青审专字(2024)第033号",
            "lines": [_line(11, "4000000.00")],
            "at": _at(date(2024, 1, 28), 30),
        },
        {
            "command": "district-pre-review",
            **review,
            "operator": LATE_LISTED,
            "outcome": "pass",
            "green_threshold_met": True,
            "reason": "no listing; green threshold met",
            "at": _at(date(2024, 2, 1), 10),
        },
        {
            "command": "city-review",
            **review,
            "operator": LATE_LISTED,
            "outcome": "pass",
            "assessment": "专家评审意见 2024-03-06",
            "reason": "contracts, invoices and receipts verified",
            "at": _at(date(2024, 3, 6)),
        },
        {
            "command": "record-credit-listing",
            "entity": LATE_LISTED,
            "reference": "QD-SAFE-2024-007",
            "kind": "safety-production-blacklist",
            "source": "青岛市应急管理局 安全生产黑名单",
            "listed_from": "2024-03-10",
            "at": _at(date(2024, 3, 10)),
        },
        # refused (re-review-required): the pool is not shared while an approved claim is listed
        {"command": "allocate-operator-subsidy", **review, "at": _at(date(2024, 3, 15))},
        {
            "command": "city-re-review",
            **review,
            "operator": LATE_LISTED,
            "ground": "blacklist",
            "assessment": "复核意见 2024-03-18",
            "reason": "on the safety-production blacklist since 2024-03-10 (QD-7)",
            "at": _at(date(2024, 3, 18)),
        },
    ]


def _print_late_listing(commands: list[dict[str, Any]], results: list[Any], out: TextIO) -> None:
    out.write(
        "\n---- Issue 16 item 14: blacklisted after the city review (QD-7) ----\n"
        f"  operator {LATE_LISTED}: 「取消政策性资金扶持」\n"
    )
    for c, res in zip(commands, results, strict=True):
        concerns = LATE_LISTED in (c.get("operator"), c.get("entity"))
        if concerns or c["command"] == "allocate-operator-subsidy":
            outcome = "accepted" if res["ok"] else res["error"]
            out.write(f"  {c['at'][:10]}  {c['command']:<26} {outcome}\n")
    out.write("---- end of item 14 ----\n")


def run_qingdao_demo(db: Path, out: TextIO) -> int:
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    commands = qingdao_commands()
    ledger = open_ledger(str(db), simulated_if_new=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "qingdao.jsonl"
            source.write_text(
                "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands),
                encoding="utf-8",
            )
            buffer = io.StringIO()
            run_batch(
                ledger,
                source,
                buffer,
                identity="demo-qingdao",
                now=lambda: datetime(2024, 1, 1, tzinfo=PROGRAMME_TZ),
            )
        results = [json.loads(line) for line in buffer.getvalue().splitlines()]
        out.write(
            f"Demo: the {PROGRAMME} compute-centre operation subsidy, "
            f"{len(commands)} commands\n\nOutcomes (command, result, count):\n"
        )
        outcomes = Counter(
            (c["command"], "accepted" if res["ok"] else res["error"])
            for c, res in zip(commands, results, strict=True)
        )
        for (name, outcome), count in sorted(outcomes.items()):
            out.write(f"  {name:<26} {outcome:<30} {count:>3}\n")
        _print_late_listing(commands, results, out)
        for report in (
            reports.operator_allocation(ledger.store, PROGRAMME),
            reports.budget_use(ledger.store),
            reports.payment_instructions(ledger.store, PROGRAMME),
        ):
            out.write("\n")
            r.render_table(report, out)
    finally:
        ledger.close()
    first = make_credit_code("91370200MA3C00001")
    out.write(f"\nLedger: {db}. Try: voucher-ledger --db {db} explain {first}\n")
    return 0
