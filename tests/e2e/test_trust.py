"""The trust model, as its users meet it on the command line: the ledger — not its caller —
decides who acts, what time it is, and what is already known (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ledger.ids import make_credit_code
from tests.e2e.test_cli import APPLICANT, CLI, SETUP, SUPPLIER, write_jsonl

EVIDENCE = ["contract=HT-1", "payment-proof=P-1", "invoice=INV-1", "service-proof=U-1"]


def run(
    db: str, *args: str, clock: str = "simulated", late_after: str = "400"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VOUCHER_LEDGER_CLOCK": clock,
        "VOUCHER_LEDGER_LATE_AFTER_DAYS": late_after,
    }
    return subprocess.run(
        [CLI, "--db", db, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def redeemed_and_claimed(db: str, tmp_path: Path) -> None:
    """The tour's set-up, then a bill redeemed and its reimbursement claimed."""
    assert run(db, "run", str(write_jsonl(tmp_path / "setup.jsonl", *SETUP))).returncode == 0
    redeem = run(
        db,
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
    )
    assert redeem.returncode == 0, redeem.stderr
    claim = ["claim-reimbursement", "--supplier", SUPPLIER, "--invoice-number", "INV-1"]
    for pair in EVIDENCE:
        claim += ["--evidence", pair]
    assert run(db, *claim, "--at", "2025-04-01T10:00:00+08:00").returncode == 0


def test_a_back_dated_reimbursement_to_a_barred_supplier_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    redeemed_and_claimed(db_url, tmp_path)
    case = ["--case", "CASE-1"]
    opened = run(
        db_url,
        "open-case",
        *case,
        "--programme",
        "CD-2025",
        "--entity",
        SUPPLIER,
        "--description",
        "forged proofs",
        "--at",
        "2025-05-01T09:00:00+08:00",
    )
    assert opened.returncode == 0, opened.stderr
    found = run(
        db_url,
        "record-fraud-finding",
        *case,
        "--finding-date",
        "2025-05-10",
        "--finding",
        "forged proofs",
        "--evidence",
        "AUDIT-1",
        "--at",
        "2025-05-10T15:00:00+08:00",
    )
    assert found.returncode == 0, found.stderr
    reimburse = ["reimburse", "--supplier", SUPPLIER, "--invoice-number", "INV-1"]
    # Dated the day before the finding, entered after it: what is known binds.
    back_dated = run(
        db_url, *reimburse, "--at", "2025-05-09T10:00:00+08:00", "--late-reason", "catching up"
    )
    assert back_dated.returncode == 1
    assert "entity-debarred" in back_dated.stderr
    # The refusal is recorded: auditors see who tried what, and why it was refused.
    refusals = run(db_url, "audit", "refusals", "--subject", SUPPLIER, "--format", "json")
    rows = json.loads(refusals.stdout)["rows"]
    assert [(r["command"], r["code"]) for r in rows] == [("reimburse", "entity-debarred")]
    explained = run(db_url, "explain", SUPPLIER)
    assert "refused it (entity-debarred)" in explained.stdout


def test_business_time_is_checked_against_the_ledger_clock(tmp_path: Path) -> None:
    """A ledger on the system clock: the future is refused, the past needs a reason and is
    listed for auditors."""
    db = str(tmp_path / "real.db")
    common = ["open-programme", "--policy", "chengdu", "--year", "2026"]
    future = run(db, *common, "--at", "2099-01-02T09:00:00+08:00", clock="system", late_after="7")
    assert future.returncode == 1 and "business-time-in-future" in future.stderr
    past = run(db, *common, "--at", "2026-01-02T09:00:00+08:00", clock="system")
    assert past.returncode == 1 and "late-entry-needs-reason" in past.stderr
    reason = "opening entered from the signed notice of 2026-01-02"
    accepted = run(
        db, *common, "--at", "2026-01-02T09:00:00+08:00", "--late-reason", reason, clock="system"
    )
    assert accepted.returncode == 0, accepted.stderr
    late = json.loads(run(db, "audit", "late-entries", "--format", "json").stdout)
    assert [(r["command"], r["reason"], r["business_at"][:10]) for r in late["rows"]] == [
        ("open-programme", reason, "2026-01-02")
    ]
    # This ledger was created on the system clock: its reports do not say "simulated".
    assert "simulated" not in late["report"]


def test_a_simulated_ledger_says_so_and_stays_simulated(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    assert run(db, "run", str(write_jsonl(tmp_path / "s.jsonl", *SETUP))).returncode == 0
    # Asking for the system clock later changes nothing: the choice was recorded at creation.
    quota = run(db, "quota", clock="system")
    assert "simulated clock" in quota.stdout.splitlines()[0]


def test_the_identity_comes_from_the_environment_and_cannot_be_spoofed(tmp_path: Path) -> None:
    db = str(tmp_path / "roles.db")
    assert run(db, "run", str(write_jsonl(tmp_path / "s.jsonl", *SETUP))).returncode == 0
    # The first grant makes an administrator; from then on the table decides.
    first = run(db, "grant-role", "--identity", "li.clerk", "--role", "clerk")
    assert first.returncode == 1 and "first-grant-must-be-administrator" in first.stderr
    granted = run(
        db, "grant-role", "--identity", "boss", "--role", "administrator", "--at", SETUP[0]["at"]
    )
    assert granted.returncode == 0, granted.stderr
    # The operating-system user running these tests holds no role now ...
    supplier = ["--credit-code", APPLICANT, "--name", "X", "--kind", "data-centre"]
    refused = run(db, "register-supplier", *supplier, "--city", "Chengdu", "--at", SETUP[1]["at"])
    assert refused.returncode == 1 and "not-permitted" in refused.stderr
    # ... and naming an administrator as the actor does not make it one.
    spoofed = run(
        db,
        "--actor",
        "boss",
        "approve-payment",
        "--payment",
        "PI-CD-2025-000000000000",
        "--at",
        SETUP[1]["at"],
    )
    assert spoofed.returncode == 1
    assert "may not act on behalf of boss" in spoofed.stderr
    rows = json.loads(run(db, "audit", "refusals", "--format", "json").stdout)["rows"]
    assert [r["code"] for r in rows] == [
        "first-grant-must-be-administrator",
        "not-permitted",
        "not-permitted",
    ]
    # Maintenance outside the vocabulary is the administrators' too.
    assert run(db, "rebuild").returncode == 1


def test_a_refused_application_is_visible_in_explain(tmp_path: Path) -> None:
    """Turned away (here: registered outside Chengdu) is a recorded fact, not silence."""
    db = str(tmp_path / "refused.db")
    assert run(db, "run", str(write_jsonl(tmp_path / "s.jsonl", *SETUP))).returncode == 0
    outsider = make_credit_code("91440300MA5F00001")
    applicant = ["--credit-code", outsider, "--name", "深圳某公司", "--kind", "enterprise"]
    registered = run(
        db, "register-applicant", *applicant, "--city", "Shenzhen", "--at", SETUP[1]["at"]
    )
    assert registered.returncode == 0, registered.stderr
    applied = run(
        db,
        "apply-inclusive",
        "--programme",
        "CD-2025",
        "--applicant",
        outsider,
        "--at",
        SETUP[1]["at"],
    )
    assert applied.returncode == 1 and "applicant-not-eligible" in applied.stderr
    explained = run(db, "explain", outsider).stdout
    assert "apply-inclusive" in explained and "applicant-not-eligible" in explained
