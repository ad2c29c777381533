"""Payment instructions: every decision that moves money records one (finance reconciles them
against the bank). The id derives from the purpose and the decision, so a decision can never
instruct the same payment twice."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.clock import local_date
from ledger.enforcement import Recoverable
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import ZERO


def people(actor: str) -> set[str]:
    """The persons an event's ``actor`` names: the actor, and whoever entered the command on
    their behalf (``"li (entered by admin)"``, see :meth:`Context.fields`)."""
    name, sep, rest = actor.partition(" (entered by ")
    return {name, rest.removesuffix(")")} - {""} if sep else {actor} - {""}


class PaymentInstruction(LedgerAggregate):
    class Instructed(LedgerCreated):
        reference: str
        payee: str
        payee_name: str
        payee_account: str
        instrument: str
        amount: Decimal
        purpose: str
        programme: str
        year: int
        funding_source: str
        decision: str
        basis: dict[str, Any]

    class Approved(LedgerEvent):
        """Finance approved it for payment."""

        note: str

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.approved = True
            aggregate.approved_by = self.actor

    class Cancelled(LedgerEvent):
        reason: str

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.cancelled = True

    class AmountMismatched(LedgerEvent):
        """The bank paid a different amount (reconciliation)."""

        paid: Decimal
        statement: str
        line: int

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.mismatched = True

    class ReportedMissing(LedgerEvent):
        """Not in the bank's statements long after it was instructed (reconciliation)."""

        days: int

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.missing = True

    class Settled(LedgerEvent):
        """The bank paid it (finance's record)."""

        amount: Decimal
        bank_reference: str
        value_date: date

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.settled = self.amount

    class Stopped(LedgerEvent):
        """A fraud finding stopped it before the bank paid (CD-11)."""

        case: str

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.stopped = True

    class Offset(LedgerEvent):
        """Part of it is kept to settle a clawback receivable of the same payee."""

        case: str
        amount: Decimal

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.offset += self.amount

    class ClawbackClaimed(LedgerEvent):
        case: str
        amount: Decimal

        def apply(self, aggregate: PaymentInstruction) -> None:
            aggregate.clawed_back += self.amount

    def __init__(
        self,
        reference: str,
        payee: str,
        payee_name: str,
        payee_account: str,
        instrument: str,
        amount: Decimal,
        purpose: str,
        programme: str,
        year: int,
        funding_source: str,
        decision: str,
        basis: dict[str, Any],
        at: datetime,
        actor: str = "",
    ) -> None:
        self.reference = reference
        # Who instructed it (the actor recorded on Instructed): they may not approve it.
        self.instructed_by = actor
        self.approved_by = ""
        self.payee = payee
        self.payee_name = payee_name
        self.payee_account = payee_account
        self.instructed_on = local_date(at)
        self.amount = amount
        self.purpose = purpose
        self.programme = programme
        self.funding_source = funding_source
        self.settled: Decimal | None = None
        self.stopped = False
        self.approved = False
        self.cancelled = False
        self.mismatched = False
        self.missing = False
        self.offset = ZERO
        self.clawed_back = ZERO

    @property
    def payable(self) -> Decimal:
        """What the bank should pay: the instructed amount less offsets."""
        return self.amount - self.offset

    @property
    def open(self) -> bool:
        return self.settled is None and not self.stopped and not self.cancelled

    @property
    def reconciliation_state(self) -> str:
        """Exactly one of: cancelled, settled, mismatch, missing, outstanding."""
        if self.stopped or self.cancelled:
            return "cancelled"
        if self.settled is not None:
            return "settled"
        if self.mismatched:
            return "mismatch"
        return "missing" if self.missing else "outstanding"

    def _require_open(self) -> None:
        if self.stopped:
            raise Rejected("payment-stopped", f"payment {self.reference} was stopped")
        if self.cancelled:
            raise Rejected("payment-cancelled", f"payment {self.reference} was cancelled")
        if self.settled is not None:
            raise Rejected("payment-settled", f"payment {self.reference} is settled")

    def settle(self, ctx: Context, amount: Decimal, bank_reference: str, value_date: date) -> None:
        self._require_open()
        if amount != self.payable:
            raise Rejected(
                "settlement-amount-mismatch",
                f"payment {self.reference} is for {self.payable}, the bank paid {amount}",
            )
        self.trigger_event(
            self.Settled,
            amount=amount,
            bank_reference=bank_reference,
            value_date=value_date,
            **ctx.fields(),
        )

    def approval_refusal(self, ctx: Context) -> Rejected | None:
        """Why ``ctx``'s actor may not approve it, if they may not: it is not open (stopped,
        cancelled, settled), or they are a person whose command instructed it — its actor, or
        whoever entered it on the actor's behalf (four eyes: money moves only on an
        instruction approved by a second person)."""
        try:
            self._require_open()
        except Rejected as refusal:
            return refusal
        if ctx.actor in people(self.instructed_by):
            return Rejected(
                "approver-is-instructor",
                f"payment {self.reference} was instructed by {self.instructed_by}: "
                f"{ctx.actor} may not approve it too; a second finance user must (four eyes)",
                instructed_by=self.instructed_by,
            )
        return None

    def approve(self, ctx: Context, note: str) -> None:
        """Four eyes: approved once, by someone other than whoever instructed it (the payee's
        standing is the application's to check, see the approve-payment handler)."""
        if self.approved and self.open:
            return
        refusal = self.approval_refusal(ctx)
        if refusal is not None:
            raise refusal
        self.trigger_event(self.Approved, note=note, **ctx.fields())

    def cancel(self, ctx: Context, reason: str) -> None:
        self._require_open()
        self.trigger_event(self.Cancelled, reason=reason, **ctx.fields())

    def record_mismatch(self, ctx: Context, paid: Decimal, statement: str, line: int) -> None:
        self.trigger_event(
            self.AmountMismatched, paid=paid, statement=statement, line=line, **ctx.fields()
        )

    def report_missing(self, ctx: Context, days: int) -> None:
        if not self.missing:
            self.trigger_event(self.ReportedMissing, days=days, **ctx.fields())

    def stop(self, ctx: Context, case: str) -> bool:
        if not self.open:
            return False
        self.trigger_event(self.Stopped, case=case, **ctx.fields())
        return True

    def offset_against(self, ctx: Context, case: str, amount: Decimal) -> None:
        self._require_open()
        if amount > self.payable:
            raise Rejected(
                "exceeds-payable",
                f"payment {self.reference} has {self.payable} left to pay, less than {amount}",
            )
        self.trigger_event(self.Offset, case=case, amount=amount, **ctx.fields())

    @property
    def clawable(self) -> Decimal:
        """CD-11: recover what was paid — settled money not yet demanded back."""
        return (self.settled or ZERO) - self.clawed_back

    @property
    def recoverable(self) -> Recoverable:
        return Recoverable("payment", self.reference, self.payee, self.clawable)

    def claim_back(self, ctx: Context, case: str, amount: Decimal) -> None:
        assert amount <= self.clawable
        self.trigger_event(self.ClawbackClaimed, case=case, amount=amount, **ctx.fields())

    @staticmethod
    def reference_for(programme: str, purpose: str, decision: str) -> str:
        """Readable, stable, one per decision: the bank statement will quote it back."""
        return f"PI-{programme}-{stable_id('payment', purpose, decision).hex[:12].upper()}"

    @staticmethod
    def id_for(reference: str) -> UUID:
        return stable_id("payment-instruction", reference)

    @classmethod
    def instruct(
        cls,
        ctx: Context,
        *,
        payee: str,
        payee_name: str,
        payee_account: str,
        instrument: str,
        amount: Decimal,
        purpose: str,
        programme: str,
        year: int,
        funding_source: str,
        decision: str,
        basis: dict[str, Any],
    ) -> PaymentInstruction:
        reference = cls.reference_for(programme, purpose, decision)
        return cls._create(
            cls.Instructed,
            id=cls.id_for(reference),
            reference=reference,
            payee=payee,
            payee_name=payee_name,
            payee_account=payee_account,
            instrument=instrument,
            amount=amount,
            purpose=purpose,
            programme=programme,
            year=year,
            funding_source=funding_source,
            decision=decision,
            basis=basis,
            **ctx.fields(),
        )


class BulkApproval(LedgerAggregate):
    """One ``approve-payments`` run: the filters it was given, the instructions it approved
    and those it skipped with the rule that stopped it (its own instructions, barred payees,
    programmes outside the approver's scope), kept for auditors with the approvals."""

    class Run(LedgerCreated):
        filters: dict[str, Any]
        note: str
        approved: list[str]
        skipped: list[dict[str, str]]  # reference, code, message

    def __init__(
        self,
        filters: dict[str, Any],
        note: str,
        approved: list[str],
        skipped: list[dict[str, str]],
    ) -> None:
        self.approved = approved
        self.skipped = skipped
