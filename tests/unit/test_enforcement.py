"""Enforcement (CD-3, CD-11): credit records, fraud findings, the 3-year bar, clawbacks."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import VoucherLedger
from ledger.errors import Rejected
from ledger.handlers.enforcement import (
    DemandClawback,
    LiftDebarment,
    OffsetClawback,
    OpenCase,
    RecordCreditListing,
    RecordFraudFinding,
    RecordRepayment,
    WriteOff,
)
from ledger.handlers.finance import RecordSettlement
from ledger.handlers.inclusive import ApplyInclusive, ClaimReimbursement, Reimburse
from ledger.handlers.registration import OpenProgramme
from ledger.policy import bundled_policies, policy_from_mapping
from tests.scenario import PROGRAMME, World, at, event_names, in_memory_ledger, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


def ledger_valid_until(last_year: int = 2030) -> VoucherLedger:
    """Chengdu's numbers, valid long enough to see a 3-year bar end (CD-15 is a parameter)."""
    raw = copy.deepcopy(bundled_policies()["chengdu"].raw)
    raw["validity"]["last_year"]["value"] = last_year
    return in_memory_ledger({"chengdu": policy_from_mapping(raw)})


def reimbursed(
    world: World, invoice: str, bill: str = "8000.00", settle: bool = True, day: int = 0
) -> str:
    """A redemption at supplier 0, claimed and reimbursed; returns the payment reference.
    With ``day``, everything happens on that day of March, else in March and April."""
    voucher = world.app.programme(PROGRAMME).voucher_numbers()[0]
    when = [at(3, day)] * 3 if day else [at(3, 10), at(4, 1), at(4, 2)]
    world.redeem(voucher, bill=bill, invoice=invoice, service=when[0].at.date(), ctx=when[0])
    supplier = world.suppliers[0]
    world.app.execute(
        when[1], ClaimReimbursement(supplier=supplier, invoice_number=invoice, evidence=EVIDENCE)
    )
    events = world.app.execute(when[2], Reimburse(supplier=supplier, invoice_number=invoice))
    reference = str(events[1].reference)  # type: ignore[attr-defined]
    if settle:
        amount = world.app.payment(reference).amount
        world.app.execute(
            at(4, 3),
            RecordSettlement(
                payment=reference,
                amount=amount,
                bank_reference=f"BANK-{invoice}",
                value_date=date(2025, 4, 3),
            ),
        )
    return reference


def supplier_case(world: World, finding: date = date(2025, 5, 10)) -> None:
    world.app.execute(
        at(5, 1),
        OpenCase(
            case="C-1", programme=PROGRAMME, entity=world.suppliers[0], description="fake invoices"
        ),
    )
    world.app.execute(
        at(finding.month, finding.day),
        RecordFraudFinding(
            case="C-1", finding_date=finding, finding="forged proofs", evidence=["AUDIT-1"]
        ),
    )


def test_a_finding_bars_for_three_years_the_end_date_being_the_first_free_day() -> None:
    app = ledger_valid_until(2030)
    world = World(app, applicants=2, suppliers=1)
    app.execute(
        at(3, 1),
        OpenCase(
            case="C-9", programme=PROGRAMME, entity=world.applicants[0], description="fake spend"
        ),
    )
    events = app.execute(
        at(3, 10),
        RecordFraudFinding(
            case="C-9", finding_date=date(2025, 3, 10), finding="forged", evidence=["E-1"]
        ),
    )
    assert "EntityRecord.Debarred" in event_names(events)
    app.execute(at(1, 2, year=2028), OpenProgramme(policy="chengdu", year=2028))
    last_barred, first_free = at(3, 9, year=2028), at(3, 10, year=2028)
    error = rejected(
        "entity-debarred",
        app.execute,
        last_barred,
        ApplyInclusive(programme="CD-2028", applicant=world.applicants[0]),
    )
    assert error.details == {"case": "C-9", "until": "2028-03-10"}
    assert "until 2028-03-10 (free from that day)" in error.message
    app.execute(first_free, ApplyInclusive(programme="CD-2028", applicant=world.applicants[0]))
    # The finding date itself is the first barred day (entered three years late, with a reason).
    late = replace(at(3, 10), late_reason="entered from the 2025 paper register")
    rejected("entity-debarred", world.issue, 0, late)


def test_a_finding_cancels_unredeemed_vouchers_which_then_cannot_be_redeemed() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=2)
    voucher = world.issue(0)
    world.redeem(voucher, bill="4000.00", invoice="A")
    world.app.execute(
        at(5, 1),
        OpenCase(
            case="C-2",
            programme=PROGRAMME,
            entity=world.applicants[0],
            description="resold voucher",
        ),
    )
    events = world.app.execute(
        at(5, 2),
        RecordFraudFinding(
            case="C-2", finding_date=date(2025, 5, 2), finding="resale", evidence=["E"]
        ),
    )
    cancelled = [e for e in events if type(e).__qualname__ == "Voucher.Cancelled"]
    assert [c.cancelled for c in cancelled] == [Decimal("8000.00")]  # type: ignore[attr-defined]
    rejected(
        "voucher-cancelled",
        world.redeem,
        voucher,
        invoice="B",
        supplier=1,
        service=date(2025, 4, 1),
        ctx=at(4, 2),
    )


