"""Supplier subsidy vouchers (算力补贴券, CD-6, CD-10) and the green award (绿色算力券, CD-7).

``SupplierYear`` is one supplier in one calendar year under one policy. It records the voucher
business the supplier served that year (every inclusive-voucher bill, noted by the redemption
itself) and owns the **per-supplier yearly cap**: every subsidy granted for the year goes
through it, so whatever the number of rounds or corrections, and whichever writers race, the
year's total never exceeds the cap.

A ``SupplierSubsidyRound`` runs the CD-10 flow for a programme year: suppliers apply (the
special-voucher holders' spend they served, with the holders' own evidence as the ceiling),
the plan is drawn from the previous year's business — at most ``max_subsidy_rate`` of the
base, at most the cap's headroom — published for notice, objected to, and finalised with a
payment instruction to each supplier.

``GreenAward`` is granted automatically when a national green data-centre certification is
recorded (免申即享), once per supplier ever: its id is the supplier's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import notice
from ledger.aggregate import LedgerAggregate, Value
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import ZERO, share_of
from ledger.policy import Instrument


class SupplierYear(LedgerAggregate):
    class Opened(LedgerCreated):
        policy: str
        supplier: str
        year: int

    class BillServed(LedgerEvent):
        """An inclusive-voucher bill the supplier served (CD-6's base, a year later)."""

        invoice_number: str
        voucher: str
        holder: str
        bill_amount: Decimal
        service_date: date

        def apply(self, aggregate: SupplierYear) -> None:
            aggregate.bills[self.invoice_number] = (self.holder, self.bill_amount)

    class SubsidyGranted(LedgerEvent):
        programme: str
        round: str
        base: Decimal
        computed: Decimal
        planned: Decimal
        granted: Decimal
        capped_off: Decimal
        cap: Decimal
        payment_reference: str
        basis: dict[str, Any]

        def apply(self, aggregate: SupplierYear) -> None:
            aggregate.granted += self.granted

    def __init__(self, policy: str, supplier: str, year: int) -> None:
        self.policy = policy
        self.supplier = supplier
        self.year = year
        self.bills: dict[str, tuple[str, Decimal]] = {}
        self.granted = ZERO

    @staticmethod
    def id_for(policy: str, supplier: str, year: int) -> UUID:
        return stable_id("supplier-year", policy, supplier, year)

    @classmethod
    def open(cls, ctx: Context, policy: str, supplier: str, year: int) -> SupplierYear:
        return cls._create(
            cls.Opened,
            id=cls.id_for(policy, supplier, year),
            policy=policy,
            supplier=supplier,
            year=year,
            **ctx.fields(),
        )

    def note_bill(
        self,
        ctx: Context,
        invoice_number: str,
        voucher: str,
        holder: str,
        bill_amount: Decimal,
        service_date: date,
    ) -> None:
        self.trigger_event(
            self.BillServed,
            invoice_number=invoice_number,
            voucher=voucher,
            holder=holder,
            bill_amount=bill_amount,
            service_date=service_date,
            **ctx.fields(),
        )

    def headroom(self, cap: Decimal) -> Decimal:
        return max(ZERO, cap - self.granted)

    def grant(
        self,
        ctx: Context,
        instrument: Instrument,
        programme: str,
        round_name: str,
        line: PlanLine,
        payment_reference: str,
    ) -> Decimal:
        """CD-6: at most the cap per supplier per year, whatever was planned."""
        cap: Decimal = instrument.value("cap_per_supplier_per_year")
        granted = min(line.planned, self.headroom(cap))
        self.trigger_event(
            self.SubsidyGranted,
            programme=programme,
            round=round_name,
            base=line.base,
            computed=line.computed,
            planned=line.planned,
            granted=granted,
            capped_off=line.computed - granted,
            cap=cap,
            payment_reference=payment_reference,
            basis=instrument.basis("max_subsidy_rate", "cap_per_supplier_per_year"),
            **ctx.fields(),
        )
        return granted


@dataclass(frozen=True)
class SubsidyBase:
    """What of a supplier's year Y-1 business counts towards its subsidy base, and what is
    excluded, with the reason (CD-2, CD-3, CD-6, CD-10)."""

    bills: dict[str, Decimal] = field(default_factory=dict)  # invoice → bill counted
    special: dict[str, Decimal] = field(default_factory=dict)  # holder → spend counted
    excluded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inclusive(self) -> tuple[int, Decimal]:
        """The inclusive-voucher bills counted: how many, and their total."""
        return len(self.bills), sum(self.bills.values(), start=ZERO)


def subsidy_base(
    *,
    base_programme: str,
    base_year: int,
    bills: Mapping[str, tuple[str, Decimal]],
    special_holder_spend: Mapping[str, Decimal],
    affiliated: Collection[str],
    listed: bool,
    special_holders: Collection[str],
) -> SubsidyBase:
    """CD-6, CD-10: a supplier's base is year Y-1's voucher business it served — each
    inclusive-voucher bill (``bills``: invoice → holder, amount), and each special-voucher
    holder's spend it claims to have served. Excluded, with the reason:

    * a bill or spend of a holder affiliated with the supplier — ``affiliated-parties``
      (CD-3: supplier and applicant not affiliated);
    * special spend when the supplier was on none of year Y-1's lists — ``supplier-not-listed``
      (CD-2: not on the list at the time of service → no support); inclusive bills were
      checked against the list when they were redeemed;
    * spend of a unit that holds no special voucher of ``base_programme`` (CD-10: the plan
      comes from the voucher business paid out).

    Listing is checked first, then holding, then affiliation; bills in invoice order and
    holders in credit-code order."""
    result = SubsidyBase()
    for invoice, (holder, bill) in sorted(bills.items()):
        if holder in affiliated:
            result.excluded.append(
                {"invoice": invoice, "amount": bill, "reason": "affiliated-parties (CD-3)"}
            )
        else:
            result.bills[invoice] = bill
    for holder, amount in sorted(special_holder_spend.items()):
        reason = None
        if not listed:
            reason = f"supplier-not-listed in {base_year} (CD-2)"
        elif holder not in special_holders:
            reason = f"not a special-voucher holder of {base_programme}"
        elif holder in affiliated:
            reason = "affiliated-parties (CD-3)"
        if reason:
            result.excluded.append({"holder": holder, "amount": amount, "reason": reason})
        else:
            result.special[holder] = amount
    return result


class SpecialSpendAttribution(LedgerAggregate):
    """How much of a special-voucher holder's evidenced spend suppliers have claimed as their
    business: never more than the holder evidenced."""

    class Started(LedgerCreated):
        programme: str
        holder: str
        spend: Decimal

    class Attributed(LedgerEvent):
        supplier: str
        round: str
        amount: Decimal

        def apply(self, aggregate: SpecialSpendAttribution) -> None:
            aggregate.attributed += self.amount

    def __init__(self, programme: str, holder: str, spend: Decimal) -> None:
        self.programme = programme
        self.holder = holder
        self.spend = spend
        self.attributed = ZERO

    @staticmethod
    def id_for(programme: str, holder: str) -> UUID:
        return stable_id("special-spend", programme, holder)

    @classmethod
    def start(
        cls, ctx: Context, programme: str, holder: str, spend: Decimal
    ) -> SpecialSpendAttribution:
        return cls._create(
            cls.Started,
            id=cls.id_for(programme, holder),
            programme=programme,
            holder=holder,
            spend=spend,
            **ctx.fields(),
        )

    def attribute(self, ctx: Context, supplier: str, round_name: str, amount: Decimal) -> None:
        if amount > self.spend - self.attributed:
            raise Rejected(
                "exceeds-evidenced-spend",
                f"{self.holder} evidenced {self.spend} of spend in {self.programme}; "
                f"{self.attributed} is attributed already, so {amount} more is too much (CD-6)",
            )
        self.trigger_event(
            self.Attributed, supplier=supplier, round=round_name, amount=amount, **ctx.fields()
        )


@dataclass(frozen=True)
class PlanLine(Value):
    supplier: str
    base: Decimal
    computed: Decimal
    planned: Decimal
    capped_off: Decimal

    def as_event_data(self) -> dict[str, Any]:
        return {
            "supplier": self.supplier,
            "base": self.base,
            "computed": self.computed,
            "planned": self.planned,
            "capped_off": self.capped_off,
        }


def plan_line(supplier: str, base: Decimal, rate: Decimal, headroom: Decimal) -> PlanLine:
    """CD-6: at most ``rate`` of the base, at most what the supplier's yearly cap has left."""
    computed = share_of(base, rate)
    planned = min(computed, headroom)
    return PlanLine(supplier, base, computed, planned, computed - planned)


class SupplierSubsidyRound(LedgerAggregate):
    """One round of supplier subsidies in programme year Y, on year Y-1's business (CD-10)."""

    class Opened(LedgerCreated):
        programme: str
        round: str
        base_programme: str

    class ApplicationReceived(LedgerEvent):
        supplier: str
        inclusive_bills: int
        inclusive_base: Decimal
        special_base: Decimal
        special_lines: dict[str, Decimal]
        excluded: list[dict[str, Any]]
        basis: dict[str, Any]

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.bases[self.supplier] = self.inclusive_base + self.special_base

    class Planned(LedgerEvent):
        version: int
        lines: list[dict[str, Any]]
        basis: dict[str, Any]

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.plan = [PlanLine(**line) for line in self.lines]
            aggregate.plan_version = self.version
            aggregate.notice = None

    class PlanPublished(LedgerEvent):
        version: int
        notice_from: date
        notice_to: date

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.notice = (self.notice_from, self.notice_to)

    class ObjectionRaised(LedgerEvent):
        objection: str
        supplier: str
        grounds: str

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.open_objections[self.objection] = self.supplier

    class ObjectionResolved(LedgerEvent):
        objection: str
        supplier: str
        upheld: bool
        reason: str

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.open_objections.pop(self.objection)
            aggregate.resolved_objections.add(self.objection)
            if self.upheld:
                aggregate.removed.add(self.supplier)
                aggregate.bases.pop(self.supplier, None)
                aggregate.notice = None  # the plan must be drawn and published again

    class Finalised(LedgerEvent):
        plan_version: int
        granted: dict[str, Decimal]
        payments: dict[str, str]

        def apply(self, aggregate: SupplierSubsidyRound) -> None:
            aggregate.finalised = True

    def __init__(self, programme: str, round: str, base_programme: str) -> None:
        self.programme = programme
        self.round = round
        self.base_programme = base_programme
        self.bases: dict[str, Decimal] = {}
        self.removed: set[str] = set()
        self.plan: list[PlanLine] = []
        self.plan_version = 0
        self.notice: tuple[date, date] | None = None
        self.open_objections: dict[str, str] = {}
        self.resolved_objections: set[str] = set()
        self.finalised = False

    @staticmethod
    def id_for(programme: str, round_name: str) -> UUID:
        return stable_id("supplier-subsidy-round", programme, round_name)

    @classmethod
    def open(
        cls, ctx: Context, programme: str, round_name: str, base_programme: str
    ) -> SupplierSubsidyRound:
        return cls._create(
            cls.Opened,
            id=cls.id_for(programme, round_name),
            programme=programme,
            round=round_name,
            base_programme=base_programme,
            **ctx.fields(),
        )

    def _require_open(self) -> None:
        if self.finalised:
            raise Rejected("round-finalised", f"round {self.round} of {self.programme} is final")

    def receive(
        self,
        ctx: Context,
        instrument: Instrument,
        supplier: str,
        inclusive: tuple[int, Decimal],
        special: dict[str, Decimal],
        excluded: list[dict[str, Any]],
    ) -> None:
        self._require_open()
        if supplier in self.bases or supplier in self.removed:
            raise Rejected(
                "already-applied", f"{supplier} has applied in round {self.round} already"
            )
        if self.plan_version:
            raise Rejected("round-closed", f"round {self.round} has a plan; no more applications")
        self.trigger_event(
            self.ApplicationReceived,
            supplier=supplier,
            inclusive_bills=inclusive[0],
            inclusive_base=inclusive[1],
            special_base=sum(special.values(), start=ZERO),
            special_lines=special,
            excluded=excluded,
            basis=instrument.basis("base_year_offset"),
            **ctx.fields(),
        )

    def draw_plan(
        self, ctx: Context, instrument: Instrument, headrooms: dict[str, Decimal]
    ) -> None:
        self._require_open()
        if not self.bases:
            raise Rejected("no-applications", f"round {self.round} has no applications")
        notice.require_no_open_objection(self.open_objections, "CD-10")
        rate: Decimal = instrument.value("max_subsidy_rate")
        lines = [
            plan_line(supplier, base, rate, headrooms[supplier])
            for supplier, base in sorted(self.bases.items())
        ]
        self.trigger_event(
            self.Planned,
            version=self.plan_version + 1,
            lines=[line.as_event_data() for line in lines],
            basis=instrument.basis("max_subsidy_rate", "cap_per_supplier_per_year"),
            **ctx.fields(),
        )

    def publish(
        self, ctx: Context, instrument: Instrument, notice_from: date, notice_to: date
    ) -> None:
        """CD-10: the drawn plan goes on public notice for at least ``min_notice_days``."""
        self._require_open()
        if not self.plan_version or self.notice is not None:
            raise Rejected("no-plan-in-notice", f"round {self.round}: draw the plan first")
        notice.require_valid_period(
            ctx,
            notice_from,
            notice_to,
            int(instrument.value("min_notice_days")),
            instrument.clause("min_notice_days"),
        )
        self.trigger_event(
            self.PlanPublished,
            version=self.plan_version,
            notice_from=notice_from,
            notice_to=notice_to,
            **ctx.fields(),
        )

    def raise_objection(self, ctx: Context, objection: str, supplier: str, grounds: str) -> None:
        self._require_open()
        notice.require_objection_allowed(
            ctx,
            self.notice,
            objection,
            self.open_objections.keys() | self.resolved_objections,
            supplier,
            {line.supplier for line in self.plan},
            "CD-10",
        )
        self.trigger_event(
            self.ObjectionRaised,
            objection=objection,
            supplier=supplier,
            grounds=grounds,
            **ctx.fields(),
        )

    def resolve_objection(self, ctx: Context, objection: str, upheld: bool, reason: str) -> None:
        self._require_open()
        if objection not in self.open_objections:
            raise Rejected("unknown-objection", f"no open objection {objection}")
        self.trigger_event(
            self.ObjectionResolved,
            objection=objection,
            supplier=self.open_objections[objection],
            upheld=upheld,
            reason=reason,
            **ctx.fields(),
        )

    def require_finalisable(self, ctx: Context, now: datetime) -> list[PlanLine]:
        """CD-10: paid once the notice period has passed with no objection standing — passed
        by the command's business date and by ``now``, the ledger's clock."""
        self._require_open()
        notice.require_finalisable(ctx, now, self.notice, self.open_objections, "CD-10")
        return list(self.plan)

    def finalise(self, ctx: Context, granted: dict[str, Decimal], payments: dict[str, str]) -> None:
        self.trigger_event(
            self.Finalised,
            plan_version=self.plan_version,
            granted=granted,
            payments=payments,
            **ctx.fields(),
        )


class GreenAward(LedgerAggregate):
    """CD-7: 1,000,000 to a data centre newly approved as a national green data centre,
    without application, once per supplier ever."""

    class Granted(LedgerCreated):
        supplier: str
        programme: str
        certification_date: date
        certification_reference: str
        amount: Decimal
        payment_reference: str
        basis: dict[str, Any]

    def __init__(
        self,
        supplier: str,
        programme: str,
        certification_date: date,
        certification_reference: str,
        amount: Decimal,
        payment_reference: str,
        basis: dict[str, Any],
    ) -> None:
        self.supplier = supplier
        self.certification_reference = certification_reference

    @staticmethod
    def id_for(supplier: str) -> UUID:
        return stable_id("green-award", supplier)

    @staticmethod
    def require_eligible(instrument: Instrument, supplier: str, kind: str) -> None:
        """CD-7: the award goes to a data centre (the instrument's ``eligible_kinds``)."""
        if kind not in instrument.value("eligible_kinds"):
            raise Rejected("not-a-data-centre", f"{supplier} is a {kind}")

    @classmethod
    def grant(
        cls,
        ctx: Context,
        instrument: Instrument,
        supplier: str,
        programme: str,
        certified_on: date,
        reference: str,
        payment_reference: str,
    ) -> GreenAward:
        return cls._create(
            cls.Granted,
            id=cls.id_for(supplier),
            supplier=supplier,
            programme=programme,
            certification_date=certified_on,
            certification_reference=reference,
            amount=instrument.value("amount"),
            payment_reference=payment_reference,
            basis=instrument.basis("amount", "eligible_kinds"),
            **ctx.fields(),
        )
