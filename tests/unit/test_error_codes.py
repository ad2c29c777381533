"""Error codes: one typed enumeration (``ledger.errors``) that matches its descriptions and
docs/errors.md, and the precedence docs/errors.md states ("which code wins when several
apply"), proven case by case."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from commands.batch import EXIT_MALFORMED, EXIT_REJECTED, parse_line, run_batch
from commands.docgen import DOCS
from commands.envelope import Given, execute
from commands.wiring import open_ledger
from ledger.application import VoucherLedger
from ledger.errors import (
    ALL_CODES,
    ERROR_CODES,
    INPUT_CODES,
    INPUT_ERRORS,
    REJECTION_CODES,
    RULE_REJECTIONS,
    InvalidInput,
    Rejected,
)
from ledger.events import Context
from ledger.handlers.administration import GrantRole
from ledger.handlers.enforcement import OpenCase, RecordFraudFinding
from ledger.handlers.inclusive import ApplyInclusive, Redeem
from ledger.policy import bundled_policies, policy_from_mapping
from tests.scenario import PROGRAMME, World, at, in_memory_ledger, rejected

ROOT = Path(__file__).resolve().parents[2]


# ---- one enumeration, described and documented -------------------------------------------


def test_the_types_and_the_descriptions_name_the_same_codes() -> None:
    assert set(INPUT_CODES) == set(INPUT_ERRORS), "InputErrorCode vs INPUT_ERRORS"
    assert set(REJECTION_CODES) == set(RULE_REJECTIONS), "RejectionCode vs RULE_REJECTIONS"
    assert ERROR_CODES == INPUT_CODES + REJECTION_CODES
    assert len(set(ERROR_CODES)) == len(ERROR_CODES), "a code in both families, or twice"
    assert set(ALL_CODES) == set(ERROR_CODES)
    assert all(text.strip() for text in ALL_CODES.values())
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code) for code in ERROR_CODES)


def test_docs_list_exactly_the_codes_of_the_type_each_in_its_family() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    malformed, rules = text.split("## Rejected by a rule", 1)
    rules = rules.split("## Which code wins", 1)[0]
    row = re.compile(r"^\| `([a-z-]+)` \|", re.MULTILINE)
    assert row.findall(malformed) == list(INPUT_CODES)
    assert row.findall(rules) == list(REJECTION_CODES)


def test_a_code_outside_its_family_is_refused_at_run_time_too() -> None:
    # mypy refuses these at the call site; a code passed through a plain ``str`` is caught here.
    with pytest.raises(ValueError, match="unregistered error code"):
        Rejected("invalid-amount", "an input code raised as a rule refusal")
    with pytest.raises(ValueError, match="unregistered error code"):
        InvalidInput("quota-exhausted", "a rule code raised as malformed input")
    with pytest.raises(ValueError, match="unregistered error code"):
        Rejected("quota-exhaused", "misspelt")


def test_mypy_refuses_a_misspelt_code(monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api")
    monkeypatch.chdir(ROOT)  # mypy finds ``ledger`` from the working directory
    program = (
        "from ledger.errors import InvalidInput, Rejected\n"
        'Rejected("quota-exhausted", "fine")\n'
        'Rejected("quota-exhaused", "misspelt")\n'
        'Rejected("invalid-amount", "wrong family")\n'
        'InvalidInput("invalid-amount", "fine")\n'
    )
    out, _, status = api.run(
        [
            "--no-error-summary",
            "--follow-imports=silent",
            # its own cache: a warm second run, and `make lint`'s cache left alone
            f"--cache-dir={ROOT / '.mypy_cache' / 'test_error_codes'}",
            "-c",
            program,
        ]
    )
    assert status == 1, out
    flagged = sorted(int(n) for n in re.findall(r"^<string>:(\d+): error", out, re.MULTILINE))
    assert flagged == [3, 4], out


# ---- which code wins when several apply (docs/errors.md) -----------------------------------


def one_place_ledger() -> VoucherLedger:
    """Chengdu with a yearly quota of one inclusive voucher."""
    raw = copy.deepcopy(bundled_policies()["chengdu"].raw)
    raw["instruments"]["inclusive"]["quota_per_year"]["value"] = 1
    return in_memory_ledger({"chengdu": policy_from_mapping(raw)})


def fraud_finding(world: World, entity: str, case: str = "C-1") -> None:
    """A fraud finding on 2025-03-01: the entity is barred from that day; its unredeemed
    vouchers are cancelled (CD-11)."""
    world.app.execute(
        at(2, 20), OpenCase(case=case, programme=PROGRAMME, entity=entity, description="fraud")
    )
    world.app.execute(
        at(3, 1),
        RecordFraudFinding(
            case=case, finding_date=date(2025, 3, 1), finding="forged", evidence=["A-1"]
        ),
    )


def test_a_barred_supplier_wins_over_the_deduction_limit() -> None:
    world = World(in_memory_ledger())
    voucher = world.issue(0)
    fraud_finding(world, world.suppliers[0])
    # 5,000 of an 8,000 bill is over the 50% limit: refused so at a supplier in good standing ...
    rejected(
        "exceeds-deduction-limit",
        world.redeem,
        voucher,
        bill="8000.00",
        deduction="5000.00",
        supplier=1,
        invoice="INV-1",
    )
    # ... but at the barred supplier the bar is what refuses it.
    refusal = rejected(
        "entity-debarred",
        world.redeem,
        voucher,
        bill="8000.00",
        deduction="5000.00",
        supplier=0,
        invoice="INV-2",
    )
    assert refusal.details["case"] == "C-1"


def test_a_cancelled_voucher_wins_over_its_barred_holder() -> None:
    world = World(in_memory_ledger())
    voucher = world.issue(0)
    fraud_finding(world, world.applicants[0])  # bars the holder and cancels the voucher
    rejected("voucher-cancelled", world.redeem, voucher, deduction="9000.00")


def test_holding_a_voucher_and_standing_win_over_the_exhausted_quota() -> None:
    world = World(one_place_ledger())
    world.issue(0)  # the only place
    fraud_finding(world, world.applicants[2])
    apply = world.app.execute
    rejected(
        "quota-exhausted",
        apply,
        at(3, 2),
        ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[1]),
    )
    rejected(
        "already-holds-voucher-this-year",
        apply,
        at(3, 2),
        ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[0]),
    )
    rejected(
        "entity-debarred",
        apply,
        at(3, 2),
        ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[2]),
    )


def test_the_role_wins_over_the_rules() -> None:
    world = World(in_memory_ledger())
    voucher = world.issue(0)
    over_the_limit = Redeem(
        voucher=voucher,
        supplier=world.suppliers[0],
        bill_amount=Decimal("8000.00"),
        invoice_number="INV-1",
        service_kind="compute",
        service_date=date(2025, 3, 10),
        deduction=Decimal("5000.00"),
    )
    world.app.execute(at(1, 2), GrantRole(identity="test", role="administrator"))
    world.app.execute(at(1, 2), GrantRole(identity="chen.audit", role="auditor"))
    auditor = Context(at(3, 12).at, actor="chen.audit", command_id="r-1")
    rejected("not-permitted", execute, world.app, Given(over_the_limit, auditor))
    clerk = Context(at(3, 12).at, actor="test", command_id="r-2")
    rejected("exceeds-deduction-limit", execute, world.app, Given(over_the_limit, clerk))


def test_the_input_is_checked_in_the_documented_order() -> None:
    def code(line: str) -> str:
        with pytest.raises(InvalidInput) as caught:
            parse_line(line, identity="t", now=lambda: at().at)
        return caught.value.code

    assert code('{"command": "redeem", "bogus": 1}') == "unknown-field"
    assert code('{"command": "no-such-command", "bogus": 1}') == "unknown-command"
    assert code('{"command": "redeem", "at": "2025-03-01", "bogus": 1}') == "invalid-time"
    assert (
        code('{"command": "redeem", "voucher": "X", "supplier": "nope"}') == "invalid-credit-code"
    )


def test_a_malformed_line_wins_over_every_rule_in_the_batch(tmp_path: Path) -> None:
    lines = [
        {"command": "open-programme", "policy": "chengdu", "year": 2025},
        {"command": "apply-inclusive", "programme": "CD-2025", "applicant": "91510100MA61R0BQ4E"},
    ]

    def now() -> datetime:
        return datetime.fromisoformat("2025-01-02T09:00:00+08:00")

    ledger = open_ledger(str(tmp_path / "ledger.db"))
    try:

        def run(name: str, *rows: str) -> tuple[int, list[dict[str, object]]]:
            source = tmp_path / name
            source.write_text("\n".join(rows) + "\n", encoding="utf-8")
            out = io.StringIO()
            status = run_batch(ledger, source, out, identity="t", now=now)
            return status, [json.loads(r) for r in out.getvalue().splitlines()]

        status, results = run("bad.jsonl", *map(json.dumps, lines), '{"command": "redeem"')
        assert status == EXIT_MALFORMED
        assert [(r["line"], r["error"]) for r in results] == [(3, "malformed-json")]
        with pytest.raises(Rejected):
            ledger.app.programme("CD-2025")  # nothing was stored
        status, results = run("good.jsonl", *map(json.dumps, lines))
        assert status == EXIT_REJECTED
        assert [r.get("error") for r in results] == [None, "applicant-not-registered"]
    finally:
        ledger.close()