def test_a_finding_stops_unsettled_payments_only() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    world.issue(0)
    settled = reimbursed(world, "I-1", bill="2000.00")
    unsettled = reimbursed(world, "I-2", bill="2000.00", settle=False)
    supplier_case(world)
    assert world.app.payment(settled).settled == Decimal("1000.00")
    assert world.app.payment(unsettled).stopped
    rejected(
        "payment-stopped",
        world.app.execute,
        at(6, 1),
        RecordSettlement(
            payment=unsettled,
            amount=Decimal("1000.00"),
            bank_reference="B-2",
            value_date=date(2025, 6, 1),
        ),
    )


def test_a_clawback_larger_than_what_was_paid_is_refused() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    world.issue(0)
    paid = reimbursed(world, "I-1", bill="3000.00")  # 1,500.00 paid
    world.app.execute(
        at(5, 1),
        OpenCase(
            case="C-1", programme=PROGRAMME, entity=world.suppliers[0], description="fake invoices"
        ),
    )
    rejected(
        "no-finding",
        world.app.execute,
        at(5, 2),
        DemandClawback(
            case="C-1",
            amount=Decimal("1"),
            payments=[paid],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )
    world.app.execute(
        at(5, 10),
        RecordFraudFinding(
            case="C-1", finding_date=date(2025, 5, 10), finding="forged", evidence=["A"]
        ),
    )
    rejected(
        "clawback-exceeds-paid",
        world.app.execute,
        at(5, 12),
        DemandClawback(
            case="C-1",
            amount=Decimal("1500.01"),
            payments=[paid],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )
    world.app.execute(
        at(5, 12),
        DemandClawback(
            case="C-1",
            amount=Decimal("1000.00"),
            payments=[paid],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )
    # What was demanded once cannot be demanded again.
    rejected(
        "clawback-exceeds-paid",
        world.app.execute,
        at(5, 13),
        DemandClawback(
            case="C-1",
            amount=Decimal("500.01"),
            payments=[paid],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )


def test_partial_repayments_and_an_offset_bring_the_receivable_to_zero() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    world.issue(0)
    paid = reimbursed(world, "I-1", bill="8000.00")  # 4,000.00 paid
    supplier_case(world)
    world.app.execute(
        at(5, 12),
        DemandClawback(
            case="C-1",
            amount=Decimal("4000.00"),
            payments=[paid],
            vouchers=[],
            due_date=date(2025, 6, 30),
        ),
    )
    world.app.execute(
        at(6, 1),
        RecordRepayment(
            case="C-1", amount=Decimal("1000.00"), bank_reference="R-1", value_date=date(2025, 6, 1)
        ),
    )
    assert (
        world.app.execute(
            at(6, 1),
            RecordRepayment(
                case="C-1",
                amount=Decimal("1000.00"),
                bank_reference="R-1",
                value_date=date(2025, 6, 1),
            ),
        )
        == []
    )  # the same repayment again
    world.app.execute(
        at(6, 15),
        RecordRepayment(
            case="C-1",
            amount=Decimal("1500.00"),
            bank_reference="R-2",
            value_date=date(2025, 6, 15),
        ),
    )
    rejected(
        "exceeds-outstanding",
        world.app.execute,
        at(6, 16),
        RecordRepayment(
            case="C-1",
            amount=Decimal("1500.01"),
            bank_reference="R-3",
            value_date=date(2025, 6, 16),
        ),
    )
    # Overturned on appeal: the bar is lifted, the debt stands; a later payment is offset.
    world.app.execute(
        at(7, 1),
        LiftDebarment(case="C-1", reason="overturned on appeal", authority="court ruling 123"),
    )
    later = reimbursed(world, "I-3", bill="6000.00", settle=False)  # 3,000.00 due
    world.app.execute(at(7, 5), OffsetClawback(case="C-1", payment=later, amount=None))
    case = world.app.case("C-1")
    assert (case.demanded, case.repaid, case.offset, case.outstanding) == (
        Decimal("4000.00"),
        Decimal("2500.00"),
        Decimal("1500.00"),
        Decimal("0.00"),
    )
    assert world.app.payment(later).payable == Decimal("1500.00")
    record = world.app.entity_record(world.suppliers[0])
    assert record is not None and record.bars["C-1"].lifted_on == date(2025, 7, 1)


def test_a_credit_listing_two_years_ago_blocks_four_years_ago_does_not() -> None:
    world = World(ledger_valid_until(), applicants=2, suppliers=1)
    recent, old = world.applicants
    world.app.execute(
        at(1, 3),
        RecordCreditListing(
            entity=recent,
            reference="L-1",
            kind="serious-dishonesty",
            source="信用中国",
            listed_from=date(2023, 1, 1),
            listed_until=date(2023, 3, 1),
        ),
    )
    world.app.execute(
        at(1, 3),
        RecordCreditListing(
            entity=old,
            reference="L-2",
            kind="serious-dishonesty",
            source="信用中国",
            listed_from=date(2020, 11, 1),
            listed_until=date(2021, 1, 1),
        ),
    )
    error = rejected("credit-record-in-lookback", world.issue, 0)
    assert error.details["reference"] == "L-1"
    world.issue(1)


def test_a_safety_blacklist_is_not_a_chengdu_disqualifier_but_an_accident_is() -> None:
    world = World(ledger_valid_until(), applicants=2, suppliers=1)
    world.app.execute(
        at(1, 3),
        RecordCreditListing(
            entity=world.applicants[0],
            reference="B-1",
            kind="environmental-credit-blacklist",
            source="生态环境局",
            listed_from=date(2024, 6, 1),
            listed_until=None,
        ),
    )
    world.issue(0)
    world.app.execute(
        at(1, 3),
        RecordCreditListing(
            entity=world.applicants[1],
            reference="A-1",
            kind="major-safety-accident",
            source="应急管理局",
            listed_from=date(2024, 6, 1),
            listed_until=None,
        ),
    )
    rejected("credit-record-in-lookback", world.issue, 1)


def test_a_barred_supplier_can_neither_redeem_nor_claim_nor_be_paid() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    voucher = world.issue(0)
    world.redeem(voucher, bill="2000.00", invoice="BEFORE")
    supplier_case(world, finding=date(2025, 3, 20))
    rejected(
        "entity-debarred",
        world.redeem,
        voucher,
        invoice="AFTER",
        service=date(2025, 3, 21),
        ctx=at(3, 22),
    )
    rejected(
        "entity-debarred",
        world.app.execute,
        at(3, 23),
        ClaimReimbursement(supplier=world.suppliers[0], invoice_number="BEFORE", evidence=EVIDENCE),
    )


# ---- invariants under any interleaving -----------------------------------------------------

OPERATION = st.sampled_from(["pay", "settle", "demand", "repay", "offset", "write-off", "apply"])


@settings(max_examples=40)
@given(st.lists(st.tuples(OPERATION, st.integers(1, 300_000)), max_size=20))
def test_receivable_arithmetic_and_bars_hold_under_any_interleaving(
    steps: list[tuple[str, int]],
) -> None:
    world = World(ledger_valid_until(), applicants=8, suppliers=1)
    world.issue(0)
    supplier = world.suppliers[0]
    world.app.execute(
        at(3, 1), OpenCase(case="C-P", programme=PROGRAMME, entity=supplier, description="property")
    )
    open_payments: list[str] = []
    settled: list[str] = []
    applicants = iter(range(1, 8))
    for n, (op, fen) in enumerate(steps):
        amount = Decimal(fen).scaleb(-2)  # 0.01 … 3,000.00
        day = at(3, 2 + n)
        record = world.app.entity_record(supplier)
        barred = record is not None and record.bar_on("chengdu", day.at.date()) is not None
        receives = op == "pay"
        try:
            if op == "pay":
                open_payments.append(reimbursed(world, f"P{n}", "200.00", False, day=2 + n))
            elif op == "settle" and open_payments:
                ref = open_payments.pop(0)
                if world.app.payment(ref).open:
                    world.app.execute(
                        day,
                        RecordSettlement(
                            payment=ref,
                            amount=world.app.payment(ref).payable,
                            bank_reference=f"S{n}",
                            value_date=day.at.date(),
                        ),
                    )
                    settled.append(ref)
            elif op == "demand":
                if not world.app.case("C-P").found:
                    world.app.execute(
                        day,
                        RecordFraudFinding(
                            case="C-P", finding_date=day.at.date(), finding="x", evidence=["e"]
                        ),
                    )
                world.app.execute(
                    day,
                    DemandClawback(
                        case="C-P",
                        amount=amount,
                        payments=settled,
                        vouchers=[],
                        due_date=date(2025, 6, 1),
                    ),
                )
            elif op == "repay":
                world.app.execute(
                    day,
                    RecordRepayment(
                        case="C-P", amount=amount, bank_reference=f"R{n}", value_date=day.at.date()
                    ),
                )
            elif op == "offset" and open_payments:
                world.app.execute(
                    day, OffsetClawback(case="C-P", payment=open_payments[0], amount=None)
                )
            elif op == "write-off":
                world.app.execute(
                    day,
                    WriteOff(
                        case="C-P", amount=amount, reason="uncollectable", approver="director"
                    ),
                )
            elif op == "apply" and (applicant := next(applicants, None)) is not None:
                world.issue(applicant, day)
        except Rejected as e:
            assert e.code in {
                "clawback-exceeds-paid",
                "nothing-to-claw-back",
                "exceeds-outstanding",
                "exceeds-payable",
                "entity-debarred",
                "quota-exhausted",
                "payment-stopped",
                "voucher-exhausted",
                "no-finding",
            }, e.code
            if e.code == "entity-debarred":
                assert barred
        else:
            # No new payment instruction to the supplier during its bar.
            assert not (receives and barred)
        case = world.app.case("C-P")
        assert case.outstanding == case.demanded - case.repaid - case.offset - case.written_off
        assert case.outstanding >= 0
