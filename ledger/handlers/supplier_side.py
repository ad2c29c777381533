"""The supplier side: supplier-subsidy rounds and the green award (CD-6, CD-7, CD-10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    SUPPLIER,
)
from ledger.money import ZERO
from ledger.payment import PaymentInstruction
from ledger.policy import ONE_OFF_AWARD, RANKED_TIER_GRANT, SUPPLIER_SUBSIDY
from ledger.programme import Programme, SupplierList
from ledger.supplier_subsidy import (
    BillFacts,
    GreenAward,
    SpecialFacts,
    SpecialSpendAttribution,
    SupplierSubsidyRound,
    SupplierYear,
    subsidy_base,
)
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


@command(
    "apply-supplier-subsidy",
    role="clerk",
    clauses=("CD-2", "CD-3", "CD-6", "CD-10"),
    example={
        "programme": "CD-2026",
        "round": "R1",
        "supplier": SUPPLIER,
        "at": "2026-02-10T09:00:00+08:00",
    },
)
class ApplySupplierSubsidy(Command):
    """A supplier applies for its subsidy voucher in year Y: its base is year Y-1's
    inclusive-voucher bills it served, plus the special-voucher holders' spend it served (each
    at most what the holder evidenced). Affiliated or unlisted business is excluded with its
    reason (CD-2, CD-3, CD-6, CD-10)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    round: str = arg(p.text(20), "supplier-subsidy round name, e.g. R1")
    supplier: str = arg(p.credit_code, "supplier's credit code")
    special_holder_spend: dict[str, Decimal] = arg(
        p.mapping(p.credit_code, p.amount),
        "special-voucher holders' Y-1 spend served: HOLDER=AMOUNT",
        shape="pairs",
        default_factory=dict,
    )


def _paid_out(app: VoucherLedger, reference: str | None) -> tuple[bool, bool]:
    """CD-10 「兑付」: whether the payment ``reference`` was made — settled by the bank, not
    stopped — and whether any of it was demanded back (CD-11)."""
    if reference is None:
        return False, False
    payment: PaymentInstruction | None = app.find(PaymentInstruction.id_for(reference))
    if payment is None:
        return False, False
    settled = payment.settled is not None and payment.settled > 0 and not payment.stopped
    return settled, payment.clawed_back > 0


def _bill_facts(
    app: VoucherLedger, supplier: str, business: SupplierYear | None
) -> list[BillFacts]:
    """The base year's inclusive bills at ``supplier``, with what decides whether they count."""
    if business is None:
        return []
    facts = []
    for invoice, (holder, bill) in business.bills.items():
        redemption = app.redemption(supplier, invoice)
        voucher = app.voucher(redemption.voucher)
        settled, payment_clawed = _paid_out(app, redemption.payment_reference)
        facts.append(
            BillFacts(
                invoice=invoice,
                holder=holder,
                bill=bill,
                deduction=redemption.deduction,
                rate=voucher.max_deduction_rate,
                paid_out=redemption.reimbursed and settled,
                clawed_back=payment_clawed or voucher.clawed_back > 0,
                counted_in=business.counted.get(invoice),
            )
        )
    return facts


def _special_facts(
    app: VoucherLedger, base: Programme, claimed: dict[str, Decimal]
) -> list[SpecialFacts]:
    """Each holder's claimed spend, with its special voucher of ``base`` (if it holds one)."""
    ranked = base.policy.instrument_of_type(RANKED_TIER_GRANT)
    holders = base.holders_of(ranked.name)
    prefix = f"{base.name}-{ranked.code}-"
    facts = []
    for holder, amount in claimed.items():
        record = app.entity_record(holder) if holder in holders else None
        numbers = [n for n in (record.vouchers if record else ()) if n.startswith(prefix)]
        if not numbers:
            facts.append(SpecialFacts(holder=holder, claimed=amount))
            continue
        voucher = app.voucher(numbers[0])
        special_round = app.special_round(base.name)
        attribution = app.find(SpecialSpendAttribution.id_for(base.name, holder))
        settled, payment_clawed = _paid_out(app, voucher.payment_reference)
        facts.append(
            SpecialFacts(
                holder=holder,
                claimed=amount,
                voucher=voucher.number,
                amount=voucher.face_value,
                rate=voucher.max_deduction_rate,
                spend=special_round.applications[holder].spend,
                paid_out=settled,
                clawed_back=payment_clawed or voucher.clawed_back > 0,
                counted=attribution.counted if attribution is not None else ZERO,
            )
        )
    return facts


