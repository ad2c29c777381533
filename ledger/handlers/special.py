"""The special round: applications, ranking, review, plan, objections and finalisation (CD-5, CD-9,
CD-12, CD-13)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    SPECIAL_EVIDENCE,
)
from ledger.payment import PaymentInstruction
from ledger.policy import (
    EVIDENCE_KINDS,
    RANKED_TIER_GRANT,
    Instrument,
)
from ledger.programme import Programme
from ledger.special import SpecialRound
from ledger.tax import tax_exclusive
from ledger.vocabulary import Command, arg, command
from ledger.voucher import Voucher

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

FUNDING_DECLARATION_SOURCES = ("city", "district", "province", "national")


def _special(app: VoucherLedger, programme_name: str) -> tuple[Programme, SpecialRound]:
    terms = app.programme_terms(programme_name)
    return terms, app.special_round(terms.name)


def _ranked(terms: Programme) -> Instrument:
    """The programme's ranked-tier grant (the special voucher, CD-5), whatever its name."""
    return terms.policy.instrument_of_type(RANKED_TIER_GRANT)


def _is_ranked_round(terms: Programme, round_name: str | None) -> bool:
    return round_name is None or round_name == _ranked(terms).name


@command(
    "apply-special",
    role="clerk",
    clauses=("CD-5", "CD-9", "CD-12", "CD-13"),
    example={
        "programme": "CD-2025",
        "applicant": "91510100MA6BXQ5N2A",
        "prior_year_spend": "12500000.00",
        "evidence": SPECIAL_EVIDENCE,
        "other_public_funding": {"province": "300000.00"},
        "at": "2025-03-05T10:00:00+08:00",
    },
)
class ApplySpecial(Command):
    """Apply for a special voucher with last year's compute spend (tax excluded) and its
    evidence, declaring other public funding of that spend (CD-5, CD-9, CD-12). One per unit per
    year; not while the unit holds an inclusive voucher (CD-13)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    applicant: str = arg(p.credit_code, "applicant's credit code")
    prior_year_spend: Decimal | None = arg(
        p.amount, "compute spend of the previous year, tax excluded (CD-5, CD-14)", default=None
    )
    evidence: dict[str, str] = arg(
        p.keyed(p.text(), EVIDENCE_KINDS),
        "references by kind: " + ", ".join(EVIDENCE_KINDS),
        shape="pairs",
    )
    other_public_funding: dict[str, Decimal] = arg(
        p.keyed(p.amount, FUNDING_DECLARATION_SOURCES),
        "other public funding of the same spend by source: "
        + ", ".join(FUNDING_DECLARATION_SOURCES)
        + " (CD-12; omit to declare none)",
        shape="pairs",
        default_factory=dict,
    )
    submitted_at: datetime | None = arg(
        p.business_time,
        "when the application was submitted on the platform (CD-9 ranks a bracket by it); "
        "default: the command's business time",
        default=None,
    )
    # CD-14 「金额不含税」: a tax-inclusive total alone is refused or converted per the policy.
    prior_year_spend_incl_tax: Decimal | None = arg(
        p.amount, "the spend with tax, when that is all there is (CD-14)", default=None
    )
    tax_rate: Decimal | None = arg(
        p.tax_rate, "the tax rate to convert the spend with, e.g. 0.06", default=None
    )


@handles(ApplySpecial)
def apply_special(app: VoucherLedger, ctx: Context, cmd: ApplySpecial) -> Events:
    programme = app.programme(cmd.programme)
    instrument = _ranked(programme)
    programme.require_in_year(ctx)
    applicant = app.applicant(cmd.applicant)
    programme.require_eligible_applicant(applicant)
    app.require_standing(programme, applicant.credit_code, ctx)
    programme.require_may_hold(instrument, applicant.credit_code)
    spend = tax_exclusive(  # CD-14: tiers and the 20% are of the spend without tax
        field="prior_year_spend",
        amount=cmd.prior_year_spend,
        tax=None,
        inclusive=cmd.prior_year_spend_incl_tax,
        rate=cmd.tax_rate,
        mode=programme.policy.get("validity.tax_inclusive_input"),
    )
    existing = app.find(SpecialRound.id_for(programme.name, instrument.name))
    round_ = existing or SpecialRound.open(ctx, programme.name, instrument.name)
    round_.receive(
        ctx,
        instrument,
        applicant.credit_code,
        spend.amount,
        cmd.evidence,
        cmd.other_public_funding,
        cmd.submitted_at,
    )
    return app.commit(round_)


@command(
    "rank-special",
    role="clerk",
    clauses=("CD-9",),
    example={"programme": "CD-2025", "at": "2025-04-01T09:00:00+08:00"},
)
class RankSpecial(Command):
    """Close applications and rank them: spend bracket first, then submission time within a
    bracket; the top 135 go to review (CD-9)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")


