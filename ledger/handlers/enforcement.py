"""Enforcement: credit records, fraud cases, bars, clawbacks and their receivables (CD-3, CD-11)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger import parsers as p
from ledger.clock import local_date
from ledger.enforcement import Case, EntityRecord, split_clawback
from ledger.entities import Applicant, Supplier
from ledger.errors import Rejected
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    SUPPLIER,
    reimbursement_reference,
)
from ledger.payment import PaymentInstruction
from ledger.policy import (
    CREDIT_RECORD_KINDS,
)
from ledger.vocabulary import Command, arg, command
from ledger.voucher import Voucher

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


def _require_registered(app: VoucherLedger, credit_code: str) -> None:
    if (
        app.find(Applicant.id_for(credit_code)) is None
        and app.find(Supplier.id_for(credit_code)) is None
    ):
        raise Rejected("applicant-not-registered", f"nothing is registered under {credit_code}")


@command(
    "open-case",
    role="enforcement",
    clauses=(),
    example={
        "case": "CASE-2025-001",
        "programme": "CD-2025",
        "entity": SUPPLIER,
        "description": "invoices for compute never delivered",
        "at": "2025-05-01T09:00:00+08:00",
    },
)
class OpenCase(Command):
    """Open a fraud case against an entity under a programme."""

    case: str = arg(p.text(64), "case reference")
    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    entity: str = arg(p.credit_code, "credit code of the entity investigated")
    description: str = arg(p.text(), "what is investigated")


@handles(OpenCase)
def open_case(app: VoucherLedger, ctx: Context, cmd: OpenCase) -> Events:
    terms = app.programme_terms(cmd.programme)
    _require_registered(app, cmd.entity)
    if app.find(Case.id_for(cmd.case)) is not None:
        raise Rejected("case-exists", f"case {cmd.case} is open already")
    return app.commit(Case.open(ctx, cmd.case, terms.name, cmd.entity, cmd.description))


@command(
    "record-fraud-finding",
    role="enforcement",
    clauses=("CD-11",),
    example={
        "case": "CASE-2025-001",
        "finding_date": "2025-05-10",
        "finding": "service proofs forged for INV-2025-000123",
        "evidence": ["AUDIT-2025-17", "TAX-BUREAU-LETTER-88"],
        "at": "2025-05-10T15:00:00+08:00",
    },
)
class RecordFraudFinding(Command):
    """Record a fraud finding: the entity is barred for 3 years from the finding date, its
    unredeemed vouchers are cancelled and its unsettled payments stopped (CD-11)."""

    case: str = arg(p.text(64), "case reference")
    finding_date: date = arg(p.date_, "date of the finding: the first barred day")
    finding: str = arg(p.text(), "what was found")
    evidence: list[str] = arg(p.repeated(p.text()), "evidence references", shape="list")


@handles(RecordFraudFinding)
def record_fraud_finding(app: VoucherLedger, ctx: Context, cmd: RecordFraudFinding) -> Events:
    """CD-11: bar the entity, cancel its unredeemed vouchers, stop its unsettled payments."""
    case = app.case(cmd.case)
    terms = app.programme_terms(case.programme)
    record = app.entity_record(case.entity) or EntityRecord.start(ctx, case.entity)
    bar = record.debar(ctx, case.reference, terms.policy, cmd.finding_date)
    vouchers = [app.voucher(n) for n in record.vouchers]
    cancelled = {v.number: amount for v in vouchers if (amount := v.cancel(ctx, cmd.case))}
    payments = [app.payment(r) for r in record.payments]
    stopped = [p.reference for p in payments if p.stop(ctx, cmd.case)]
    case.record_finding(
        ctx, terms.policy, cmd.finding_date, cmd.finding, cmd.evidence, bar, cancelled, stopped
    )
    return app.commit(case, record, *vouchers, *payments)


@command(
    "demand-clawback",
    role="enforcement",
    clauses=("CD-11",),
    example={
        "case": "CASE-2025-001",
        "amount": "4000.00",
        "payments": [reimbursement_reference("INV-2025-000123")],
        "due_date": "2025-06-30",
        "at": "2025-05-12T09:00:00+08:00",
    },
)
class DemandClawback(Command):
    """Demand repayment of money paid — never more than was paid and not yet demanded; creates a
    receivable due on a date (CD-11)."""

    case: str = arg(p.text(64), "case reference")
    amount: Decimal = arg(p.amount, "amount demanded")
    payments: list[str] = arg(
        p.repeated(p.text(40)),
        "settled payment references recovered",
        shape="list",
        default_factory=list,
    )
    vouchers: list[str] = arg(
        p.repeated(p.text(40)),
        "vouchers whose deducted value is recovered from the holder",
        shape="list",
        default_factory=list,
    )
    due_date: date = arg(p.date_, "repayment due date")


@handles(DemandClawback)
def demand_clawback(app: VoucherLedger, ctx: Context, cmd: DemandClawback) -> Events:
    """CD-11: recover the money paid — never more than was paid and not yet demanded."""
    case = app.case(cmd.case)
    sources: list[PaymentInstruction | Voucher] = [app.payment(r) for r in cmd.payments]
    sources += [app.voucher(n) for n in cmd.vouchers]
    split = split_clawback(case.entity, cmd.amount, [s.recoverable for s in sources])
    for source, take in zip(sources, split.takes, strict=True):
        if take > 0:
            source.claim_back(ctx, cmd.case, take)
    case.demand(ctx, cmd.amount, split.of("payment"), split.of("voucher"), cmd.due_date)
    return app.commit(case, *sources)


@command(
    "record-repayment",
    role="enforcement",
    clauses=(),
    example={
        "case": "CASE-2025-001",
        "amount": "1500.00",
        "bank_reference": "CCB-20250615-7781",
        "value_date": "2025-06-15",
        "at": "2025-06-16T09:00:00+08:00",
    },
)
class RecordRepayment(Command):
    """Record a repayment against a case's receivable; more than is outstanding is refused."""

    case: str = arg(p.text(64), "case reference")
    amount: Decimal = arg(p.amount, "amount repaid")
    bank_reference: str = arg(p.text(64), "bank reference (a repeat changes nothing)")
    value_date: date = arg(p.date_, "value date")


