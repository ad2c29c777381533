"""Payment instructions: every decision that moves money records one (finance reconciles them
against the bank). The id derives from the purpose and the decision, so a decision can never
instruct the same payment twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.events import Context, LedgerCreated
from ledger.ids import stable_id


class PaymentInstruction(Aggregate):
    class Instructed(LedgerCreated):
        reference: str
        payee: str
        payee_name: str
        amount: Decimal
        purpose: str
        programme: str
        year: int
        funding_source: str
        decision: str
        basis: dict[str, Any]

    def __init__(
        self,
        reference: str,
        payee: str,
        payee_name: str,
        amount: Decimal,
        purpose: str,
        programme: str,
        year: int,
        funding_source: str,
        decision: str,
        basis: dict[str, Any],
    ) -> None:
        self.reference = reference
        self.payee = payee
        self.amount = amount
        self.purpose = purpose
        self.programme = programme
        self.funding_source = funding_source

    @staticmethod
    def id_for(purpose: str, decision: str) -> UUID:
        return stable_id("payment", purpose, decision)

    @staticmethod
    def reference_for(programme: str, purpose: str, decision: str) -> str:
        """Readable, unique and stable: the bank statement will quote it back."""
        return f"PI-{programme}-{PaymentInstruction.id_for(purpose, decision).hex[:10].upper()}"

    @classmethod
    def instruct(
        cls,
        ctx: Context,
        *,
        payee: str,
        payee_name: str,
        amount: Decimal,
        purpose: str,
        programme: str,
        year: int,
        funding_source: str,
        decision: str,
        basis: dict[str, Any],
    ) -> PaymentInstruction:
        return cls._create(
            cls.Instructed,
            id=cls.id_for(purpose, decision),
            reference=cls.reference_for(programme, purpose, decision),
            payee=payee,
            payee_name=payee_name,
            amount=amount,
            purpose=purpose,
            programme=programme,
            year=year,
            funding_source=funding_source,
            decision=decision,
            basis=basis,
            **ctx.fields(),
        )