@handles(RankSpecial)
def rank_special(app: VoucherLedger, ctx: Context, cmd: RankSpecial) -> Events:
    terms, round_ = _special(app, cmd.programme)
    round_.rank_applications(ctx, _ranked(terms))
    return app.commit(round_)


@command(
    "review-special",
    role="clerk",
    clauses=("CD-9",),
    example={
        "programme": "CD-2025",
        "applicant": "91510100MA6BXQ5N2A",
        "outcome": "pass",
        "reason": "materials complete and consistent",
        "at": "2025-04-10T09:00:00+08:00",
    },
)
class ReviewSpecial(Command):
    """Record the review of an application under review; a failure is replaced by the next in
    line (递补, CD-9)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    applicant: str = arg(p.credit_code, "applicant's credit code")
    outcome: str = arg(p.choice("pass", "fail"), "pass / fail")
    reason: str = arg(p.text(), "the reviewer's reason")


@handles(ReviewSpecial)
def review_special(app: VoucherLedger, ctx: Context, cmd: ReviewSpecial) -> Events:
    terms, round_ = _special(app, cmd.programme)
    round_.review(ctx, _ranked(terms), cmd.applicant, (cmd.outcome == "pass"), cmd.reason)
    return app.commit(round_)


@command(
    "publish-special-plan",
    role="clerk",
    clauses=("CD-5", "CD-9"),
    example={
        "programme": "CD-2025",
        "notice_from": "2025-04-20",
        "notice_to": "2025-04-26",
        "at": "2025-04-20T09:00:00+08:00",
    },
)
class PublishSpecialPlan(Command):
    """Match the passed applications to tiers and publish the allocation plan for public notice
    (公示, CD-5, CD-9)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    notice_from: date = arg(p.date_, "first day of the notice period")
    notice_to: date = arg(p.date_, "last day of the notice period")


@handles(PublishSpecialPlan)
def publish_special_plan(app: VoucherLedger, ctx: Context, cmd: PublishSpecialPlan) -> Events:
    terms, round_ = _special(app, cmd.programme)
    round_.publish_plan(ctx, _ranked(terms), cmd.notice_from, cmd.notice_to)
    return app.commit(round_)


