"""Finance: settlements, approvals, cancellations and reconciliation exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import uuid4

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context, Events
from ledger.finance import (
    BankStatement,
    ReconciliationException,
    Standing,
    match,
    open_instruction,
    record_outcome,
    settlement_exceptions,
)
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    SUPPLIER,
    reimbursement_reference,
)
from ledger.parsers import FileContent
from ledger.payment import BulkApproval, PaymentInstruction
from ledger.statements import COLUMNS, read_statement
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


@command(
    "approve-payment",
    role="finance",
    clauses=(),
    example={
        "payment": reimbursement_reference("INV-2025-000123"),
        "note": "claim reviewed",
        "at": "2025-04-16T09:00:00+08:00",
    },
)
class ApprovePayment(Command):
    """Approve a payment instruction for the bank."""

    payment: str = arg(p.text(40), "payment instruction reference")
    note: str = arg(p.text(), "approval note", default="")


@handles(ApprovePayment)
def approve_payment(app: VoucherLedger, ctx: Context, cmd: ApprovePayment) -> Events:
    """Four eyes: approved by a finance user who did not instruct it, for a payee in good
    standing (on the business date and by everything already recorded), while it is open."""
    payment = app.payment(cmd.payment)
    if payment.approved and payment.open:
        return []  # approved already
    refusal = approval_refusal(app, ctx, payment)
    if refusal is not None:
        raise refusal
    payment.approve(ctx, cmd.note)
    return app.commit(payment)


def approval_refusal(
    app: VoucherLedger, ctx: Context, payment: PaymentInstruction
) -> Rejected | None:
    """Why ``ctx``'s actor may not approve ``payment``, or None: it is stopped, cancelled or
    settled; they instructed it; the programme is outside their finance role's scope; the
    payee is barred or has a disqualifying credit record."""
    refusal = payment.approval_refusal(ctx)
    if refusal is not None:
        return refusal
    table = app.roles()
    if table is not None and not table.permits(ctx.actor, "finance", payment.programme):
        return Rejected(
            "not-permitted",
            f"{ctx.actor} may not approve payments of {payment.programme}: it needs the "
            "finance role in that programme",
        )
    try:
        app.require_standing(app.programme_terms(payment.programme), payment.payee, ctx)
    except Rejected as barred:
        return barred
    return None


@command(
    "cancel-payment",
    role="finance",
    clauses=(),
    example={
        "payment": reimbursement_reference("INV-2025-000125"),
        "reason": "issued twice in error",
        "at": "2025-04-16T09:00:00+08:00",
    },
)
class CancelPayment(Command):
    """Cancel a payment instruction the bank has not paid; a cancelled one cannot be settled."""

    payment: str = arg(p.text(40), "payment instruction reference")
    reason: str = arg(p.text(), "why")


@handles(CancelPayment)
def cancel_payment(app: VoucherLedger, ctx: Context, cmd: CancelPayment) -> Events:
    payment = app.payment(cmd.payment)
    payment.cancel(ctx, cmd.reason)
    return app.commit(payment)


@command(
    "resolve-exception",
    role="finance",
    clauses=(),
    example={
        "exception": "EX-0123456789AB",
        "reason": "the bank refunded the duplicate on 2025-05-02",
        "at": "2025-05-03T09:00:00+08:00",
    },
)
class ResolveException(Command):
    """Close a reconciliation exception with the reason (e.g. the bank corrected it)."""

    exception: str = arg(p.text(20), "exception reference, e.g. EX-…")
    reason: str = arg(p.text(), "how it was resolved")


@handles(ResolveException)
def resolve_exception(app: VoucherLedger, ctx: Context, cmd: ResolveException) -> Events:
    exception = app.load(
        ReconciliationException,
        ReconciliationException.id_for(cmd.exception),
        "unknown-exception",
        f"no reconciliation exception {cmd.exception}",
    )
    exception.resolve(ctx, cmd.reason)
    return app.commit(exception)


@command(
    "record-settlement",
    role="finance",
    clauses=(),
    example={
        "payment": reimbursement_reference("INV-2025-000123"),
        "amount": "4000.00",
        "bank_reference": "ICBC-20250420-0001",
        "value_date": "2025-04-20",
        "at": "2025-04-21T09:00:00+08:00",
    },
)
class RecordSettlement(Command):
    """Record that the bank paid a payment instruction (amount as instructed less offsets)."""

    payment: str = arg(p.text(40), "payment instruction reference")
    amount: Decimal = arg(p.amount, "amount the bank paid")
    bank_reference: str = arg(p.text(64), "the bank's reference")
    value_date: date = arg(p.date_, "value date")


@handles(RecordSettlement)
def record_settlement(app: VoucherLedger, ctx: Context, cmd: RecordSettlement) -> Events:
    """The bank paid: recorded, and if no second person approved the instruction or the payee
    was barred on the value date, a reconciliation exception opens (four eyes)."""
    payment = app.payment(cmd.payment)
    if payment.settled is not None and payment.settled == cmd.amount:
        return []  # the same settlement again
    payment.settle(ctx, cmd.amount, cmd.bank_reference, cmd.value_date)
    exceptions = settlement_exceptions(
        ctx,
        payment,
        cmd.amount,
        cmd.value_date,
        cmd.bank_reference,
        payee_standing(app),
        lambda reference: app.find(ReconciliationException.id_for(reference)),
    )
    return app.commit(payment, *exceptions)


def payee_standing(app: VoucherLedger) -> Standing:
    """Whether a payment's payee was barred on a day, by every bar and listing recorded (the
    programme's policy says what disqualifies): None, or why."""

    def barred(payment: PaymentInstruction, day: date) -> str | None:
        record = app.entity_record(payment.payee)
        if record is None:
            return None
        try:
            record.require_in_good_standing(app.programme_terms(payment.programme).policy, day)
        except Rejected as refusal:
            return f"{refusal.code}: {refusal.message}"
        return None

    return barred


