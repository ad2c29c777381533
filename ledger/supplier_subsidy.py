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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import UUID

from ledger import notice
from ledger.aggregate import LedgerAggregate, Value
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import FEN, ZERO, share_of
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

    class BusinessCounted(LedgerEvent):
        """The year's inclusive bills a subsidy round counted (CD-6: business counts once,
        however many rounds the following year runs)."""

        programme: str
        round: str
        invoices: list[str]

        def apply(self, aggregate: SupplierYear) -> None:
            for invoice in self.invoices:
                aggregate.counted[invoice] = f"{self.round} of {self.programme}"

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
            aggregate.granted_base += self.base

    def __init__(self, policy: str, supplier: str, year: int) -> None:
        self.policy = policy
        self.supplier = supplier
        self.year = year
        self.bills: dict[str, tuple[str, Decimal]] = {}
        self.counted: dict[str, str] = {}  # invoice → the round that counted it
        self.granted = ZERO
        self.granted_base = ZERO  # the bases of the year's grants, all rounds

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

    def count_business(
        self, ctx: Context, programme: str, round_name: str, invoices: Collection[str]
    ) -> None:
        """CD-6: these bills of the year are counted by ``round_name``; no later round counts
        them again."""
        if invoices:
            self.trigger_event(
                self.BusinessCounted,
                programme=programme,
                round=round_name,
                invoices=sorted(invoices),
                **ctx.fields(),
            )

    def headroom(self, cap: Decimal) -> Decimal:
        return max(ZERO, cap - self.granted)

    def rate_on_further(self, base: Decimal, rate: Decimal) -> Decimal:
        """CD-6: the 20% is of the year's business across all rounds — what ``base`` more
        adds to ``rate`` of the bases already granted on, so the fen rounding is the year's,
        not each round's."""
        return share_of(self.granted_base + base, rate) - share_of(self.granted_base, rate)

    def grant(
        self,
        ctx: Context,
        instrument: Instrument,
        programme: str,
        round_name: str,
        line: PlanLine,
        payment_reference: str,
    ) -> Decimal:
        """CD-6: at most the 20% of the year's business across rounds, at most the cap per
        supplier per year, whatever was planned."""
        cap: Decimal = instrument.value("cap_per_supplier_per_year")
        rate: Decimal = instrument.value("max_subsidy_rate")
        granted = min(line.planned, self.rate_on_further(line.base, rate), self.headroom(cap))
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
class BillFacts(Value):
    """What the ledger knows of one inclusive-voucher bill a supplier served in the base year."""

    invoice: str
    holder: str
    bill: Decimal
    deduction: Decimal
    rate: Decimal  # the voucher's max_deduction_rate
    paid_out: bool  # reimbursed, and the bank paid the reimbursement (兑付)
    clawed_back: bool  # money of the voucher or of the reimbursement demanded back (CD-11)
    counted_in: str | None = None  # the round that counted it already


@dataclass(frozen=True)
class SpecialFacts(Value):
    """A special-voucher holder's spend a supplier claims to have served, and what the ledger
    knows of the holder's special voucher of the base programme (``voucher`` None: it holds
    none)."""

    holder: str
    claimed: Decimal
    voucher: str | None = None
    amount: Decimal = ZERO  # the special voucher's amount
    rate: Decimal = Decimal(1)  # its max_subsidy_rate
    spend: Decimal = ZERO  # the spend the holder evidenced
    paid_out: bool = False  # the voucher paid to the holder, the bank's payment settled
    clawed_back: bool = False
    counted: Decimal = ZERO  # of its supported part, counted already for any supplier


def supported_part(
    counted_rule: str, whole: Decimal, voucher_money: Decimal, rate: Decimal
) -> Decimal:
    """CD-6 (policy parameter ``business_counted``): what of a bill or spend of ``whole``
    counts, the voucher having paid ``voucher_money`` at most ``rate`` of it. "supported-part":
    the part the voucher supported, ``voucher_money ÷ rate`` to the fen (rounded down), never
    more than ``whole``; "deduction": the voucher's money; "whole-bill": all of it."""
    if counted_rule == "whole-bill":
        return whole
    if counted_rule == "deduction":
        return min(voucher_money, whole)
    return min(whole, (voucher_money / rate).quantize(FEN, rounding=ROUND_DOWN))