@handles(RecordRepayment)
def record_repayment(app: VoucherLedger, ctx: Context, cmd: RecordRepayment) -> Events:
    case = app.case(cmd.case)
    case.record_repayment(ctx, cmd.amount, cmd.bank_reference, cmd.value_date)
    return app.commit(case)


@command(
    "write-off",
    role="enforcement",
    clauses=(),
    example={
        "case": "CASE-2025-001",
        "amount": "500.00",
        "reason": "court-approved settlement",
        "approver": "director Li",
        "at": "2025-07-01T09:00:00+08:00",
    },
)
class WriteOff(Command):
    """Write off part of a receivable, with the reason and the approver."""

    case: str = arg(p.text(64), "case reference")
    amount: Decimal = arg(p.amount, "amount written off")
    reason: str = arg(p.text(), "why")
    approver: str = arg(p.text(100), "who approved")


@handles(WriteOff)
def write_off(app: VoucherLedger, ctx: Context, cmd: WriteOff) -> Events:
    case = app.case(cmd.case)
    case.write_off(ctx, cmd.amount, cmd.reason, cmd.approver)
    return app.commit(case)


@command(
    "lift-debarment",
    role="enforcement",
    clauses=(),
    example={
        "case": "CASE-2025-001",
        "reason": "finding on the bar overturned on appeal; the repayment stands",
        "authority": "Chengdu intermediate court (2025) 川01行终123",
        "at": "2025-08-01T09:00:00+08:00",
    },
)
class LiftDebarment(Command):
    """Lift a case's bar, with the reason and the authority (e.g. overturned on appeal). The
    history keeps both the bar and its lifting."""

    case: str = arg(p.text(64), "case reference")
    reason: str = arg(p.text(), "why the bar is lifted")
    authority: str = arg(p.text(), "the decision lifting it")


