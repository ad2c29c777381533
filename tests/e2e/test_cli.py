"""The ``voucher-ledger`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.ids import make_credit_code

CLI = str(Path(sys.executable).with_name("voucher-ledger"))
SUPPLIER = make_credit_code("91510100MA7000001")
APPLICANT = make_credit_code("91510100MA6000001")
AT = "2025-03-01T09:00:00+08:00"


def cli(*args: str, db: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--db", db, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def write_jsonl(path: Path, *lines: object) -> Path:
    path.write_text(
        "".join(
            (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
            for line in lines
        ),
        encoding="utf-8",
    )
    return path


SETUP = [
    {
        "command": "open-programme",
        "policy": "chengdu",
        "year": 2025,
        "at": "2025-01-02T09:00:00+08:00",
    },
    {
        "command": "register-supplier",
        "credit_code": SUPPLIER,
        "name": "成都智算中心",
        "kind": "data-centre",
        "city": "Chengdu",
        "at": AT,
    },
    {
        "command": "register-applicant",
        "credit_code": APPLICANT,
        "name": "成都示例科技",
        "kind": "enterprise",
        "city": "Chengdu",
        "at": AT,
    },
    {
        "command": "publish-supplier-list",
        "programme": "CD-2025",
        "period": "2025H1",
        "suppliers": [SUPPLIER],
        "at": AT,
    },
    {"command": "apply-inclusive", "programme": "CD-2025", "applicant": APPLICANT, "at": AT},
]


def event_count(db: str) -> int:
    result = cli("balances", "--format", "json", db=db)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    return sum(1 + int(r["redemptions"]) for r in rows)


def test_the_five_minute_tour(tmp_path: Path) -> None:
    db = str(tmp_path / "tour.db")
    ok = cli(
        "open-programme",
        "--policy",
        "chengdu",
        "--year",
        "2025",
        "--at",
        "2025-01-02T09:00:00+08:00",
        db=db,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Programme.Opened" in ok.stdout
    assert (
        cli(
            "register-supplier",
            "--credit-code",
            SUPPLIER,
            "--name",
            "成都智算中心",
            "--kind",
            "data-centre",
            "--city",
            "Chengdu",
            "--at",
            AT,
            db=db,
        ).returncode
        == 0
    )
    assert (
        cli(
            "register-applicant",
            "--credit-code",
            APPLICANT,
            "--name",
            "成都示例科技",
            "--kind",
            "enterprise",
            "--city",
            "Chengdu",
            "--at",
            AT,
            db=db,
        ).returncode
        == 0
    )
    assert (
        cli(
            "publish-supplier-list",
            "--programme",
            "CD-2025",
            "--period",
            "2025H1",
            "--suppliers",
            SUPPLIER,
            "--at",
            AT,
            db=db,
        ).returncode
        == 0
    )
    applied = cli(
        "apply-inclusive", "--programme", "CD-2025", "--applicant", APPLICANT, "--at", AT, db=db
    )
    assert "voucher_number=CD-2025-INC-0001" in applied.stdout
    redeemed = cli(
        "redeem",
        "--voucher",
        "CD-2025-INC-0001",
        "--supplier",
        SUPPLIER,
        "--bill-amount",
        "8000.00",
        "--invoice-number",
        "INV-1",
        "--service-kind",
        "compute",
        "--service-date",
        "2025-03-10",
        "--at",
        "2025-03-12T10:00:00+08:00",
        db=db,
    )
    assert redeemed.returncode == 0, redeemed.stderr
    again = cli(
        "apply-inclusive", "--programme", "CD-2025", "--applicant", APPLICANT, "--at", AT, db=db
    )
    assert again.returncode == 1
    assert "rejected (already-holds-voucher-this-year)" in again.stderr
    claimed = cli(
        "claim-reimbursement",
        "--supplier",
        SUPPLIER,
        "--invoice-number",
        "INV-1",
        "--evidence",
        "contract=HT-1",
        "--evidence",
        "payment-proof=P-1",
        "--evidence",
        "invoice=INV-1",
        "--evidence",
        "service-proof=U-1",
        "--at",
        "2025-04-01T10:00:00+08:00",
        db=db,
    )
    assert claimed.returncode == 0, claimed.stderr

    table = cli("balances", db=db).stdout
    assert "CD-2025-INC-0001" in table and "6,000.00" in table and "成都示例科技" in table
    raw = cli("balances", "--format", "csv", db=db).stdout
    assert raw.startswith("\ufeff")  # Excel opens UTF-8 with a BOM cleanly
    rows = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))))
    assert rows[0]["remaining"] == "6000.00" and rows[0]["holder_name"] == "成都示例科技"
    quota = json.loads(cli("quota", "--format", "json", db=db).stdout)
    inclusive = next(r for r in quota["rows"] if r["instrument"] == "inclusive")
    assert (inclusive["issued"], inclusive["deducted"], inclusive["claimed"]) == (
        1,
        "4000.00",
        "4000.00",
    )
    rebuilt = cli("rebuild", db=db)
    assert rebuilt.returncode == 0 and "rebuilt every read model" in rebuilt.stdout
    assert cli("balances", "--format", "csv", db=db).stdout == raw


def test_a_wrong_check_character_is_refused_naming_the_expected_one(tmp_path: Path) -> None:
    bad = SUPPLIER[:-1] + ("0" if SUPPLIER[-1] != "0" else "1")
    result = cli(
        "register-supplier",
        "--credit-code",
        bad,
        "--name",
        "X",
        "--kind",
        "data-centre",
        "--city",
        "Chengdu",
        db=str(tmp_path / "x.db"),
    )
    assert result.returncode == 2
    assert f"expected '{SUPPLIER[-1]}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_exit_codes_and_results(db_url: str, tmp_path: Path) -> None:
    accepted = cli("run", str(write_jsonl(tmp_path / "a.jsonl", *SETUP)), db=db_url)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    results = [json.loads(line) for line in accepted.stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert all(r["ok"] for r in results)
    assert results[4]["events"][1]["event"] == "Voucher.Issued"
    assert results[4]["events"][1]["number"] == "CD-2025-INC-0001"

    redeem = {
        "command": "redeem",
        "voucher": "CD-2025-INC-0001",
        "supplier": SUPPLIER,
        "bill_amount": 8000.5,
        "invoice_number": "INV-9",
        "service_kind": "compute",
        "service_date": "2025-03-10",
        "at": "2025-03-12T10:00:00+08:00",
    }
    some_rejected = cli(
        "run", str(write_jsonl(tmp_path / "b.jsonl", SETUP[4], redeem, redeem)), db=db_url
    )
    assert some_rejected.returncode == 1
    first, second, third = [json.loads(line) for line in some_rejected.stdout.splitlines()]
    assert first["error"] == "already-holds-voucher-this-year"
    # A JSON number is parsed exactly (8000.5 → 8000.50), and a retry changes nothing.
    assert second["events"][0]["bill_amount"] == "8000.50"
    assert second["events"][0]["deduction"] == "4000.25"
    assert third == {"line": 3, "ok": True, "events": []}


@pytest.mark.parametrize(
    ("bad_line", "error", "field"),
    [
        ('{"command": "redeem", "voucher": ', "malformed-json", None),
        (
            '{"command": "apply-inclusive", "programme": "CD-2025", "applicant": "%s", '
            '"at": "2025-03-01T09:00:00"}' % APPLICANT,
            "invalid-time",
            "at",
        ),
        (
            '{"command": "redeem", "voucher": "CD-2025-INC-0001", "supplier": "%s", '
            '"bill_amount": "10.005", "invoice_number": "X", "service_kind": "compute", '
            '"service_date": "2025-03-10"}' % SUPPLIER,
            "invalid-amount",
            "bill_amount",
        ),
        (
            '{"command": "redeem", "voucher": "CD-2025-INC-0001", "supplier": "%s", '
            '"bill_amount": NaN, "invoice_number": "X", "service_kind": "compute", '
            '"service_date": "2025-03-10"}' % SUPPLIER,
            "invalid-amount",
            None,
        ),
        (
            '{"command": "apply-inclusive", "programme": "CD-2025", "applicant": "%s", '
            '"colour": "red"}' % APPLICANT,
            "unknown-field",
            "colour",
        ),
        ('{"command": "launch-rocket"}', "unknown-command", "command"),
        ('["a", "list"]', "malformed-json", None),
    ],
)
def test_a_malformed_line_stores_nothing_and_exits_2(
    db_url: str, tmp_path: Path, bad_line: str, error: str, field: str | None
) -> None:
    assert (
        cli("run", str(write_jsonl(tmp_path / "setup.jsonl", *SETUP[:4])), db=db_url).returncode
        == 0
    )
    before = event_count(db_url)
    batch = write_jsonl(tmp_path / "bad.jsonl", SETUP[4], SETUP[4], bad_line)
    result = cli("run", str(batch), db=db_url)
    assert result.returncode == 2
    (report,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert report["line"] == 3 and report["error"] == error and not report["ok"]
    assert report.get("field") == field
    assert "Traceback" not in result.stderr
    assert event_count(db_url) == before  # not even the valid lines 1 and 2 were applied


def test_non_utf8_input_is_malformed(tmp_path: Path) -> None:
    batch = tmp_path / "latin.jsonl"
    batch.write_bytes(
        b'{"command": "open-programme", "policy": "chengdu", "year": 2025}\n'
        b'{"command": "register-applicant", "name": "caf\xe9"}\n'
    )
    result = cli("run", str(batch), db=str(tmp_path / "l.db"))
    assert result.returncode == 2
    assert json.loads(result.stdout) == {
        "line": 2,
        "ok": False,
        "error": "malformed-json",
        "message": "not UTF-8 at byte 46",
    }


def test_the_demo_runs_a_year_and_prints_the_reports(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [CLI, "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    out = result.stdout
    assert "quota-exhausted" in out and "supplier-not-listed" in out and "affiliated-parties" in out
    assert "Quota and budget use" in out and "Voucher balances" in out
    assert "3,000,000.00" in out  # 300 vouchers of 10,000 issued
    assert (tmp_path / "voucher-ledger-demo.db.results.jsonl").exists()
    # Issue 16, items 1 and 2: what the supplier-subsidy base excluded, and the green award.
    fidelity = out[out.index("Policy fidelity (issue 16, items 1 and 2)") :]
    for reason in (
        "beyond the part the voucher supported",  # CD-6: the part the voucher supported
        "counted in round R1 of CD-2026 already",  # the year's business, counted once
        "not paid out",  # CD-10: 兑付
    ):
        assert f"excluded — {reason}" in fidelity
    assert "2016-06-01  not-newly-approved" in fidelity  # CD-7: 新获批
    assert "2026-03-15  accepted" in fidelity

    db = str(tmp_path / "voucher-ledger-demo.db")
    round_ = json.loads(
        cli("special-round", "--programme", "CD-2025", "--format", "json", db=db).stdout
    )
    paid = [r for r in round_["rows"] if r["status"] == "paid"]
    assert len(round_["rows"]) == 250 and len(paid) == 135
    assert sum(Decimal(r["amount"]) for r in paid) == Decimal("50000000.00")
    assert [r["rank"] for r in round_["rows"][:3]] == [1, 2, 3]
    removed = [r for r in round_["rows"] if r["status"] == "removed"]
    assert len(removed) == 1
    story = cli("explain", removed[0]["applicant"], db=db).stdout
    assert "upheld" in story and "left the plan" in story
    sixth = cli("explain", "CD-2025-SPC-0006", db=db).stdout
    assert "paid to the" in sixth and "ranked" in sixth

    # Enforcement: the fraud case of the demo year.
    fraud = make_credit_code("91510100MA7000005")
    status = cli("debarment-status", fraud, "--on", "2028-10-14", "--format", "json", db=db)
    (bar,) = json.loads(status.stdout)["rows"]
    assert (bar["barred_from"], bar["barred_until"], bar["status_on_date"]) == (
        "2025-10-15",
        "2028-10-15",
        "barred",
    )
    free = cli("debarment-status", fraud, "--on", "2028-10-15", "--format", "json", db=db)
    assert json.loads(free.stdout)["rows"][0]["status_on_date"] == "ended"
    (owed,) = json.loads(
        cli("receivables", "--on", "2025-12-31", "--format", "json", db=db).stdout
    )["rows"]
    assert Decimal(owed["outstanding"]) == Decimal(owed["demanded"]) - Decimal(owed["repaid"]) > 0
    assert owed["ageing"] == "31-90 days"
    assert "Fraud was found on 2025-10-15" in cli("explain", fraud, db=db).stdout


def test_an_auditor_replays_verifies_and_exports(tmp_path: Path) -> None:
    db = str(tmp_path / "audit.db")
    assert cli("run", str(write_jsonl(tmp_path / "a.jsonl", *SETUP)), db=db).returncode == 0
    check = cli("audit", "rebuild", "--check", db=db)
    assert check.returncode == 0 and "equal a replay" in check.stdout
    digest = cli("audit", "digest", db=db)
    kept = tmp_path / "digest.json"
    kept.write_text(digest.stdout)
    assert json.loads(digest.stdout)["events"] > 5
    assert cli("audit", "verify", "--digest", str(kept), db=db).returncode == 0
    history = cli("audit", "history", APPLICANT, "--format", "csv", db=db)
    assert history.returncode == 0 and "Voucher.Issued" in history.stdout

    pack = tmp_path / "pack"
    assert cli("audit", "export", str(pack), db=db).returncode == 0
    assert cli("audit", "verify-export", str(pack), db=db).returncode == 0
    with (pack / "rm_vouchers.csv").open("ab") as f:
        f.write(b"x")
    bad = cli("audit", "verify-export", str(pack), db=db)
    assert bad.returncode == 1 and "rm_vouchers.csv: checksum differs" in bad.stdout

    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 3", (b"{}",))
    tampered = cli("audit", "verify", "--digest", str(kept), db=db)
    assert tampered.returncode == 1
    assert "first differs at position 3" in tampered.stdout


def test_finance_imports_a_gbk_statement_reconciles_and_resolves(tmp_path: Path) -> None:
    db = str(tmp_path / "finance.db")
    redeem = {
        "command": "redeem",
        "voucher": "CD-2025-INC-0001",
        "supplier": SUPPLIER,
        "bill_amount": "8000.00",
        "invoice_number": "INV-1",
        "service_kind": "compute",
        "service_date": "2025-03-10",
        "at": "2025-03-12T10:00:00+08:00",
    }
    claim = {
        "command": "claim-reimbursement",
        "supplier": SUPPLIER,
        "invoice_number": "INV-1",
        "evidence": {"contract": "C", "payment-proof": "P", "invoice": "I", "service-proof": "S"},
        "at": "2025-04-01T10:00:00+08:00",
    }
    pay = {
        "command": "reimburse",
        "supplier": SUPPLIER,
        "invoice_number": "INV-1",
        "at": "2025-04-15T10:00:00+08:00",
    }
    batch = write_jsonl(tmp_path / "year.jsonl", *SETUP, redeem, claim, pay)
    assert cli("run", str(batch), db=db).returncode == 0
    (payment,) = json.loads(cli("payments", "--format", "json", db=db).stdout)["rows"]
    # Four eyes: a second person approves before the bank pays.
    approve = ["--actor", "wang.finance", "approve-payment", "--payment", payment["reference"]]
    assert cli(*approve, "--at", "2025-04-16T09:00:00+08:00", db=db).returncode == 0
    statement = tmp_path / "icbc-2025-04.csv"
    statement.write_bytes(
        (
            "交易日期,对方户名,对方账号,金额,摘要\n"
            f"2025-04-18,成都智算中心,,4000.00,算力券补贴 {payment['reference']}\n"
            "2025-04-19,不认识的公司,6222999,12.00,转账\n"
        ).encode("gbk")
    )
    imported = cli("finance", "import-statement", str(statement), db=db)
    assert imported.returncode == 0 and "2 lines imported" in imported.stdout
    again = cli("finance", "import-statement", str(statement), db=db)
    assert "imported already" in again.stdout
    done = cli("finance", "reconcile", "--at", "2025-04-20T09:00:00+08:00", db=db)
    assert done.returncode == 0 and "settled 1" in done.stdout and "unexpected 1" in done.stdout
    (row,) = json.loads(cli("payments", "--format", "json", db=db).stdout)["rows"]
    assert (row["status"], row["settled"]) == ("settled", "4000.00")
    (exception,) = json.loads(
        cli("finance", "exceptions", "--on", "2025-04-30", "--format", "json", db=db).stdout
    )["rows"]
    assert exception["kind"] == "unexpected" and exception["age_days"] == 10
    resolved = cli(
        "resolve-exception",
        "--exception",
        exception["reference"],
        "--reason",
        "bank reversed it",
        db=db,
    )
    assert resolved.returncode == 0
    assert json.loads(cli("finance", "exceptions", "--format", "json", db=db).stdout)["rows"] == []
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "交易日期,对方户名,金额\n2025-04-18,x,1.00\n2025-04-19,y,abc\n", encoding="utf-8-sig"
    )
    refused = cli("finance", "import-statement", str(bad), db=db)
    assert refused.returncode == 2 and "line 3" in refused.stderr
    budget = json.loads(cli("finance", "budget", "--format", "json", db=db).stdout)["rows"]
    inclusive = next(r for r in budget if r["instrument"] == "inclusive")
    assert (inclusive["budget"], inclusive["paid"]) == ("3000000.00", "4000.00")


LAKESIDE = """
# A fictitious third programme: nothing but this file. 30% of audited spend, at most 1,000,000
# per holder a year, pro rata over a 5,000,000 pool, province and city paying 1:1.
id = "lakeside"
code = "LK"
name = "Lakeside compute subsidy (fictitious)"
source = "tests"