@handles(ApplySupplierSubsidy)
def apply_supplier_subsidy(app: VoucherLedger, ctx: Context, cmd: ApplySupplierSubsidy) -> Events:
    """CD-6, CD-10: the supplier applies; its base is the previous year's voucher business
    that was paid out (兑付): the inclusive-voucher bills it served, plus special-voucher
    holders' evidenced spend it served, each at most the part the voucher supported and
    counted once across the year's rounds. Unlisted (CD-2), self-dealt and affiliated (CD-1,
    CD-3), clawed-back (CD-11) and unpaid business is excluded, with reasons."""
    terms = app.programme_terms(cmd.programme)
    instrument = terms.policy.instrument_of_type(SUPPLIER_SUBSIDY)
    terms.require_in_year(ctx)
    base_name = f"{terms.policy.code}-{terms.year - int(instrument.value('base_year_offset'))}"
    if app.find(Programme.id_for(base_name)) is None:
        raise Rejected("base-programme-not-open", f"programme {base_name} was never opened")
    base = app.programme(base_name)
    supplier = app.supplier(cmd.supplier)
    terms.require_eligible_supplier(supplier)
    app.require_standing(terms, supplier.credit_code, ctx)
    business = app.find(SupplierYear.id_for(terms.policy.id, supplier.credit_code, base.year))
    # The special vouchers of the base year were granted on the holders' spend of the year
    # before (CD-5: 上年度算力支出): the supplier must have been listed in that year (CD-2).
    spend_year = base.year - 1
    spend_programme = f"{terms.policy.code}-{spend_year}"
    listed = False
    if app.find(Programme.id_for(spend_programme)) is not None:
        spend_terms = app.programme_terms(spend_programme)
        listings = {
            q: app.find(SupplierList.id_for(spend_programme, q))
            for q in spend_terms.listing_periods()
        }
        listed = spend_terms.listing_refusal(supplier.credit_code, listings) is None
    decided = subsidy_base(
        supplier=supplier.credit_code,
        base_programme=base.name,
        spend_year=spend_year,
        bills=_bill_facts(app, supplier.credit_code, business),
        special=_special_facts(app, base, cmd.special_holder_spend),
        affiliated=supplier.affiliated,
        listed_in_spend_year=listed,
        counted_rule=str(instrument.value("business_counted")),
    )
    attributions: list[SpecialSpendAttribution] = []
    for holder, amount in decided.claimed.items():
        attribution = app.find(SpecialSpendAttribution.id_for(base.name, holder))
        if attribution is None:
            spend = app.special_round(base.name).applications[holder].spend
            attribution = SpecialSpendAttribution.start(ctx, base.name, holder, spend)
        attribution.attribute(ctx, supplier.credit_code, cmd.round, amount, decided.special[holder])
        attributions.append(attribution)
    existing = app.find(SupplierSubsidyRound.id_for(terms.name, cmd.round))
    round_ = existing or SupplierSubsidyRound.open(ctx, terms.name, cmd.round, base.name)
    round_.receive(
        ctx,
        instrument,
        supplier.credit_code,
        decided.inclusive,
        decided.special,
        decided.excluded,
    )
    touched: list[Aggregate] = [round_, *attributions]
    if business is not None and decided.bills:
        business.count_business(ctx, terms.name, cmd.round, decided.bills)
        touched.append(business)
    return app.commit(*touched)


@command(
    "plan-supplier-subsidy",
    role="clerk",
    clauses=("CD-6",),
    example={"programme": "CD-2026", "round": "R1", "at": "2026-03-01T09:00:00+08:00"},
)
class PlanSupplierSubsidy(Command):
    """Draw the round's plan: at most 20% of each base and at most the supplier's yearly
    2,000,000 cap's headroom; what is capped off is recorded (CD-6)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    round: str = arg(p.text(20), "supplier-subsidy round name, e.g. R1")


@handles(PlanSupplierSubsidy)
def plan_supplier_subsidy(app: VoucherLedger, ctx: Context, cmd: PlanSupplierSubsidy) -> Events:
    terms = app.programme_terms(cmd.programme)
    round_ = app.supplier_round(terms.name, cmd.round)
    instrument = terms.policy.instrument_of_type(SUPPLIER_SUBSIDY)
    cap: Decimal = instrument.value("cap_per_supplier_per_year")
    years = {
        supplier: app.supplier_year(ctx, terms.policy.id, supplier, terms.year)
        for supplier in round_.bases
    }
    headrooms = {supplier: year.headroom(cap) for supplier, year in years.items()}
    granted_bases = {supplier: year.granted_base for supplier, year in years.items()}
    round_.draw_plan(ctx, instrument, headrooms, granted_bases)
    return app.commit(round_)


@command(
    "publish-supplier-subsidy-plan",
    role="clerk",
    clauses=("CD-10",),
    example={
        "programme": "CD-2026",
        "round": "R1",
        "notice_from": "2026-03-02",
        "notice_to": "2026-03-08",
        "at": "2026-03-02T09:00:00+08:00",
    },
)
class PublishSupplierSubsidyPlan(Command):
    """Publish the drawn plan for public notice (CD-10)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    round: str = arg(p.text(20), "supplier-subsidy round name, e.g. R1")
    notice_from: date = arg(p.date_, "first day of the notice period")
    notice_to: date = arg(p.date_, "last day of the notice period")


@handles(PublishSupplierSubsidyPlan)
def publish_supplier_subsidy_plan(
    app: VoucherLedger, ctx: Context, cmd: PublishSupplierSubsidyPlan
) -> Events:
    terms = app.programme_terms(cmd.programme)
    round_ = app.supplier_round(terms.name, cmd.round)
    instrument = terms.policy.instrument_of_type(SUPPLIER_SUBSIDY)
    round_.publish(ctx, instrument, cmd.notice_from, cmd.notice_to)
    return app.commit(round_)