@handles(LiftDebarment)
def lift_debarment(app: VoucherLedger, ctx: Context, cmd: LiftDebarment) -> Events:
    case = app.case(cmd.case)
    record = app.entity_record(case.entity)
    if record is None:
        raise Rejected("debarment-not-found", f"no bar under case {cmd.case}")
    record.lift(ctx, cmd.case, local_date(ctx.at), cmd.reason, cmd.authority)
    return app.commit(record)


@command(
    "offset-clawback",
    role="enforcement",
    clauses=(),
    example={
        "case": "CASE-2025-001",
        "payment": reimbursement_reference("INV-2025-000124"),
        "at": "2025-08-21T09:00:00+08:00",
    },
)
class OffsetClawback(Command):
    """Set a receivable against a later payment due to the same entity (default: as much as both
    allow)."""

    case: str = arg(p.text(64), "case reference")
    payment: str = arg(p.text(40), "open payment instruction to the entity")
    amount: Decimal | None = arg(p.amount, "amount to offset", default=None)


@handles(OffsetClawback)
def offset_clawback(app: VoucherLedger, ctx: Context, cmd: OffsetClawback) -> Events:
    """Keep part of a later payment due to the same entity against its receivable."""
    case = app.case(cmd.case)
    payment = app.payment(cmd.payment)
    take = case.offset_from(ctx, payment.payee, payment.reference, payment.payable, cmd.amount)
    payment.offset_against(ctx, cmd.case, take)
    return app.commit(case, payment)


@command(
    "record-credit-listing",
    role="enforcement",
    clauses=("CD-3",),
    example={
        "entity": "91510100MA61R0BQ4E",
        "reference": "CREDIT-CHINA-2025-0912",
        "kind": "serious-dishonesty",
        "source": "信用中国 Credit China",
        "listed_from": "2025-09-01",
        "at": "2025-09-02T09:00:00+08:00",
    },
)
class RecordCreditListing(Command):
    """Record a credit record of an entity: serious-dishonesty listing, major safety accident or
    a blacklist entry, with its source and period (CD-3)."""

    entity: str = arg(p.credit_code, "credit code")
    reference: str = arg(p.text(64), "the record's reference")
    kind: str = arg(p.choice(*CREDIT_RECORD_KINDS), " / ".join(CREDIT_RECORD_KINDS))
    source: str = arg(p.text(), "who published it")
    listed_from: date = arg(p.date_, "first day listed")
    listed_until: date | None = arg(p.date_, "last day listed, if known", default=None)


@handles(RecordCreditListing)
def record_credit_listing(app: VoucherLedger, ctx: Context, cmd: RecordCreditListing) -> Events:
    _require_registered(app, cmd.entity)
    record = app.entity_record(cmd.entity) or EntityRecord.start(ctx, cmd.entity)
    record.record_credit(
        ctx, cmd.reference, cmd.kind, cmd.source, cmd.listed_from, cmd.listed_until
    )
    return app.commit(record)


@command(
    "end-credit-listing",
    role="enforcement",
    clauses=(),
    example={
        "entity": "91510100MA61R0BQ4E",
        "reference": "CREDIT-CHINA-2025-0912",
        "ended_on": "2025-10-01",
        "at": "2025-10-02T09:00:00+08:00",
    },
)
class EndCreditListing(Command):
    """Record the end of a credit record's listing period."""

    entity: str = arg(p.credit_code, "credit code")
    reference: str = arg(p.text(64), "the record's reference")
    ended_on: date = arg(p.date_, "last day listed")


@handles(EndCreditListing)
def end_credit_listing(app: VoucherLedger, ctx: Context, cmd: EndCreditListing) -> Events:
    record = app.entity_record(cmd.entity)
    if record is None:
        raise Rejected("unknown-credit-record", f"{cmd.entity} has no credit records")
    record.end_credit(ctx, cmd.reference, cmd.ended_on)
    return app.commit(record)
