"""Finance: settlements, approvals, cancellations and reconciliation exceptions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.clock import local_date
from ledger.events import Context, Events
from ledger.finance import (
    BankStatement,
    ReconciliationException,
    match,
    open_instruction,
    record_outcome,
)
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    reimbursement_reference,
)
from ledger.parsers import FileContent
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
    payment = app.payment(cmd.payment)
    payment.approve(ctx, cmd.note)
    return app.commit(payment)


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
    payment = app.payment(cmd.payment)
    if payment.settled is not None and payment.settled == cmd.amount:
        return []  # the same settlement again
    payment.settle(ctx, cmd.amount, cmd.bank_reference, cmd.value_date)
    return app.commit(payment)


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
        )
    return app.commit(*statements, *payments.values(), *exceptions)
