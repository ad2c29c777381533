"""Vouchers and the redemptions made with them.

The ``Voucher`` owns its value: validity in the calendar year of issue, the deduction limit
(CD-4, CD-8) and never going below zero. A ``Redemption`` is the supplier's bill, identified
by supplier and invoice number (so a retried redemption is recognised, and the same invoice
cannot be used twice), and carries the reimbursement claim through to payment (CD-8).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.clock import business_year, local_date
from ledger.enforcement import Recoverable
from ledger.errors import InvalidInput, Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import ZERO, share_of
from ledger.policy import Instrument


class Voucher(LedgerAggregate):
    class Issued(LedgerCreated):
        number: str
        programme: str
        instrument: str
        kind: str  # the instrument's building block: deduction-voucher, ranked-tier-grant
        holder: str
        year: int
        face_value: Decimal
        max_deduction_rate: Decimal
        basis: dict[str, Any]

    class Redeemed(LedgerEvent):
        redemption_id: UUID
        supplier: str
        invoice_number: str
        bill_amount: Decimal
        deduction: Decimal
        remaining: Decimal
        basis: dict[str, Any]

        def apply(self, aggregate: Voucher) -> None:
            aggregate.remaining = self.remaining

    class Expired(LedgerEvent):
        """Year end: the unredeemed value lapses (CD-8: valid only in the year issued)."""

        lapsed: Decimal
        basis: dict[str, Any]

        def apply(self, aggregate: Voucher) -> None:
            aggregate.expired = True
            aggregate.lapsed = self.lapsed
            aggregate.remaining -= self.lapsed

    class Cancelled(LedgerEvent):
        """A fraud finding cancelled the unredeemed value (CD-11)."""

        case: str
        cancelled: Decimal

        def apply(self, aggregate: Voucher) -> None:
            aggregate.remaining -= self.cancelled
            aggregate.cancelled = True
            aggregate.cancelled_value = self.cancelled

    class ClawbackClaimed(LedgerEvent):
        case: str
        amount: Decimal

        def apply(self, aggregate: Voucher) -> None:
            aggregate.clawed_back += self.amount

    class PaidToHolder(LedgerEvent):
        """A grant voucher's amount is paid to its holder (CD-9: special vouchers)."""

        amount: Decimal
        payment_reference: str

        def apply(self, aggregate: Voucher) -> None:
            aggregate.remaining = aggregate.remaining - self.amount
            aggregate.payment_reference = self.payment_reference

    def __init__(
        self,
        number: str,
        programme: str,
        instrument: str,
        kind: str,
        holder: str,
        year: int,
        face_value: Decimal,
        max_deduction_rate: Decimal,
        basis: dict[str, Any],
    ) -> None:
        self.number = number
        self.programme = programme
        self.instrument = instrument
        self.kind = kind
        self.holder = holder
        self.year = year
        self.face_value = face_value
        self.max_deduction_rate = max_deduction_rate
        self.remaining = face_value
        self.expired = False
        self.cancelled = False
        self.cancelled_value = ZERO
        self.lapsed = ZERO
        self.clawed_back = ZERO
        self.payment_reference: str | None = None  # a grant voucher's payment to its holder

    @property
    def deducted(self) -> Decimal:
        """Value used at suppliers (what lapsed or was cancelled was never used)."""
        return self.face_value - self.remaining - self.lapsed - self.cancelled_value

    def cancel(self, ctx: Context, case: str) -> Decimal:
        """CD-11: unredeemed value of a deduction voucher is cancelled; returns it."""
        if self.kind != "deduction-voucher" or self.expired or self.cancelled:
            return ZERO
        amount = self.remaining
        if amount == ZERO:
            return ZERO
        self.trigger_event(self.Cancelled, case=case, cancelled=amount, **ctx.fields())
        return amount

    @property
    def clawable(self) -> Decimal:
        """CD-11: what the holder had deducted with it and is not yet demanded back."""
        if self.kind != "deduction-voucher":
            return ZERO
        return self.deducted - self.clawed_back

    @property
    def recoverable(self) -> Recoverable:
        return Recoverable("voucher", self.number, self.holder, self.clawable)

    def claim_back(self, ctx: Context, case: str, amount: Decimal) -> None:
        assert amount <= self.clawable
        self.trigger_event(self.ClawbackClaimed, case=case, amount=amount, **ctx.fields())

    @staticmethod
    def id_for(number: str) -> UUID:
        return stable_id("voucher", number)

    @classmethod
    def issue(
        cls,
        ctx: Context,
        number: str,
        programme: str,
        year: int,
        instrument: Instrument,
        holder: str,
        amount: Decimal | None = None,
    ) -> Voucher:
        """A deduction voucher has the instrument's face value; a grant voucher (special)
        the ``amount`` its round allocated, limited by the subsidy rate."""
        if instrument.type == "deduction-voucher":
            face_value = instrument.value("face_value")
            rate = instrument.value("max_deduction_rate")
            basis = instrument.basis(
                "face_value", "max_deduction_rate", "validity", "funding_source"
            )
        else:
            assert amount is not None
            face_value = amount
            rate = instrument.value("max_subsidy_rate")
            basis = instrument.basis("tiers", "max_subsidy_rate", "funding_source")
        return cls._create(
            cls.Issued,
            id=cls.id_for(number),
            number=number,
            programme=programme,
            instrument=instrument.name,
            kind=instrument.type,
            holder=holder,
            year=year,
            face_value=face_value,
            max_deduction_rate=rate,
            basis=basis,
            **ctx.fields(),
        )

    def pay_to_holder(self, ctx: Context, payment_reference: str) -> Decimal:
        amount = self.remaining
        self.trigger_event(
            self.PaidToHolder, amount=amount, payment_reference=payment_reference, **ctx.fields()
        )
        return amount

    def require_valid(self, ctx: Context, service_date: date) -> None:
        """CD-8: valid only in the calendar year issued (Asia/Shanghai), for services then."""
        if service_date > local_date(ctx.at):
            raise InvalidInput(
                "invalid-date",
                f"service_date: {service_date} is after the redemption date {local_date(ctx.at)}",
                field="service_date",
            )
        if self.kind != "deduction-voucher":
            raise Rejected(
                "voucher-not-redeemable",
                f"voucher {self.number} is a {self.instrument} grant paid to its holder",
            )
        if self.cancelled:
            raise Rejected(
                "voucher-cancelled", f"voucher {self.number} was cancelled by a fraud finding"
            )
        if self.expired:
            raise Rejected("voucher-expired", f"voucher {self.number} has lapsed (CD-8)")
        for what, year in (("redemption", business_year(ctx.at)), ("service", service_date.year)):
            if year != self.year:
                raise Rejected(
                    "voucher-expired",
                    f"voucher {self.number} is valid only in {self.year}; the {what} is in "
                    f"{year} (CD-8)",
                )

    def deduction_for(self, bill_amount: Decimal, requested: Decimal | None) -> Decimal:
        """At most ``max_deduction_rate`` of the bill (CD-4, CD-8), at most what is left."""
        if self.remaining == ZERO:
            raise Rejected("voucher-exhausted", f"voucher {self.number} has no value left")
        limit = share_of(bill_amount, self.max_deduction_rate)
        if requested is None:
            requested = min(limit, self.remaining)
        if requested > limit or requested == ZERO:
            raise Rejected(
                "exceeds-deduction-limit",
                f"a deduction of {requested} on a bill of {bill_amount} is more than "
                f"{self.max_deduction_rate:.0%} of it ({limit}) (CD-4)",
                limit=str(limit),
            )
        if requested > self.remaining:
            raise Rejected(
                "exceeds-remaining-value",
                f"voucher {self.number} has {self.remaining} left, less than {requested}",
            )
        return requested

    def redeem(
        self,
        ctx: Context,
        redemption_id: UUID,
        supplier: str,
        invoice_number: str,
        bill_amount: Decimal,
        deduction: Decimal,
    ) -> None:
        self.trigger_event(
            self.Redeemed,
            redemption_id=redemption_id,
            supplier=supplier,
            invoice_number=invoice_number,
            bill_amount=bill_amount,
            deduction=deduction,
            remaining=self.remaining - deduction,
            basis={
                "clauses": ["CD-4", "CD-8"],
                "params": {"max_deduction_rate": str(self.max_deduction_rate)},
            },
            **ctx.fields(),
        )

    def expire(self, ctx: Context) -> bool:
        """Lapse the unredeemed value; ``False`` when there is nothing to lapse."""
        if self.expired or self.cancelled or self.remaining == ZERO:
            return False
        if self.kind != "deduction-voucher":
            return False
        self.trigger_event(
            self.Expired,
            lapsed=self.remaining,
            basis={"clauses": ["CD-8"], "params": {"validity": "calendar-year-of-issue"}},
            **ctx.fields(),
        )
        return True