@dataclass(frozen=True)
class SubsidyBase:
    """What of a supplier's year Y-1 business counts towards its subsidy base, and what is
    excluded, with the reason (CD-1, CD-2, CD-3, CD-6, CD-10, CD-11)."""

    bills: dict[str, Decimal] = field(default_factory=dict)  # invoice → part of bill counted
    special: dict[str, Decimal] = field(default_factory=dict)  # holder → spend counted
    claimed: dict[str, Decimal] = field(default_factory=dict)  # holder → spend claimed
    excluded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inclusive(self) -> tuple[int, Decimal]:
        """The inclusive-voucher bills counted: how many, and their total."""
        return len(self.bills), sum(self.bills.values(), start=ZERO)


def _not_paid_out(paid_out: bool, clawed_back: bool, what: str) -> str | None:
    if clawed_back:
        return f"clawed back: {what} money was demanded back (CD-11)"
    if not paid_out:
        return f"not paid out (兑付): {what} payment has not been settled (CD-10)"
    return None


def subsidy_base(
    *,
    supplier: str,
    base_programme: str,
    spend_year: int,
    bills: Sequence[BillFacts],
    special: Sequence[SpecialFacts],
    affiliated: Collection[str],
    listed_in_spend_year: bool,
    counted_rule: str,
) -> SubsidyBase:
    """CD-6 「每年根据上一年度支持"普惠算力券"和"特惠算力券"使用情况…补贴不超过20%的算力服务
    费用」, CD-10 「根据"普惠算力券"和"特惠算力券"兑付情况」: a supplier's base is the voucher
    business of ``base_programme`` it served that was paid out, each bill counted at most for
    the part the voucher supported (``counted_rule``), and each counted once.

    Inclusive bills (``bills``, in invoice order) are excluded, with the reason, when the
    holder is the supplier itself or affiliated with it (CD-1, CD-3); when clawed back (CD-11)
    or not paid out — reimbursed and the bank's payment settled (CD-10); when counted in an
    earlier round. Special spend (``special``, in holder order) is excluded when the supplier
    was on none of the lists of ``spend_year`` — the year of the spend the holder evidenced
    (CD-2); when the unit holds no special voucher of ``base_programme``; self-dealt or
    affiliated; clawed back or not paid out. What a bill or spend has beyond the part the
    voucher supported is excluded too, with its amount."""
    result = SubsidyBase()

    def exclude(key: str, name: str, amount: Decimal, reason: str) -> None:
        result.excluded.append({key: name, "amount": amount, "reason": reason})

    def affiliation(holder: str) -> str | None:
        if holder == supplier:
            return "affiliated-parties: the holder is the supplier itself (CD-1, CD-3)"
        if holder in affiliated:
            return "affiliated-parties (CD-3)"
        return None

    for bill in sorted(bills, key=lambda b: b.invoice):
        reason = (
            affiliation(bill.holder)
            or _not_paid_out(bill.paid_out, bill.clawed_back, "the reimbursement's")
            or (f"counted in round {bill.counted_in} already" if bill.counted_in else None)
        )
        if reason:
            exclude("invoice", bill.invoice, bill.bill, reason)
            continue
        part = supported_part(counted_rule, bill.bill, bill.deduction, bill.rate)
        result.bills[bill.invoice] = part
        if part < bill.bill:
            exclude(
                "invoice",
                bill.invoice,
                bill.bill - part,
                f"beyond the part the voucher supported: {part} of {bill.bill} (CD-6)",
            )
    for line in sorted(special, key=lambda s: s.holder):
        reason = None
        if not listed_in_spend_year:
            reason = f"supplier-not-listed in {spend_year} (CD-2)"
        elif line.voucher is None:
            reason = f"not a special-voucher holder of {base_programme}"
        else:
            reason = affiliation(line.holder) or _not_paid_out(
                line.paid_out, line.clawed_back, "the special voucher's"
            )
        if reason:
            exclude("holder", line.holder, line.claimed, reason)
            continue
        supported = supported_part(counted_rule, line.spend, line.amount, line.rate)
        counted = min(line.claimed, max(ZERO, supported - line.counted))
        result.claimed[line.holder] = line.claimed
        result.special[line.holder] = counted
        if counted < line.claimed:
            exclude(
                "holder",
                line.holder,
                line.claimed - counted,
                f"beyond the part the voucher supported: {supported} of the holder's "
                f"{line.spend}, {line.counted} counted before (CD-6)",
            )
    return result


