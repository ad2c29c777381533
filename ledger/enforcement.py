"""Enforcement: credit records (CD-3), fraud cases, clawbacks and the 3-year bar (CD-11).

``EntityRecord`` is one entity's standing, whatever its role (applicant, holder, supplier,
operator): its credit records, its bars, and the vouchers and payments it has been given. Every
voucher issued and every payment instructed to an entity is noted on its record in the same
transaction, so a bar recorded concurrently collides with it: no barred entity ever receives a
new voucher or payment instruction during its bar.

A bar runs from the finding date (the first barred day) **until** the same date
``debarment_years`` later, which is the first day the entity is free again: a finding on
2025-03-10 bars 2025-03-10 … 2028-03-09; on 2028-03-10 the entity may apply.

``Case`` owns a fraud case and its receivable: demanded − repaid − offset − written off, never
below zero; a repayment larger than what is outstanding is refused (refunds of over-payments
happen outside the ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import ZERO
from ledger.policy import Policy


def years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: the bar ends on 1 March
        return date(day.year + years, 3, 1)


@dataclass
class CreditRecord:
    reference: str
    kind: str
    source: str
    listed_from: date
    listed_until: date | None


@dataclass
class Bar:
    case: str
    policy: str
    start: date
    until: date  # first day no longer barred
    lifted_on: date | None = None

    def covers(self, day: date) -> bool:
        end = self.until if self.lifted_on is None else min(self.until, self.lifted_on)
        return self.start <= day < end


@dataclass(frozen=True)
class Recoverable:
    """Money an entity was given that a clawback may recover (CD-11: 追回已兑现资金): a
    settled payment instruction (``key``: its reference) or the value a holder deducted with
    a voucher (``key``: its number); ``clawable`` is what was paid and not yet demanded."""

    kind: Literal["payment", "voucher"]
    key: str
    owner: str
    clawable: Decimal


@dataclass(frozen=True)
class ClawbackSplit:
    """How a demanded amount is taken from the sources named (CD-11): ``takes[i]`` from
    ``sources[i]``, zero where nothing is taken."""

    amount: Decimal
    sources: tuple[Recoverable, ...]
    takes: tuple[Decimal, ...]

    def of(self, kind: Literal["payment", "voucher"]) -> dict[str, Decimal]:
        """What is taken from each payment (by reference) or voucher (by number)."""
        return {
            source.key: take
            for source, take in zip(self.sources, self.takes, strict=True)
            if take > 0 and source.kind == kind
        }


def split_clawback(entity: str, amount: Decimal, sources: Sequence[Recoverable]) -> ClawbackSplit:
    """CD-11: recover the money paid — from the case's entity only, never more than was paid
    and not yet demanded. The amount is taken from the sources in the order named, each up to
    what it has left.

    Refusals, in this order: ``nothing-to-claw-back`` (no source named), ``not-the-entitys``
    (a source paid to someone else), ``clawback-exceeds-paid``."""
    if not sources:
        raise Rejected("nothing-to-claw-back", "name the payments or vouchers recovered")
    for source in sources:
        if source.owner != entity:
            raise Rejected(
                "not-the-entitys", f"{source.owner} is not {entity}, the entity of the case"
            )
    available = sum((s.clawable for s in sources), start=ZERO)
    if amount > available:
        raise Rejected(
            "clawback-exceeds-paid",
            f"{amount} is more than the {available} paid and not yet demanded back (CD-11)",
        )
    takes: list[Decimal] = []
    left = amount
    for source in sources:
        take = max(ZERO, min(left, source.clawable))
        takes.append(take)
        left -= take
    return ClawbackSplit(amount, tuple(sources), tuple(takes))


class EntityRecord(LedgerAggregate):
    class Started(LedgerCreated):
        credit_code: str

    class CreditRecorded(LedgerEvent):
        reference: str
        kind: str
        source: str
        listed_from: date
        listed_until: date | None

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.credit_records[self.reference] = CreditRecord(
                self.reference, self.kind, self.source, self.listed_from, self.listed_until
            )

    class CreditRecordEnded(LedgerEvent):
        reference: str
        ended_on: date

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.credit_records[self.reference].listed_until = self.ended_on

    class Debarred(LedgerEvent):
        case: str
        policy: str
        start: date
        until: date
        basis: dict[str, Any]

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.bars[self.case] = Bar(self.case, self.policy, self.start, self.until)

    class DebarmentLifted(LedgerEvent):
        case: str
        lifted_on: date
        reason: str
        authority: str

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.bars[self.case].lifted_on = self.lifted_on

    class VoucherReceived(LedgerEvent):
        voucher: str

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.vouchers.append(self.voucher)

    class PaymentDue(LedgerEvent):
        reference: str

        def apply(self, aggregate: EntityRecord) -> None:
            aggregate.payments.append(self.reference)

    def __init__(self, credit_code: str) -> None:
        self.credit_code = credit_code
        self.credit_records: dict[str, CreditRecord] = {}
        self.bars: dict[str, Bar] = {}
        self.vouchers: list[str] = []
        self.payments: list[str] = []

    @staticmethod
    def id_for(credit_code: str) -> UUID:
        return stable_id("entity-record", credit_code)

    @classmethod
    def start(cls, ctx: Context, credit_code: str) -> EntityRecord:
        return cls._create(
            cls.Started, id=cls.id_for(credit_code), credit_code=credit_code, **ctx.fields()
        )

    # ---- standing ----------------------------------------------------------------------

    def bar_on(self, policy_id: str, day: date) -> Bar | None:
        return next(
            (b for b in self.bars.values() if b.policy == policy_id and b.covers(day)), None
        )

    def require_in_good_standing(self, policy: Policy, day: date) -> None:
        """CD-11: not barred on ``day``; CD-3: no disqualifying credit record in the lookback
        window [day − lookback, day]."""
        bar = self.bar_on(policy.id, day)
        if bar is not None:
            raise Rejected(
                "entity-debarred",
                f"{self.credit_code} is barred under case {bar.case} from {bar.start} until "
                f"{bar.until} (free from that day) "
                f"({policy.clause('enforcement.debarment_years')})",
                case=bar.case,
                until=bar.until.isoformat(),
            )
        kinds = policy.value("enforcement.disqualifying_records")
        window_start = years_after(day, -int(policy.value("enforcement.credit_lookback_years")))
        for record in self.credit_records.values():
            ends = record.listed_until or day
            if record.kind in kinds and record.listed_from <= day and ends >= window_start:
                raise Rejected(
                    "credit-record-in-lookback",
                    f"{self.credit_code} has a {record.kind} record ({record.reference}, "
                    f"{record.source}, from {record.listed_from}"
                    f"{' to ' + str(record.listed_until) if record.listed_until else ''}) within "
                    f"the {policy.value('enforcement.credit_lookback_years')} years before {day} "
                    f"({policy.clause('enforcement.credit_lookback_years')})",
                    reference=record.reference,
                )

    # ---- changes -----------------------------------------------------------------------

    def record_credit(
        self, ctx: Context, reference: str, kind: str, source: str, start: date, end: date | None
    ) -> None:
        if reference in self.credit_records:
            raise Rejected("duplicate-reference", f"credit record {reference} exists already")
        self.trigger_event(
            self.CreditRecorded,
            reference=reference,
            kind=kind,
            source=source,
            listed_from=start,
            listed_until=end,
            **ctx.fields(),
        )

    def end_credit(self, ctx: Context, reference: str, ended_on: date) -> None:
        record = self.credit_records.get(reference)
        if record is None:
            raise Rejected("unknown-credit-record", f"no credit record {reference}")
        if ended_on < record.listed_from:
            raise Rejected(
                "credit-record-ends-before-start",
                f"{reference} cannot end before {record.listed_from}",
            )
        self.trigger_event(
            self.CreditRecordEnded, reference=reference, ended_on=ended_on, **ctx.fields()
        )

    def debar(self, ctx: Context, case: str, policy: Policy, finding_date: date) -> Bar:
        years = int(policy.value("enforcement.debarment_years"))
        self.trigger_event(
            self.Debarred,
            case=case,
            policy=policy.id,
            start=finding_date,
            until=years_after(finding_date, years),
            basis=policy.basis("enforcement.debarment_years"),
            **ctx.fields(),
        )
        return self.bars[case]

    def lift(self, ctx: Context, case: str, lifted_on: date, reason: str, authority: str) -> None:
        bar = self.bars.get(case)
        if bar is None or bar.lifted_on is not None:
            raise Rejected("debarment-not-found", f"no bar under case {case} to lift")
        self.trigger_event(
            self.DebarmentLifted,
            case=case,
            lifted_on=lifted_on,
            reason=reason,
            authority=authority,
            **ctx.fields(),
        )

    def note_voucher(self, ctx: Context, voucher: str) -> None:
        self.trigger_event(self.VoucherReceived, voucher=voucher, **ctx.fields())

    def note_payment(self, ctx: Context, reference: str) -> None:
        self.trigger_event(self.PaymentDue, reference=reference, **ctx.fields())


class Case(LedgerAggregate):
    """A fraud case against one entity and the receivable it creates (CD-11)."""

    class Opened(LedgerCreated):
        reference: str
        programme: str
        entity: str
        description: str

    class FraudFound(LedgerEvent):
        finding_date: date
        finding: str
        evidence: list[str]
        bar_until: date
        cancelled_vouchers: dict[str, Decimal]
        stopped_payments: list[str]
        basis: dict[str, Any]

        def apply(self, aggregate: Case) -> None:
            aggregate.found = True

    class ClawbackDemanded(LedgerEvent):
        amount: Decimal
        payments: dict[str, Decimal]
        vouchers: dict[str, Decimal]
        due_date: date
        basis: dict[str, Any]

        def apply(self, aggregate: Case) -> None:
            aggregate.demanded += self.amount
            aggregate.due_dates.append(self.due_date)

    class RepaymentRecorded(LedgerEvent):
        amount: Decimal
        bank_reference: str
        value_date: date

        def apply(self, aggregate: Case) -> None:
            aggregate.repaid += self.amount
            aggregate.repayments[self.bank_reference] = self.amount

    class OffsetAgainstPayment(LedgerEvent):
        amount: Decimal
        payment_reference: str

        def apply(self, aggregate: Case) -> None:
            aggregate.offset += self.amount

    class WrittenOff(LedgerEvent):
        amount: Decimal
        reason: str
        approver: str

        def apply(self, aggregate: Case) -> None:
            aggregate.written_off += self.amount

    def __init__(self, reference: str, programme: str, entity: str, description: str) -> None:
        self.reference = reference
        self.programme = programme
        self.entity = entity
        self.found = False
        self.demanded = ZERO
        self.repaid = ZERO
        self.offset = ZERO
        self.written_off = ZERO
        self.due_dates: list[date] = []
        self.repayments: dict[str, Decimal] = {}

    @property
    def outstanding(self) -> Decimal:
        return self.demanded - self.repaid - self.offset - self.written_off

    @staticmethod
    def id_for(reference: str) -> UUID:
        return stable_id("case", reference)

    @classmethod
    def open(
        cls, ctx: Context, reference: str, programme: str, entity: str, description: str
    ) -> Case:
        return cls._create(
            cls.Opened,
            id=cls.id_for(reference),
            reference=reference,
            programme=programme,
            entity=entity,
            description=description,
            **ctx.fields(),
        )

    def record_finding(
        self,
        ctx: Context,
        policy: Policy,
        finding_date: date,
        finding: str,
        evidence: list[str],
        bar: Bar,
        cancelled: dict[str, Decimal],
        stopped: list[str],
    ) -> None:
        if self.found:
            raise Rejected("finding-exists", f"case {self.reference} has a finding already")
        self.trigger_event(
            self.FraudFound,
            finding_date=finding_date,
            finding=finding,
            evidence=evidence,
            bar_until=bar.until,
            cancelled_vouchers=cancelled,
            stopped_payments=stopped,
            basis=policy.basis("enforcement.debarment_years"),
            **ctx.fields(),
        )

    def demand(
        self,
        ctx: Context,
        amount: Decimal,
        payments: dict[str, Decimal],
        vouchers: dict[str, Decimal],
        due_date: date,
    ) -> None:
        if not self.found:
            raise Rejected(
                "no-finding", f"case {self.reference} has no fraud finding to demand on (CD-11)"
            )
        self.trigger_event(
            self.ClawbackDemanded,
            amount=amount,
            payments=payments,
            vouchers=vouchers,
            due_date=due_date,
            basis={"clauses": ["CD-11"], "params": {"recover": "money paid"}},
            **ctx.fields(),
        )

    def _require_outstanding(self, amount: Decimal, what: str) -> None:
        if amount > self.outstanding:
            raise Rejected(
                "exceeds-outstanding",
                f"{what} of {amount} is more than the {self.outstanding} outstanding on case "
                f"{self.reference}; over-payments are not recorded as credits",
            )

    def record_repayment(
        self, ctx: Context, amount: Decimal, bank_reference: str, value_date: date
    ) -> bool:
        """Returns False for a repeat of a repayment already recorded (same bank reference
        and amount)."""
        if bank_reference in self.repayments:
            if self.repayments[bank_reference] == amount:
                return False
            raise Rejected(
                "duplicate-reference",
                f"bank reference {bank_reference} was recorded for "
                f"{self.repayments[bank_reference]}",
            )
        self._require_outstanding(amount, "a repayment")
        self.trigger_event(
            self.RepaymentRecorded,
            amount=amount,
            bank_reference=bank_reference,
            value_date=value_date,
            **ctx.fields(),
        )
        return True

    def offset_from(
        self,
        ctx: Context,
        payee: str,
        payment_reference: str,
        payable: Decimal,
        requested: Decimal | None,
    ) -> Decimal:
        """Keep part of a later payment due to the case's entity against its receivable: the
        amount requested, by default as much as both the receivable and the payment allow;
        never more than is outstanding. Returns the amount to take off the payment (which
        refuses more than it has left to pay)."""
        if payee != self.entity:
            raise Rejected(
                "not-the-entitys", f"payment {payment_reference} is not due to {self.entity}"
            )
        take = requested if requested is not None else min(self.outstanding, payable)
        self.record_offset(ctx, take, payment_reference)
        return take

    def record_offset(self, ctx: Context, amount: Decimal, payment_reference: str) -> None:
        self._require_outstanding(amount, "an offset")
        self.trigger_event(
            self.OffsetAgainstPayment,
            amount=amount,
            payment_reference=payment_reference,
            **ctx.fields(),
        )

    def write_off(self, ctx: Context, amount: Decimal, reason: str, approver: str) -> None:
        self._require_outstanding(amount, "a write-off")
        self.trigger_event(
            self.WrittenOff, amount=amount, reason=reason, approver=approver, **ctx.fields()
        )

    def overdue_days(self, day: date) -> int:
        if self.outstanding <= 0 or not self.due_dates:
            return 0
        return max(0, (day - min(self.due_dates)).days)