class Redemption(LedgerAggregate):
    """One supplier bill settled partly with a voucher, and its reimbursement (CD-8)."""

    class Recorded(LedgerCreated):
        voucher: str
        programme: str
        holder: str
        supplier: str
        invoice_number: str
        bill_amount: Decimal
        service_kind: str
        service_date: date
        deduction: Decimal
        tax: Decimal | None  # the bill's tax where given (bill_amount excludes it, CD-14)
        converted_at: Decimal | None  # the rate a tax-inclusive total was converted with

        # Version 1 recorded no tax: its bills were entered tax-exclusive.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["tax"] = None
            state["converted_at"] = None

    class ReimbursementClaimed(LedgerEvent):
        amount: Decimal
        evidence: dict[str, str]
        basis: dict[str, Any]

        def apply(self, aggregate: Redemption) -> None:
            aggregate.claimed = True

    class Reimbursed(LedgerEvent):
        amount: Decimal
        payment_reference: str

        def apply(self, aggregate: Redemption) -> None:
            aggregate.reimbursed = True
            aggregate.payment_reference = self.payment_reference

    def __init__(
        self,
        voucher: str,
        programme: str,
        holder: str,
        supplier: str,
        invoice_number: str,
        bill_amount: Decimal,
        service_kind: str,
        service_date: date,
        deduction: Decimal,
        tax: Decimal | None = None,
        converted_at: Decimal | None = None,
    ) -> None:
        self.voucher = voucher
        self.programme = programme
        self.holder = holder
        self.supplier = supplier
        self.invoice_number = invoice_number
        self.bill_amount = bill_amount
        self.service_kind = service_kind
        self.service_date = service_date
        self.deduction = deduction
        self.tax = tax
        self.converted_at = converted_at
        self.claimed = False
        self.reimbursed = False
        self.payment_reference: str | None = None

    @staticmethod
    def id_for(supplier: str, invoice_number: str) -> UUID:
        return stable_id("redemption", supplier, invoice_number)

    @classmethod
    def record(
        cls,
        ctx: Context,
        voucher: Voucher,
        supplier: str,
        invoice_number: str,
        bill_amount: Decimal,
        service_kind: str,
        service_date: date,
        deduction: Decimal,
        *,
        tax: Decimal | None = None,
        converted_at: Decimal | None = None,
    ) -> Redemption:
        return cls._create(
            cls.Recorded,
            id=cls.id_for(supplier, invoice_number),
            voucher=voucher.number,
            programme=voucher.programme,
            holder=voucher.holder,
            supplier=supplier,
            invoice_number=invoice_number,
            bill_amount=bill_amount,
            service_kind=service_kind,
            service_date=service_date,
            deduction=deduction,
            tax=tax,
            converted_at=converted_at,
            **ctx.fields(),
        )

    def require_retry_of(
        self, voucher: str, bill_amount: Decimal, service_kind: str, service_date: date
    ) -> None:
        """An invoice is redeemed once (CD-8: the supplier's bill is what is reimbursed): the
        same bill presented again is a retry and changes nothing; the invoice number with
        another bill is refused."""
        if (self.voucher, self.bill_amount, self.service_kind, self.service_date) != (
            voucher,
            bill_amount,
            service_kind,
            service_date,
        ):
            raise Rejected(
                "duplicate-reference",
                f"invoice {self.invoice_number} of supplier {self.supplier} was already redeemed "
                f"against voucher {self.voucher} for {self.bill_amount}",
            )

    def claim(self, ctx: Context, evidence: dict[str, str], instrument: Instrument) -> None:
        """CD-8: the supplier claims with contract, payment proof, invoice, proof of service."""
        if self.claimed:
            raise Rejected(
                "already-claimed", f"invoice {self.invoice_number} of {self.supplier} is claimed"
            )
        required = list(instrument.value("reimbursement_evidence"))
        missing = [kind for kind in required if not evidence.get(kind, "").strip()]
        if missing:
            raise Rejected(
                "missing-evidence",
                f"the claim lacks {', '.join(missing)} "
                f"({instrument.clause('reimbursement_evidence')})",
                missing=missing,
            )
        self.trigger_event(
            self.ReimbursementClaimed,
            amount=self.deduction,
            evidence={k: evidence[k] for k in sorted(evidence)},
            basis=instrument.basis("reimbursement_evidence"),
            **ctx.fields(),
        )

    def reimburse(self, ctx: Context, payment_reference: str) -> Decimal:
        """CD-8: paid after review; returns the amount to instruct."""
        if self.reimbursed:
            raise Rejected(
                "already-reimbursed",
                f"invoice {self.invoice_number} of {self.supplier} was reimbursed",
            )
        if not self.claimed:
            raise Rejected(
                "not-claimed", f"invoice {self.invoice_number} of {self.supplier} is not claimed"
            )
        self.trigger_event(
            self.Reimbursed,
            amount=self.deduction,
            payment_reference=payment_reference,
            **ctx.fields(),
        )
        return self.deduction