@command(
    "import-statement",
    role="finance",
    example={"file": "docs/samples/statement-2025-04.csv", "at": "2025-04-30T17:00:00+08:00"},
)
class ImportStatement(Command):
    """Import a bank statement (CSV: UTF-8, UTF-8 with BOM or GBK; English or Chinese
    headers). A malformed file is refused whole; the same content again changes nothing."""

    file: FileContent = arg(p.file_content, "the statement file (CSV)", shape="file")
    column: dict[str, str] = arg(
        p.keyed(p.text(64), tuple(COLUMNS)),
        "map a field (" + ", ".join(COLUMNS) + ") to a header the file uses: FIELD=HEADER",
        shape="pairs",
        default_factory=dict,
    )

    def check(self) -> None:
        read_statement(self.file.data, self.column)


@handles(ImportStatement)
def import_statement(app: VoucherLedger, ctx: Context, cmd: ImportStatement) -> Events:
    """A statement's identity is its content: importing the same one again changes
    nothing."""
    digest, lines = read_statement(cmd.file.data, cmd.column)
    if app.find(BankStatement.id_for(digest)) is not None:
        return []
    return app.commit(BankStatement.import_(ctx, digest, cmd.file.name, lines))


@command("reconcile", role="finance", example={"at": "2025-05-15T17:00:00+08:00"})
class Reconcile(Command):
    """Match imported statement lines with payment instructions: by reference, then by payee,
    amount and date; every outcome is recorded and every exception stays open until
    resolved."""

    window_days: int = arg(
        p.count(0, 366),
        "a payment matched by payee and amount may come this many days after the instruction",
        default=15,
    )
    missing_after_days: int = arg(
        p.count(1, 3660), "an instruction unpaid this many days later is missing", default=30
    )


@handles(Reconcile)
def reconcile(app: VoucherLedger, ctx: Context, cmd: Reconcile) -> Events:
    """Match the statements' unmatched lines with the open instructions and record every
    outcome: the read side finds the candidates; the aggregates decide."""
    payment_refs, statement_ids = app.reconciliation_candidates()
    payments = {r: app.payment(r) for r in payment_refs}
    statements = [
        app.load(BankStatement, i, "unknown-statement", f"no statement {i}") for i in statement_ids
    ]
    by_name = {s.statement: s for s in statements}
    open_instructions = [open_instruction(p) for p in payments.values()]
    lines = [(s.statement, line) for s in statements for line in s.unmatched()]
    today = local_date(ctx.at)
    exceptions: list[Aggregate] = []
    for outcome in match(open_instructions, lines, today, cmd.window_days, cmd.missing_after_days):
        exceptions += record_outcome(
            ctx,
            outcome,
            today,
            payments.get(outcome.payment_reference),
            by_name.get(outcome.statement),
            lambda reference: app.find(ReconciliationException.id_for(reference)),
            payee_standing(app),
        )
    return app.commit(*statements, *payments.values(), *exceptions)