[validity]
first_year = { value = 2025, clause = "LK-9" }
last_year = { value = 2026, clause = "LK-9" }
amounts_exclude_tax = { value = true, clause = "LK-1" }

[applicants]
cities = { value = ["Lakeside"], clause = "LK-1" }
kinds = { value = ["enterprise", "research-institute", "university"], clause = "LK-1" }

[suppliers]
cities = { value = ["Lakeside"], clause = "LK-2" }
kinds = { value = ["data-centre", "scheduling-platform"], clause = "LK-2" }
listing = { value = "none", clause = "LK-2" }
affiliated_parties_excluded = { value = false, clause = "LK-2" }

[services]
eligible = { value = ["compute"], clause = "LK-1" }

[instruments.lake_grant]
type = "pro-rata-claim-subsidy"
code = { value = "LKG", clause = "LK-3" }
rate = { value = "0.30", clause = "LK-3" }
per_claimant_cap = { value = "1000000.00", clause = "LK-4" }
pool_cap = { value = "5000000.00", clause = "LK-5" }
service_window_from = { value = "2024-01-01", clause = "LK-6" }
service_window_to = { value = "2024-12-31", clause = "LK-6" }
application_window_from = { value = "2025-02-01", clause = "LK-7" }
application_window_to = { value = "2025-02-28", clause = "LK-7" }
claim_evidence = { clause = "LK-6", value = ["audit-report", "contract", "invoice",
    "bank-receipt"] }