class SpecialSpendAttribution(LedgerAggregate):
    """How much of a special-voucher holder's evidenced spend suppliers have claimed as their
    business: never more than the holder evidenced."""

    class Started(LedgerCreated):
        programme: str
        holder: str
        spend: Decimal

    class Attributed(LedgerEvent):
        """``amount`` of the holder's spend claimed by ``supplier``, ``counted`` of it towards
        its base (CD-6: at most the part the special voucher supported, across suppliers)."""

        supplier: str
        round: str
        amount: Decimal
        counted: Decimal

        # Version 1 counted all it attributed.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["counted"] = state["amount"]

        def apply(self, aggregate: SpecialSpendAttribution) -> None:
            aggregate.attributed += self.amount
            aggregate.counted += self.counted

    def __init__(self, programme: str, holder: str, spend: Decimal) -> None:
        self.programme = programme
        self.holder = holder
        self.spend = spend
        self.attributed = ZERO
        self.counted = ZERO

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

    def attribute(
        self, ctx: Context, supplier: str, round_name: str, amount: Decimal, counted: Decimal
    ) -> None:
        if amount > self.spend - self.attributed:
            raise Rejected(
                "exceeds-evidenced-spend",
                f"{self.holder} evidenced {self.spend} of spend in {self.programme}; "
                f"{self.attributed} is attributed already, so {amount} more is too much (CD-6)",
            )
        self.trigger_event(
            self.Attributed,
            supplier=supplier,
            round=round_name,
            amount=amount,
            counted=counted,
            **ctx.fields(),
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


def plan_line(
    supplier: str, base: Decimal, rate: Decimal, headroom: Decimal, granted_base: Decimal = ZERO
) -> PlanLine:
    """CD-6: at most ``rate`` of the base — of the year's business, the bases already granted
    on (``granted_base``) included — at most what the supplier's yearly cap has left."""
    computed = share_of(granted_base + base, rate) - share_of(granted_base, rate)
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
            basis=instrument.basis("base_year_offset", "business_counted"),
            **ctx.fields(),
        )

    def draw_plan(
        self,
        ctx: Context,
        instrument: Instrument,
        headrooms: dict[str, Decimal],
        granted_bases: Mapping[str, Decimal] | None = None,
    ) -> None:
        self._require_open()
        if not self.bases:
            raise Rejected("no-applications", f"round {self.round} has no applications")
        notice.require_no_open_objection(self.open_objections, "CD-10")
        rate: Decimal = instrument.value("max_subsidy_rate")
        lines = [
            plan_line(
                supplier, base, rate, headrooms[supplier], (granted_bases or {}).get(supplier, ZERO)
            )
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

    @staticmethod
    def require_newly_approved(
        instrument: Instrument, certified_on: date, award_day: date, first_year: int
    ) -> None:
        """CD-7 「对新获批的国家绿色数据中心一次性给予100万元」: "newly approved" is a window —
        the certification is dated no later than the award (``award_day``), at most
        ``newly_approved_within_days`` before it, and not before the policy's first year."""
        if certified_on > award_day:
            raise Rejected(
                "certification-in-future",
                f"the certification is dated {certified_on}, after the award's date {award_day}",
            )
        window = int(instrument.value("newly_approved_within_days"))
        earliest = max(award_day - timedelta(days=window), date(first_year, 1, 1))
        if certified_on < earliest:
            raise Rejected(
                "not-newly-approved",
                f"a certification of {certified_on} is not newly approved on {award_day}: the "
                f"window is {window} days and not before {first_year} "
                f"({instrument.clause('newly_approved_within_days')}: 新获批)",
                earliest=str(earliest),
            )

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
            basis=instrument.basis("amount", "eligible_kinds", "newly_approved_within_days"),
            **ctx.fields(),
        )