@command(
    "approve-payments",
    role="finance",
    clauses=(),
    example={
        "programme": "CD-2025",
        "purpose": "inclusive-voucher-reimbursement",
        "payee": SUPPLIER,
        "up_to": "2025-04-30",
        "note": "April reimbursements reviewed",
        "preview": "yes",
        "at": "2025-05-06T09:00:00+08:00",
    },
)
class ApprovePayments(Command):
    """Approve in one go every open, unapproved payment instruction matching the filters;
    those the approver may not approve (their own instructions, barred payees) are skipped
    and listed. With preview: yes nothing is stored: it lists what would be approved."""

    programme: str | None = arg(p.programme, "only this programme", default=None)
    purpose: str | None = arg(
        p.text(64), "only this purpose, e.g. inclusive-voucher-reimbursement", default=None
    )
    payee: str | None = arg(p.credit_code, "only this payee (credit code)", default=None)
    up_to: date | None = arg(p.date_, "only those instructed on or before this date", default=None)
    note: str = arg(p.text(), "approval note", default="")
    preview: bool = arg(
        p.boolean, "yes: store nothing, list what would be approved and skipped", default=False
    )


@dataclass(frozen=True)
class PlannedApproval:
    """One instruction a bulk approval matched: approved, or skipped and why."""

    reference: str
    payee: str
    payee_name: str
    amount: Decimal
    programme: str
    purpose: str
    instructed_on: date
    instructed_by: str
    code: str  # "" when it is (or would be) approved
    message: str


def plan_approvals(app: VoucherLedger, ctx: Context, cmd: ApprovePayments) -> list[PlannedApproval]:
    """Every open, unapproved instruction matching the filters, oldest first, each with the
    rule that stops ``ctx``'s actor approving it, if one does. The candidates come from the
    read side (as reconciliation's do); each instruction's own aggregate decides."""
    references, _ = app.reconciliation_candidates()
    planned = []
    for reference in references:
        payment = app.payment(reference)
        if payment.approved or not payment.open:
            continue
        if (
            (cmd.programme and payment.programme != cmd.programme)
            or (cmd.purpose and payment.purpose != cmd.purpose)
            or (cmd.payee and payment.payee != cmd.payee)
            or (cmd.up_to and payment.instructed_on > cmd.up_to)
        ):
            continue
        refusal = approval_refusal(app, ctx, payment)
        planned.append(
            PlannedApproval(
                payment.reference,
                payment.payee,
                payment.payee_name,
                payment.payable,
                payment.programme,
                payment.purpose,
                payment.instructed_on,
                payment.instructed_by,
                refusal.code if refusal else "",
                refusal.message if refusal else "",
            )
        )
    return sorted(planned, key=lambda a: (a.instructed_on, a.reference))


@handles(ApprovePayments)
def approve_payments(app: VoucherLedger, ctx: Context, cmd: ApprovePayments) -> Events:
    """Approve what :func:`plan_approvals` allows; one :class:`BulkApproval` record says what
    was approved and what was skipped and why. A preview stores nothing."""
    planned = plan_approvals(app, ctx, cmd)
    if cmd.preview or not planned:
        return []
    approved = [app.payment(a.reference) for a in planned if not a.code]
    for payment in approved:
        payment.approve(ctx, cmd.note)
    run = BulkApproval._create(
        BulkApproval.Run,
        id=uuid4(),
        filters={k: v for k, v in cmd.content().items() if k not in ("note", "preview")},
        note=cmd.note,
        approved=[payment.reference for payment in approved],
        skipped=[
            {"reference": a.reference, "code": a.code, "message": a.message}
            for a in planned
            if a.code
        ],
        **ctx.fields(),
    )
    return app.commit(*approved, run)
