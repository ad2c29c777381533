"""Decider tests for reconciliation outcomes: given a payment instruction and an imported
statement (built from their events), when an outcome of matching is recorded, then these
events on the instruction, the statement line and the exceptions. No ledger, no database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ledger.events import Context
from ledger.finance import (
    BankStatement,
    Outcome,
    ReconciliationException,
    StatementLine,
    match,
    open_instruction,
    record_outcome,
)
from ledger.payment import PaymentInstruction

CTX = Context(datetime(2025, 5, 15, 17, tzinfo=ZoneInfo("Asia/Shanghai")), "finance", "cmd-1")
TODAY = date(2025, 5, 15)


def instructed(amount: str = "4000.00") -> PaymentInstruction:
    """Given a payment instruction of 2025-04-15 by a clerk, approved by finance (a second
    person), so the bank may pay it."""
    ctx = Context(datetime(2025, 4, 15, 9, tzinfo=ZoneInfo("Asia/Shanghai")), "clerk", "cmd-0")
    payment = PaymentInstruction.instruct(
        ctx,
        payee="S-1",
        payee_name="Supplier One",
        payee_account="6222 0001",
        instrument="inclusive",
        amount=Decimal(amount),
        purpose="inclusive-voucher-reimbursement",
        programme="CD-2025",
        year=2025,
        funding_source="city",
        decision="reimbursement:1",
        basis={},
    )
    payment.approve(CTX, "reviewed")
    payment.collect_events()
    return payment


def statement_paying(payment: PaymentInstruction, amount: str) -> BankStatement:
    """Given an imported statement with one line quoting the payment's reference."""
    line = StatementLine(
        1, date(2025, 4, 20), "Supplier One", "6222 0001", Decimal(amount), payment.reference
    )
    statement = BankStatement.import_(CTX, "ab" * 32, "statement.csv", [line])
    statement.collect_events()
    return statement


def events_of(*aggregates: object) -> list[str]:
    return [
        type(e).__qualname__
        for a in aggregates
        for e in a.collect_events()  # type: ignore[attr-defined]
    ]


def no_exceptions(reference: str) -> ReconciliationException | None:
    return None


def outcome_for(payment: PaymentInstruction, statement: BankStatement) -> Outcome:
    """When matching runs (the pure function) on them."""
    lines = [(statement.statement, line) for line in statement.unmatched()]
    [outcome] = match([open_instruction(payment)], lines, TODAY, 15, 30)
    return outcome


def test_a_line_paying_the_instruction_settles_it_and_marks_the_line() -> None:
    payment = instructed("4000.00")
    statement = statement_paying(payment, "4000.00")
    outcome = outcome_for(payment, statement)
    assert outcome.kind == "settled"
    raised = record_outcome(CTX, outcome, TODAY, payment, statement, no_exceptions)
    assert raised == []
    assert events_of(payment, statement) == [
        "PaymentInstruction.Settled",
        "BankStatement.LineMatched",
    ]
    assert payment.settled == Decimal("4000.00")
    assert statement.matched == {1: "settled"}


def test_settling_resolves_an_open_missing_exception_of_the_instruction() -> None:
    payment = instructed()
    statement = statement_paying(payment, "4000.00")
    missing = ReconciliationException.raise_(CTX, "missing", payment.reference)
    missing.collect_events()
    known = {missing.reference: missing}
    raised = record_outcome(
        CTX, outcome_for(payment, statement), TODAY, payment, statement, known.get
    )
    assert raised == [missing]
    assert events_of(missing) == ["ReconciliationException.Resolved"]
    assert not missing.open


def test_a_line_paying_another_amount_records_the_mismatch_and_opens_an_exception() -> None:
    payment = instructed("4000.00")
    statement = statement_paying(payment, "3999.00")
    outcome = outcome_for(payment, statement)
    assert outcome.kind == "amount-mismatch"
    [exception] = record_outcome(CTX, outcome, TODAY, payment, statement, no_exceptions)
    assert events_of(payment, statement, exception) == [
        "PaymentInstruction.AmountMismatched",
        "BankStatement.LineMatched",
        "ReconciliationException.Opened",
    ]
    assert payment.reconciliation_state == "mismatch"
    assert (exception.kind, exception.open) == ("amount-mismatch", True)


def test_a_line_paying_a_cancelled_instruction_opens_paid_after_cancel() -> None:
    payment = instructed()
    payment.cancel(CTX, "issued twice")
    payment.collect_events()
    statement = statement_paying(payment, "4000.00")
    outcome = outcome_for(payment, statement)
    assert outcome.kind == "paid-after-cancel"
    [exception] = record_outcome(CTX, outcome, TODAY, payment, statement, no_exceptions)
    assert events_of(payment, statement) == ["BankStatement.LineMatched"]
    assert exception.kind == "paid-after-cancel"


def test_a_second_line_for_a_settled_instruction_is_a_duplicate_payment() -> None:
    payment = instructed()
    payment.settle(CTX, Decimal("4000.00"), "ICBC-1", date(2025, 4, 20))
    payment.collect_events()
    statement = statement_paying(payment, "4000.00")
    outcome = outcome_for(payment, statement)
    assert outcome.kind == "duplicate-payment"
    [exception] = record_outcome(CTX, outcome, TODAY, payment, statement, no_exceptions)
    assert events_of(payment, statement, exception) == [
        "BankStatement.LineMatched",
        "ReconciliationException.Opened",
    ]


def test_a_line_matching_nothing_is_unexpected() -> None:
    line = StatementLine(7, date(2025, 4, 20), "Nobody", "9999", Decimal("12.00"), "gift")
    statement = BankStatement.import_(CTX, "cd" * 32, "statement.csv", [line])
    statement.collect_events()
    outcome = Outcome("unexpected", "", statement.statement, line)
    [exception] = record_outcome(CTX, outcome, TODAY, None, statement, no_exceptions)
    assert statement.matched == {7: "unexpected"}
    assert (exception.kind, exception.open) == ("unexpected", True)


def test_an_instruction_unpaid_too_long_is_reported_missing_with_its_age() -> None:
    payment = instructed()
    outcome = Outcome("missing", payment.reference)
    [exception] = record_outcome(CTX, outcome, TODAY, payment, None, no_exceptions)
    [reported] = payment.collect_events()
    assert type(reported).__qualname__ == "PaymentInstruction.ReportedMissing"
    assert reported.days == 30  # type: ignore[attr-defined]
    assert exception.kind == "missing"


def test_an_exception_opened_before_is_not_opened_twice() -> None:
    payment = instructed()
    earlier = ReconciliationException.raise_(
        CTX, "missing", payment.reference, instructed=payment.payable
    )
    earlier.collect_events()
    payment.report_missing(CTX, 31)
    payment.collect_events()
    known = {earlier.reference: earlier}
    [exception] = record_outcome(
        CTX, Outcome("missing", payment.reference), TODAY, payment, None, known.get
    )
    assert exception is earlier
    assert events_of(payment, exception) == []  # reported already, opened already
