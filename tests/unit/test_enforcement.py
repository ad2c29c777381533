"""Enforcement (CD-3, CD-11): credit records, fraud findings, the 3-year bar, clawbacks."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import VoucherLedger
from ledger.errors import Rejected
from ledger.policy import bundled_policies, policy_from_mapping
from tests.scenario import PROGRAMME, World, at, event_names, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


def ledger_valid_until(last_year: int = 2030) -> VoucherLedger:
    """Chengdu's numbers, valid long enough to see a 3-year bar end (CD-15 is a parameter)."""
    raw = copy.deepcopy(bundled_policies()["chengdu"].raw)
    raw["validity"]["last_year"]["value"] = last_year
    return VoucherLedger(
        {"chengdu": policy_from_mapping(raw)}, env={"PERSISTENCE_MODULE": "eventsourcing.popo"}
    )


def reimbursed(
    world: World, invoice: str, bill: str = "8000.00", settle: bool = True, day: int = 0
) -> str:
    """A redemption at supplier 0, claimed and reimbursed; returns the payment reference.
    With ``day``, everything happens on that day of March, else in March and April."""
    voucher = world.app.programme(PROGRAMME).voucher_numbers()[0]
    when = [at(3, day)] * 3 if day else [at(3, 10), at(4, 1), at(4, 2)]
    world.redeem(voucher, bill=bill, invoice=invoice, service=when[0].at.date(), ctx=when[0])
    supplier = world.suppliers[0]
    world.app.claim_reimbursement(when[1], supplier, invoice, EVIDENCE)
    events = world.app.reimburse(when[2], supplier, invoice)
    reference = str(events[1].reference)  # type: ignore[attr-defined]
    if settle:
        amount = world.app.payment(reference).amount
        world.app.record_settlement(
            at(4, 3), reference, amount, f"BANK-{invoice}", date(2025, 4, 3)
        )
    return reference


def supplier_case(world: World, finding: date = date(2025, 5, 10)) -> None:
    world.app.open_case(at(5, 1), "C-1", PROGRAMME, world.suppliers[0], "fake invoices")
    world.app.record_fraud_finding(
        at(finding.month, finding.day), "C-1", finding, "forged proofs", ["AUDIT-1"]
    )


def test_a_finding_bars_for_three_years_the_end_date_being_the_first_free_day() -> None:
    app = ledger_valid_until(2030)
    world = World(app, applicants=2, suppliers=1)
    app.open_case(at(3, 1), "C-9", PROGRAMME, world.applicants[0], "fake spend")
    events = app.record_fraud_finding(at(3, 10), "C-9", date(2025, 3, 10), "forged", ["E-1"])
    assert "EntityRecord.Debarred" in event_names(events)
    app.open_programme(at(1, 2, year=2028), "chengdu", 2028)
    last_barred, first_free = at(3, 9, year=2028), at(3, 10, year=2028)
    error = rejected(
        "entity-debarred",
        app.apply_for_voucher,
        last_barred,
        "CD-2028",
        "inclusive",
        world.applicants[0],
    )
    assert error.details == {"case": "C-9", "until": "2028-03-10"}
    assert "until 2028-03-10 (free from that day)" in error.message
    app.apply_for_voucher(first_free, "CD-2028", "inclusive", world.applicants[0])
    # The finding date itself is the first barred day.
    rejected("entity-debarred", world.issue, 0, at(3, 10))


def test_a_finding_cancels_unredeemed_vouchers_which_then_cannot_be_redeemed() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=2)
    voucher = world.issue(0)
    world.redeem(voucher, bill="4000.00", invoice="A")
    world.app.open_case(at(5, 1), "C-2", PROGRAMME, world.applicants[0], "resold voucher")
    events = world.app.record_fraud_finding(at(5, 2), "C-2", date(2025, 5, 2), "resale", ["E"])
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
        world.app.record_settlement,
        at(6, 1),
        unsettled,
        Decimal("1000.00"),
        "B-2",
        date(2025, 6, 1),
    )