@command(
    "finalise-supplier-subsidy",
    role="clerk",
    clauses=("CD-6", "CD-10"),
    example={"programme": "CD-2026", "round": "R1", "at": "2026-03-10T09:00:00+08:00"},
)
class FinaliseSupplierSubsidy(Command):
    """After the notice period with no objection open: grant each supplier its planned subsidy
    (never beyond the yearly cap, even across rounds) and record a payment instruction to it
    (CD-6, CD-10)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    round: str = arg(p.text(20), "supplier-subsidy round name, e.g. R1")


@handles(FinaliseSupplierSubsidy)
def finalise_supplier_subsidy(
    app: VoucherLedger, ctx: Context, cmd: FinaliseSupplierSubsidy
) -> Events:
    """CD-10: pay the plan — each grant through the supplier's year, which caps it (CD-6)."""
    terms = app.programme_terms(cmd.programme)
    round_ = app.supplier_round(terms.name, cmd.round)
    instrument = terms.policy.instrument_of_type(SUPPLIER_SUBSIDY)
    lines = round_.require_finalisable(ctx, app.clock.now())
    touched: list[Aggregate] = [round_]
    granted: dict[str, Decimal] = {}
    payments: dict[str, str] = {}
    for line in lines:
        supplier = app.supplier(line.supplier)
        record = app.record_for_receiving(terms, supplier.credit_code, ctx)
        year = app.supplier_year(ctx, terms.policy.id, supplier.credit_code, terms.year)
        decision = f"supplier-subsidy:{terms.name}:{cmd.round}:{supplier.credit_code}"
        purpose = "supplier-subsidy"
        reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
        amount = year.grant(ctx, instrument, terms.name, cmd.round, line, reference)
        granted[supplier.credit_code] = amount
        touched.append(year)
        if amount > 0:
            payment = app.pay(
                ctx,
                terms,
                instrument,
                supplier,
                record,
                amount=amount,
                purpose=purpose,
                decision=decision,
                basis=("max_subsidy_rate", "cap_per_supplier_per_year"),
            )
            payments[supplier.credit_code] = reference
            touched += [payment, record]
    round_.finalise(ctx, granted, payments)
    return app.commit(*touched)


@command(
    "certify-green-data-centre",
    role="clerk",
    clauses=("CD-7",),
    example={
        "programme": "CD-2026",
        "supplier": SUPPLIER,
        "certification_date": "2026-03-15",
        "reference": "工信部 2026 国家绿色数据中心 第12号",
        "at": "2026-03-16T09:00:00+08:00",
    },
)
class CertifyGreenDataCentre(Command):
    """Record a data centre's approval as a national green data centre: the one-off 1,000,000
    green award is granted automatically, once per supplier ever (CD-7, 免申即享)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    supplier: str = arg(p.credit_code, "the data centre's credit code")
    certification_date: date = arg(p.date_, "date of approval")
    reference: str = arg(p.text(64), "the approval's reference")


@handles(CertifyGreenDataCentre)
def certify_green_data_centre(
    app: VoucherLedger, ctx: Context, cmd: CertifyGreenDataCentre
) -> Events:
    """CD-7 (免申即享): recording the certification grants the award, once per supplier."""
    terms = app.programme_terms(cmd.programme)
    terms.require_in_year(ctx)
    instrument = terms.policy.instrument_of_type(ONE_OFF_AWARD)
    supplier = app.supplier(cmd.supplier)
    GreenAward.require_eligible(instrument, supplier.credit_code, supplier.kind)
    terms.require_eligible_supplier(supplier)
    GreenAward.require_newly_approved(
        instrument,
        cmd.certification_date,
        local_date(ctx.at),
        int(terms.policy.value("validity.first_year")),
    )
    # §六(一) 「未纳入名单的本政策措施不予支持」: on the list of the award's half-year.
    periods = terms.listing_periods(local_date(ctx.at))
    terms.require_listed(
        supplier.credit_code, {q: app.find(SupplierList.id_for(terms.name, q)) for q in periods}
    )
    if not supplier.certify_green(ctx, cmd.certification_date, cmd.reference):
        return []  # this certification is recorded already
    if app.find(GreenAward.id_for(supplier.credit_code)) is not None:
        return app.commit(supplier)  # certified again: the award is once, ever
    record = app.record_for_receiving(terms, supplier.credit_code, ctx)
    decision = f"green-award:{supplier.credit_code}"
    purpose = "green-award"
    payment_reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
    award = GreenAward.grant(
        ctx,
        instrument,
        supplier.credit_code,
        terms.name,
        cmd.certification_date,
        cmd.reference,
        payment_reference,
    )
    payment = app.pay(
        ctx,
        terms,
        instrument,
        supplier,
        record,
        amount=instrument.value("amount"),
        purpose=purpose,
        decision=decision,
        basis=("amount", "eligible_kinds", "newly_approved_within_days"),
    )
    return app.commit(supplier, award, payment, record)
