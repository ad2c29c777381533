"""Finance: bank statements, reconciliation against payment instructions, and exceptions.

Reconciliation is a pure function (:func:`match`) from the open instructions and the unmatched
statement lines to outcomes; :func:`record_outcome` records each outcome as events on the
instruction, the statement and, for anything a person must look at, a ``ReconciliationException``
that stays open until resolved with a reason.

Matching: by reference first (the instruction's reference quoted in the bank's remark), then by
payee (account where known, else name) + exact amount + value date within ``window_days`` of
the instruction. A line matching an instruction paid already is a duplicate payment; a line
matching nothing is unexpected; an instruction the bank has not paid ``missing_after_days``
after it was instructed is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.payment import PaymentInstruction


@dataclass(frozen=True)
class StatementLine:
    line: int
    value_date: date
    counterparty_name: str
    counterparty_account: str
    amount: Decimal
    reference: str

    def as_event_data(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "value_date": self.value_date,
            "counterparty_name": self.counterparty_name,
            "counterparty_account": self.counterparty_account,
            "amount": self.amount,
            "reference": self.reference,
        }


class BankStatement(LedgerAggregate):
    """One imported statement; its identity is its content, so importing it twice is one."""

    class Imported(LedgerCreated):
        statement: str
        source: str
        lines: list[dict[str, Any]]

    class LineMatched(LedgerEvent):
        line: int
        payment_reference: str
        outcome: str

        def apply(self, aggregate: BankStatement) -> None:
            aggregate.matched[self.line] = self.outcome

    def __init__(self, statement: str, source: str, lines: list[dict[str, Any]]) -> None:
        self.statement = statement
        self.lines = [StatementLine(**line) for line in lines]
        self.matched: dict[int, str] = {}

    @staticmethod
    def id_for(content_digest: str) -> UUID:
        return stable_id("bank-statement", content_digest)

    @classmethod
    def import_(
        cls, ctx: Context, content_digest: str, source: str, lines: Sequence[StatementLine]
    ) -> BankStatement:
        return cls._create(
            cls.Imported,
            id=cls.id_for(content_digest),
            statement=f"ST-{content_digest[:12].upper()}",
            source=source,
            lines=[line.as_event_data() for line in lines],
            **ctx.fields(),
        )

    def unmatched(self) -> list[StatementLine]:
        return [line for line in self.lines if line.line not in self.matched]

    def mark(self, ctx: Context, line: int, payment_reference: str, outcome: str) -> None:
        self.trigger_event(
            self.LineMatched,
            line=line,
            payment_reference=payment_reference,
            outcome=outcome,
            **ctx.fields(),
        )


class ReconciliationException(LedgerAggregate):
    """Something finance must look at; open until resolved with a reason."""

    class Opened(LedgerCreated):
        reference: str
        kind: str
        payment_reference: str
        statement: str
        line: int
        instructed: Decimal
        paid: Decimal
        detail: str

    class Resolved(LedgerEvent):
        reason: str

        def apply(self, aggregate: ReconciliationException) -> None:
            aggregate.open = False

    def __init__(
        self,
        kind: str,
        payment_reference: str,
        statement: str,
        line: int,
        instructed: Decimal,
        paid: Decimal,
        detail: str,
        reference: str,
    ) -> None:
        self.reference = reference
        self.kind = kind
        self.open = True

    @staticmethod
    def reference_for(kind: str, payment_reference: str, statement: str, line: int) -> str:
        """Readable and stable: one exception per kind and subject."""
        digest = stable_id("exception", kind, payment_reference, statement, line).hex
        return f"EX-{digest[:12].upper()}"

    @staticmethod
    def id_for(reference: str) -> UUID:
        return stable_id("reconciliation-exception", reference)

    @classmethod
    def raise_(
        cls,
        ctx: Context,
        kind: str,
        payment_reference: str = "",
        statement: str = "",
        line: int = 0,
        instructed: Decimal = Decimal("0.00"),
        paid: Decimal = Decimal("0.00"),
        detail: str = "",
    ) -> ReconciliationException:
        reference = cls.reference_for(kind, payment_reference, statement, line)
        return cls._create(
            cls.Opened,
            id=cls.id_for(reference),
            reference=reference,
            kind=kind,
            payment_reference=payment_reference,
            statement=statement,
            line=line,
            instructed=instructed,
            paid=paid,
            detail=detail,
            **ctx.fields(),
        )

    def resolve(self, ctx: Context, reason: str) -> None:
        if not self.open:
            raise Rejected("exception-resolved", "that exception is resolved already")
        self.trigger_event(self.Resolved, reason=reason, **ctx.fields())


# ---- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenInstruction:
    reference: str
    payee_name: str
    payee_account: str
    payable: Decimal
    instructed_on: date
    settled: bool  # paid already: another line for it is a duplicate
    closed: bool  # cancelled or stopped: the bank should not pay it


@dataclass(frozen=True)
class Outcome:
    kind: str  # settled, amount-mismatch, duplicate-payment, paid-after-cancel, unexpected, missing
    # (the bank paying an instruction may also raise settled-unapproved, settled-to-barred-payee)
    payment_reference: str = ""
    statement: str = ""
    line: StatementLine | None = None


def match(
    instructions: Sequence[OpenInstruction],
    lines: Sequence[tuple[str, StatementLine]],
    today: date,
    window_days: int,
    missing_after_days: int,
) -> list[Outcome]:
    """Pure: outcomes for unmatched statement lines and instructions."""
    by_reference = {i.reference.upper(): i for i in instructions}
    taken: set[str] = {i.reference for i in instructions if i.settled}
    outcomes: list[Outcome] = []
    window = timedelta(days=window_days)

    def counterparty_matches(i: OpenInstruction, line: StatementLine) -> bool:
        if i.payee_account and line.counterparty_account:
            return i.payee_account == line.counterparty_account
        return i.payee_name == line.counterparty_name

    for statement, line in sorted(lines, key=lambda sl: (sl[1].value_date, sl[0], sl[1].line)):
        quoted = next((i for ref, i in by_reference.items() if ref in line.reference.upper()), None)
        candidate = quoted or next(
            (
                i
                for i in sorted(instructions, key=lambda i: (i.instructed_on, i.reference))
                if i.reference not in taken
                and not i.closed
                and i.payable == line.amount
                and i.instructed_on <= line.value_date <= i.instructed_on + window
                and counterparty_matches(i, line)
            ),
            None,
        )
        if candidate is None:
            outcomes.append(Outcome("unexpected", "", statement, line))
        elif candidate.closed:
            outcomes.append(Outcome("paid-after-cancel", candidate.reference, statement, line))
        elif candidate.reference in taken:
            outcomes.append(Outcome("duplicate-payment", candidate.reference, statement, line))
        elif line.amount == candidate.payable:
            taken.add(candidate.reference)
            outcomes.append(Outcome("settled", candidate.reference, statement, line))
        else:
            taken.add(candidate.reference)
            outcomes.append(Outcome("amount-mismatch", candidate.reference, statement, line))
    for i in instructions:
        overdue = (today - i.instructed_on).days > missing_after_days
        if i.reference not in taken and not i.closed and overdue:
            outcomes.append(Outcome("missing", i.reference))
    return outcomes


def open_instruction(payment: PaymentInstruction) -> OpenInstruction:
    """What matching needs to know of a payment instruction."""
    return OpenInstruction(
        payment.reference,
        payment.payee_name,
        payment.payee_account,
        payment.payable,
        payment.instructed_on,
        payment.settled is not None or payment.mismatched,
        payment.stopped or payment.cancelled,
    )


def record_outcome(
    ctx: Context,
    outcome: Outcome,
    today: date,
    payment: PaymentInstruction | None,
    statement: BankStatement | None,
    find_exception: Callable[[str], ReconciliationException | None],
    barred: Standing | None = None,
) -> list[ReconciliationException]:
    """What one reconciliation outcome does; returns the exceptions raised or resolved.

    * ``missing``: the instruction is reported missing (with its age in days) and a
      ``missing`` exception opened;
    * every outcome with a statement line marks that line with the outcome and the
      instruction it matched;
    * ``settled``: the instruction is settled with the line's amount, quoting
      ``STATEMENT:LINE`` and the value date; an open ``missing`` exception for it is resolved;
    * ``amount-mismatch``: the instruction records the amount paid, and an exception opens;
    * ``duplicate-payment``, ``paid-after-cancel``, ``unexpected``: an exception opens;
    * ``settled`` and ``amount-mismatch`` (the bank paid the instruction) also open a
      ``settled-unapproved`` exception when it was never approved, and a
      ``settled-to-barred-payee`` one when ``barred`` says the payee was barred on the value
      date (:func:`payment_concerns`).

    An exception has one reference per kind and subject; ``find_exception`` gives the one
    opened by an earlier reconciliation, which is returned as it is rather than opened
    twice."""

    def exception(
        kind: str,
        statement: str = "",
        line: int = 0,
        instructed: Decimal = Decimal("0.00"),
        paid: Decimal = Decimal("0.00"),
        detail: str = "",
    ) -> ReconciliationException:
        payment_reference = outcome.payment_reference
        reference = ReconciliationException.reference_for(kind, payment_reference, statement, line)
        return find_exception(reference) or ReconciliationException.raise_(
            ctx, kind, payment_reference, statement, line, instructed, paid, detail
        )

    line = outcome.line
    paid_on = payment_concerns(payment, line.value_date if line else None, barred)
    if outcome.kind == "missing":
        assert payment is not None
        payment.report_missing(ctx, (today - payment.instructed_on).days)
        return [exception("missing", instructed=payment.payable)]
    assert line is not None and statement is not None
    statement.mark(ctx, line.line, outcome.payment_reference, outcome.kind)
    if outcome.kind == "settled":
        assert payment is not None
        payment.settle(ctx, line.amount, f"{statement.statement}:{line.line}", line.value_date)
        flagged = [
            exception(kind, statement.statement, line.line, payment.payable, line.amount, why)
            for kind, why in paid_on
        ]
        missing = find_exception(
            ReconciliationException.reference_for("missing", payment.reference, "", 0)
        )
        if missing is not None and missing.open:
            missing.resolve(ctx, f"paid on {line.value_date} ({statement.statement})")
            return [missing, *flagged]
        return flagged
    if outcome.kind == "amount-mismatch":
        assert payment is not None
        payment.record_mismatch(ctx, line.amount, statement.statement, line.line)
    instructed = payment.payable if payment else Decimal("0.00")
    return [
        exception(
            outcome.kind,
            statement.statement,
            line.line,
            instructed,
            line.amount,
            " ".join([line.counterparty_name, line.counterparty_account, line.reference]),
        ),
        *(
            exception(kind, statement.statement, line.line, instructed, line.amount, why)
            for kind, why in paid_on
            if outcome.kind == "amount-mismatch"
        ),
    ]


# ---- four eyes: what a payment the bank made tells finance to look at ------------------------

# Standing of a payee on a day, by everything the ledger knows: None, or why it was barred.
Standing = Callable[[PaymentInstruction, date], str | None]


def payment_concerns(
    payment: PaymentInstruction | None, value_date: date | None, barred: Standing | None
) -> list[tuple[str, str]]:
    """Pure: the exceptions (kind, detail) a payment the bank made on ``value_date`` raises
    besides its own outcome: ``settled-unapproved`` when no second person approved the
    instruction (four eyes), ``settled-to-barred-payee`` when the payee was barred (or
    stopped) on the value date by what the ledger knows. The payment is still recorded: the
    bank paid, that is a fact; the exception stays open until resolved with a reason.
    Paying a stopped or cancelled instruction is a ``paid-after-cancel`` outcome already."""
    if payment is None or value_date is None or payment.stopped or payment.cancelled:
        return []
    concerns: list[tuple[str, str]] = []
    if not payment.approved:
        concerns.append(
            (
                "settled-unapproved",
                f"paid on {value_date} though never approved "
                f"(instructed by {payment.instructed_by or 'unknown'})",
            )
        )
    why = barred(payment, value_date) if barred is not None else None
    if why is not None:
        concerns.append(("settled-to-barred-payee", f"paid on {value_date}: {why}"))
    return concerns


def settlement_exceptions(
    ctx: Context,
    payment: PaymentInstruction,
    paid: Decimal,
    value_date: date,
    bank_reference: str,
    barred: Standing | None,
    find_exception: Callable[[str], ReconciliationException | None],
) -> list[ReconciliationException]:
    """The exceptions a settlement finance records by hand (``record-settlement``) raises:
    the same kinds as a reconciled one, one per kind and instruction."""
    raised = []
    for kind, why in payment_concerns(payment, value_date, barred):
        reference = ReconciliationException.reference_for(kind, payment.reference, "", 0)
        if find_exception(reference) is None:
            raised.append(
                ReconciliationException.raise_(
                    ctx,
                    kind,
                    payment.reference,
                    instructed=payment.payable,
                    paid=paid,
                    detail=f"{why} (bank reference {bank_reference})",
                )
            )
    return raised