funding_split = { clause = "LK-8", value = [
    { source = "province", share = 1 },
    { source = "city", share = 1 },
] }
allocation = { value = "pro-rata", clause = "LK-5" }
green_threshold_required = { value = false, clause = "LK-8" }
duplicate_funding_check = { value = true, clause = "LK-8" }

[enforcement]
debarment_years = { value = 3, clause = "LK-10" }
credit_lookback_years = { value = 3, clause = "LK-10" }
disqualifying_records = { value = ["serious-dishonesty"], clause = "LK-10" }
"""


def test_a_third_programme_runs_end_to_end_from_a_data_file_alone(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "lakeside.toml").write_text(LAKESIDE, encoding="utf-8")
    env = {**os.environ, "VOUCHER_LEDGER_POLICY_DIR": str(policies)}
    db = str(tmp_path / "lake.db")
    operators = [make_credit_code(f"91990000MA9X{n:05d}") for n in range(1, 9)]
    lines: list[object] = [
        {
            "command": "open-programme",
            "policy": "lakeside",
            "year": 2025,
            "at": "2025-01-02T09:00:00+08:00",
        }
    ]
    for n, code in enumerate(operators):
        lines.append(
            {
                "command": "register-supplier",
                "credit_code": code,
                "name": f"湖畔{n}",
                "kind": "data-centre",
                "city": "Lakeside",
                "at": "2025-01-03T09:00:00+08:00",
            }
        )
        lines.append(
            {
                "command": "submit-operator-claim",
                "programme": "LK-2025",
                "operator": code,
                "audit_report": f"A-{n}",
                "at": "2025-02-10T09:00:00+08:00",
                "lines": [
                    {
                        "customer": make_credit_code(f"91990000MA9Y{n:05d}"),
                        "customer_in_area": True,
                        "contract_number": f"C-{n}",
                        # 30% of 2,000,000 … 9,000,000: six are capped at 1,000,000
                        "amount": f"{(n + 2) * 1_000_000}.00",
                        "service_from": "2024-03-01",
                        "service_to": "2024-10-31",
                        "invoice": f"I-{n}",
                        "bank_receipt": f"B-{n}",
                    }
                ],
            }
        )
        lines.append(
            {
                "command": "district-pre-review",
                "programme": "LK-2025",
                "operator": code,
                "outcome": "pass",
                "green_threshold_met": False,
                "reason": "ok",
                "at": "2025-03-01T09:00:00+08:00",
            }
        )
        lines.append(
            {
                "command": "city-review",
                "programme": "LK-2025",
                "operator": code,
                "outcome": "pass",
                "assessment": "panel",
                "reason": "ok",
                "at": "2025-03-10T09:00:00+08:00",
            }
        )
    lines.append(
        {
            "command": "allocate-operator-subsidy",
            "programme": "LK-2025",
            "at": "2025-03-20T09:00:00+08:00",
        }
    )
    batch = write_jsonl(tmp_path / "lake.jsonl", *lines)
    result = subprocess.run(
        [CLI, "--db", db, "run", str(batch)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = subprocess.run(
        [CLI, "--db", db, "operator-subsidy", "--programme", "LK-2025", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    rows = json.loads(report.stdout)["rows"]
    # Entitlements: 600k, 900k, then 1,000,000 × 6 = 7,500,000 > the 5,000,000 pool.
    entitlements = sorted(Decimal(r["entitlement"]) for r in rows)
    assert (
        entitlements == [Decimal("600000.00"), Decimal("900000.00")] + [Decimal("1000000.00")] * 6
    )
    allocated = [Decimal(r["allocated"]) for r in rows]
    assert sum(allocated) == Decimal("5000000.00")
    for r in rows:
        assert abs(Decimal(r["province_share"]) - Decimal(r["city_share"])) <= Decimal("0.01")
        assert Decimal(r["allocated"]) <= Decimal("1000000.00")
    # The same file, broken, is refused naming the field.
    (policies / "lakeside.toml").write_text(LAKESIDE.replace('"0.30"', '"1.30"'))
    broken = subprocess.run(
        [CLI, "--db", db, "quota"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert broken.returncode == 2
    assert "instruments.lake_grant.rate" in broken.stderr


def test_the_qingdao_demo_allocates_twenty_million_pro_rata(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "demo", "--programme", "qingdao"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "outside-application-window" in out and "credit-record-in-lookback" in out
    assert "20,000,000.00  10,000,000.00   10,000,000.00" in out
    # Issue 16 item 14 (QD-7): blacklisted after the city review, excluded by a re-review.
    item_14 = out.split("---- Issue 16 item 14")[1].split("---- end of item 14")[0]
    assert "allocate-operator-subsidy  re-review-required" in item_14
    assert "city-re-review             accepted" in item_14
    assert "excluded: blacklist" in out
    db = str(tmp_path / "voucher-ledger-qingdao.db")
    story = cli("explain", make_credit_code("91370200MA3C00003"), db=db).stdout
    assert "claimed by" in story and "scaled by 0.666667" in story


def test_help_works_for_every_command() -> None:
    main_help = subprocess.run(
        [CLI, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert main_help.returncode == 0, main_help.stderr
    assert "Commands by user:" in main_help.stdout
    from commands.cli import GROUPED
    from ledger.vocabulary import DECLARATIONS

    for name in [n for n in DECLARATIONS if n not in GROUPED] + [
        "run",
        "balances",
        "audit",
        "finance",
        "demo",
    ]:
        result = subprocess.run(
            [CLI, name, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-300:]}"
        assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI, "--db", "postgresql://nobody@127.0.0.1:1/none", "quota"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert "the ledger database is unavailable" in result.stderr
    assert "Traceback" not in result.stderr
