"""Decider tests for the clawback split (CD-11: 追回已兑现资金 — recover the money paid): given
the payments settled and the vouchers used, when an amount is demanded, then how it is taken
from each, or the named refusal. Payments and vouchers are built from their events; no ledger,
no database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from ledger.enforcement import Bar, Case, Recoverable, split_clawback
from ledger.errors import Rejected
from ledger.events import Context
from ledger.payment import PaymentInstruction
from ledger.policy import DEDUCTION_VOUCHER, bundled_policies
from ledger.voucher import Voucher

CTX = Context(datetime(2025, 5, 12, 9, tzinfo=ZoneInfo("Asia/Shanghai")), "enforcer", "cmd-1")
ENTITY, SOMEONE_ELSE = "E-FRAUD", "E-OTHER"


def paid(key: str, clawable: str, owner: str = ENTITY) -> Recoverable:
    return Recoverable("payment", key, owner, Decimal(clawable))


def used(key: str, clawable: str, owner: str = ENTITY) -> Recoverable:
    return Recoverable("voucher", key, owner, Decimal(clawable))


def refusal(amount: str, *sources: Recoverable) -> str:
    with pytest.raises(Rejected) as refused:
        split_clawback(ENTITY, Decimal(amount), sources)
    return refused.value.code


# ---- the split, as a pure function ------------------------------------------------------------


def test_the_amount_is_taken_from_the_sources_in_the_order_named() -> None:
    split = split_clawback(
        ENTITY, Decimal(5000), [paid("PI-1", "4000.00"), paid("PI-2", "3000.00")]
    )
    assert split.takes == (Decimal("4000.00"), Decimal("1000.00"))
    assert split.of("payment") == {"PI-1": Decimal("4000.00"), "PI-2": Decimal("1000.00")}
    assert split.of("voucher") == {}


def test_payments_and_vouchers_are_recorded_apart() -> None:
    split = split_clawback(ENTITY, Decimal(600), [paid("PI-1", "500.00"), used("V-1", "300.00")])
    assert split.of("payment") == {"PI-1": Decimal("500.00")}
    assert split.of("voucher") == {"V-1": Decimal("100.00")}


def test_a_source_nothing_is_taken_from_is_left_out_of_the_demand() -> None:
    split = split_clawback(ENTITY, Decimal(100), [paid("PI-1", "100.00"), paid("PI-2", "50.00")])
    assert split.takes == (Decimal("100.00"), Decimal("0.00"))
    assert split.of("payment") == {"PI-1": Decimal("100.00")}


def test_all_that_was_paid_and_not_yet_demanded_may_be_demanded() -> None:
    split = split_clawback(ENTITY, Decimal(150), [paid("PI-1", "100.00"), used("V-1", "50.00")])
    assert sum(split.takes) == Decimal(150)


def test_more_than_paid_and_not_yet_demanded_is_refused() -> None:
    assert refusal("150.01", paid("PI-1", "100.00"), used("V-1", "50.00")) == (
        "clawback-exceeds-paid"
    )


def test_naming_no_source_is_refused() -> None:
    assert refusal("1.00") == "nothing-to-claw-back"


def test_money_paid_to_another_entity_cannot_be_demanded_from_this_one() -> None:
    assert refusal("1.00", paid("PI-1", "100.00", owner=SOMEONE_ELSE)) == "not-the-entitys"


def test_the_owner_is_checked_before_the_amount() -> None:
    assert refusal("999.00", paid("PI-1", "1.00", owner=SOMEONE_ELSE)) == "not-the-entitys"


# ---- what a payment and a voucher offer for recovery, from their events -----------------------


def instructed(amount: str = "4000.00") -> PaymentInstruction:
    return PaymentInstruction.instruct(
        CTX,
        payee=ENTITY,
        payee_name="Fraud Co",
        payee_account="6222 0000",
        instrument="inclusive",
        amount=Decimal(amount),
        purpose="inclusive-voucher-reimbursement",
        programme="CD-2025",
        year=2025,
        funding_source="city",
        decision=f"reimbursement:{uuid4()}",
        basis={},
    )


def test_an_unpaid_instruction_offers_nothing_to_claw_back() -> None:
    assert instructed().recoverable.clawable == Decimal("0.00")


def test_a_settled_payment_offers_what_was_paid_less_what_was_demanded() -> None:
    payment = instructed("4000.00")
    payment.settle(CTX, Decimal("4000.00"), "ICBC-1", date(2025, 4, 20))
    assert payment.recoverable == Recoverable(
        "payment", payment.reference, ENTITY, Decimal("4000.00")
    )
    payment.claim_back(CTX, "CASE-1", Decimal("1500.00"))
    assert payment.recoverable.clawable == Decimal("2500.00")
    assert type(payment.collect_events()[-1]).__name__ == "ClawbackClaimed"


def test_a_voucher_offers_what_its_holder_deducted_not_what_is_left_on_it() -> None:
    instrument = bundled_policies()["chengdu"].instrument_of_type(DEDUCTION_VOUCHER)
    voucher = Voucher.issue(CTX, "CD-2025-INC-0001", "CD-2025", 2025, instrument, ENTITY)
    assert voucher.recoverable.clawable == Decimal("0.00")
    voucher.redeem(CTX, uuid4(), "S-1", "INV-1", Decimal("8000.00"), Decimal("4000.00"))
    assert voucher.recoverable == Recoverable(
        "voucher", "CD-2025-INC-0001", ENTITY, Decimal("4000.00")
    )


# ---- offsetting a receivable against a later payment ------------------------------------------


def case_demanding(amount: str) -> Case:
    """Given a case against ENTITY with a finding and a demand of ``amount``."""
    policy = bundled_policies()["chengdu"]
    case = Case.open(CTX, "CASE-1", "CD-2025", ENTITY, "forged proofs")
    bar = Bar("CASE-1", policy.id, date(2025, 5, 10), date(2028, 5, 10))
    case.record_finding(CTX, policy, date(2025, 5, 10), "forged", ["A-1"], bar, {}, [])
    case.demand(CTX, Decimal(amount), {"PI-1": Decimal(amount)}, {}, date(2025, 6, 30))
    case.collect_events()
    return case


def test_by_default_an_offset_takes_as_much_as_both_allow() -> None:
    case = case_demanding("1500.00")
    assert case.offset_from(CTX, ENTITY, "PI-9", Decimal("4000.00"), None) == Decimal("1500.00")
    [offset] = case.collect_events()
    assert type(offset).__qualname__ == "Case.OffsetAgainstPayment"
    assert case.outstanding == Decimal("0.00")
    smaller_payment = case_demanding("1500.00")
    assert smaller_payment.offset_from(CTX, ENTITY, "PI-9", Decimal(600), None) == Decimal(600)


def test_an_offset_names_its_amount_up_to_what_is_outstanding() -> None:
    case = case_demanding("1500.00")
    assert case.offset_from(CTX, ENTITY, "PI-9", Decimal(4000), Decimal(500)) == Decimal(500)
    with pytest.raises(Rejected) as refused:
        case.offset_from(CTX, ENTITY, "PI-9", Decimal(4000), Decimal("1000.01"))
    assert refused.value.code == "exceeds-outstanding"


def test_a_payment_due_to_someone_else_cannot_be_offset() -> None:
    with pytest.raises(Rejected) as refused:
        case_demanding("1500.00").offset_from(CTX, SOMEONE_ELSE, "PI-9", Decimal(4000), None)
    assert refused.value.code == "not-the-entitys"