def test_a_clawback_larger_than_what_was_paid_is_refused() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    world.issue(0)
    paid = reimbursed(world, "I-1", bill="3000.00")  # 1,500.00 paid
    world.app.open_case(at(5, 1), "C-1", PROGRAMME, world.suppliers[0], "fake invoices")
    rejected(
        "no-finding",
        world.app.demand_clawback,
        at(5, 2),
        "C-1",
        Decimal("1"),
        [paid],
        [],
        date(2025, 6, 30),
    )
    world.app.record_fraud_finding(at(5, 10), "C-1", date(2025, 5, 10), "forged", ["A"])
    rejected(
        "clawback-exceeds-paid",
        world.app.demand_clawback,
        at(5, 12),
        "C-1",
        Decimal("1500.01"),
        [paid],
        [],
        date(2025, 6, 30),
    )
    world.app.demand_clawback(at(5, 12), "C-1", Decimal("1000.00"), [paid], [], date(2025, 6, 30))
    # What was demanded once cannot be demanded again.
    rejected(
        "clawback-exceeds-paid",
        world.app.demand_clawback,
        at(5, 13),
        "C-1",
        Decimal("500.01"),
        [paid],
        [],
        date(2025, 6, 30),
    )


def test_partial_repayments_and_an_offset_bring_the_receivable_to_zero() -> None:
    world = World(ledger_valid_until(), applicants=1, suppliers=1)
    world.issue(0)
    paid = reimbursed(world, "I-1", bill="8000.00")  # 4,000.00 paid
    supplier_case(world)
    world.app.demand_clawback(at(5, 12), "C-1", Decimal("4000.00"), [paid], [], date(2025, 6, 30))
    world.app.record_repayment(at(6, 1), "C-1", Decimal("1000.00"), "R-1", date(2025, 6, 1))
    assert (
        world.app.record_repayment(at(6, 1), "C-1", Decimal("1000.00"), "R-1", date(2025, 6, 1))
        == []
    )  # the same repayment again
    world.app.record_repayment(at(6, 15), "C-1", Decimal("1500.00"), "R-2", date(2025, 6, 15))
    rejected(
        "exceeds-outstanding",
        world.app.record_repayment,
        at(6, 16),
        "C-1",
        Decimal("1500.01"),
        "R-3",
        date(2025, 6, 16),
    )
    # Overturned on appeal: the bar is lifted, the debt stands; a later payment is offset.
    world.app.lift_debarment(at(7, 1), "C-1", "overturned on appeal", "court ruling 123")
    later = reimbursed(world, "I-3", bill="6000.00", settle=False)  # 3,000.00 due
    world.app.offset_clawback(at(7, 5), "C-1", later, None)
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
    world.app.record_credit_listing(
        at(1, 3),
        recent,
        "L-1",
        "serious-dishonesty",
        "信用中国",
        date(2023, 1, 1),
        date(2023, 3, 1),
    )
    world.app.record_credit_listing(
        at(1, 3), old, "L-2", "serious-dishonesty", "信用中国", date(2020, 11, 1), date(2021, 1, 1)
    )
    error = rejected("credit-record-in-lookback", world.issue, 0)
    assert error.details["reference"] == "L-1"
    world.issue(1)


def test_a_safety_blacklist_is_not_a_chengdu_disqualifier_but_an_accident_is() -> None:
    world = World(ledger_valid_until(), applicants=2, suppliers=1)
    world.app.record_credit_listing(
        at(1, 3),
        world.applicants[0],
        "B-1",
        "environmental-credit-blacklist",
        "生态环境局",
        date(2024, 6, 1),
        None,
    )
    world.issue(0)
    world.app.record_credit_listing(
        at(1, 3),
        world.applicants[1],
        "A-1",
        "major-safety-accident",
        "应急管理局",
        date(2024, 6, 1),
        None,
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
        world.app.claim_reimbursement,
        at(3, 23),
        world.suppliers[0],
        "BEFORE",
        EVIDENCE,
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
    world.app.open_case(at(3, 1), "C-P", PROGRAMME, supplier, "property")
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
                    world.app.record_settlement(
                        day, ref, world.app.payment(ref).payable, f"S{n}", day.at.date()
                    )
                    settled.append(ref)
            elif op == "demand":
                if not world.app.case("C-P").found:
                    world.app.record_fraud_finding(day, "C-P", day.at.date(), "x", ["e"])
                world.app.demand_clawback(day, "C-P", amount, settled, [], date(2025, 6, 1))
            elif op == "repay":
                world.app.record_repayment(day, "C-P", amount, f"R{n}", day.at.date())
            elif op == "offset" and open_payments:
                world.app.offset_clawback(day, "C-P", open_payments[0], None)
            elif op == "write-off":
                world.app.write_off(day, "C-P", amount, "uncollectable", "director")
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