@command(
    "raise-objection",
    role="clerk",
    clauses=(),
    example={
        "programme": "CD-2025",
        "objection": "OBJ-2025-01",
        "applicant": "91510100MA6BXQ5N2A",
        "grounds": "spend evidence duplicates another applicant's invoices",
        "at": "2025-04-22T09:00:00+08:00",
    },
)
class RaiseObjection(Command):
    """Record an objection to an applicant's place in the plan during the notice period."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    objection: str = arg(p.text(64), "objection reference")
    applicant: str = arg(p.credit_code, "the applicant (or supplier) objected to")
    grounds: str = arg(p.text(), "grounds of the objection")
    round: str | None = arg(
        p.text(20),
        "the round: the special round (default, or its instrument's name) or a "
        "supplier-subsidy round such as R1",
        default=None,
    )


@handles(RaiseObjection)
def raise_objection(app: VoucherLedger, ctx: Context, cmd: RaiseObjection) -> Events:
    """Against an applicant of the special round, or a supplier of a subsidy round."""
    if not _is_ranked_round(app.programme_terms(cmd.programme), cmd.round):
        assert cmd.round is not None
        supplier_round = app.supplier_round(cmd.programme, cmd.round)
        supplier_round.raise_objection(ctx, cmd.objection, cmd.applicant, cmd.grounds)
        return app.commit(supplier_round)
    _, round_ = _special(app, cmd.programme)
    round_.raise_objection(ctx, cmd.objection, cmd.applicant, cmd.grounds)
    return app.commit(round_)


@command(
    "resolve-objection",
    role="clerk",
    clauses=(),
    example={
        "programme": "CD-2025",
        "objection": "OBJ-2025-01",
        "outcome": "dismissed",
        "reason": "invoices verified with the tax bureau",
        "at": "2025-04-24T09:00:00+08:00",
    },
)
class ResolveObjection(Command):
    """Resolve an objection. Upheld: the applicant leaves the plan, the next in line moves up
    for review, and the plan must be published again."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    objection: str = arg(p.text(64), "objection reference")
    outcome: str = arg(p.choice("upheld", "dismissed"), "upheld / dismissed")
    reason: str = arg(p.text(), "why")
    round: str | None = arg(
        p.text(20),
        "the round: the special round (default, or its instrument's name) or a "
        "supplier-subsidy round such as R1",
        default=None,
    )


@handles(ResolveObjection)
def resolve_objection(app: VoucherLedger, ctx: Context, cmd: ResolveObjection) -> Events:
    upheld = cmd.outcome == "upheld"
    if not _is_ranked_round(app.programme_terms(cmd.programme), cmd.round):
        assert cmd.round is not None
        supplier_round = app.supplier_round(cmd.programme, cmd.round)
        supplier_round.resolve_objection(ctx, cmd.objection, upheld, cmd.reason)
        return app.commit(supplier_round)
    terms, round_ = _special(app, cmd.programme)
    round_.resolve_objection(ctx, _ranked(terms), cmd.objection, upheld, cmd.reason)
    return app.commit(round_)


@command(
    "finalise-special",
    role="clerk",
    clauses=("CD-9",),
    example={"programme": "CD-2025", "at": "2025-04-28T09:00:00+08:00"},
)
class FinaliseSpecial(Command):
    """After the notice period with no objection open: issue the special vouchers and record a
    payment instruction of each amount to the applicant (CD-9)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")


@handles(FinaliseSpecial)
def finalise_special(app: VoucherLedger, ctx: Context, cmd: FinaliseSpecial) -> Events:
    """Issue the special vouchers of the published plan and instruct each amount to be
    paid to the applicant (CD-9), in one transaction with the quota (CD-5) and the
    one-voucher and exclusivity rules (CD-5, CD-13)."""
    programme = app.programme(cmd.programme)
    round_ = app.special_round(programme.name)
    instrument = _ranked(programme)
    plan = round_.require_finalisable(ctx, app.clock.now())
    touched: list[Aggregate] = [round_, programme]
    numbers: dict[str, str] = {}
    for allocation in plan:
        applicant = app.applicant(allocation.applicant)
        record = app.record_for_receiving(programme, applicant.credit_code, ctx)
        number = programme.allot_voucher(ctx, instrument, applicant.credit_code)
        numbers[applicant.credit_code] = number
        voucher = Voucher.issue(
            ctx,
            number,
            programme.name,
            programme.year,
            instrument,
            applicant.credit_code,
            amount=allocation.amount,
        )
        decision = f"special-voucher:{number}"
        purpose = f"{instrument.name}-voucher-payment"
        reference = PaymentInstruction.reference_for(programme.name, purpose, decision)
        amount = voucher.pay_to_holder(ctx, reference)
        record.note_voucher(ctx, number)
        payment = app.pay(
            ctx,
            programme,
            instrument,
            applicant,
            record,
            amount=amount,
            purpose=purpose,
            decision=decision,
            basis=("tiers", "max_subsidy_rate", "funding_source"),
        )
        touched += [voucher, payment, record]
    round_.finalise(ctx, numbers)
    return app.commit(*touched)
