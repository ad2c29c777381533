"""Operator claims under a pro-rata subsidy: claims, reviews and allocation (QD-1 to QD-8)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    QD_OPERATOR,
)
from ledger.ids import make_credit_code
from ledger.pro_rata import (
    ClaimLine,
    ClaimRound,
    ContractLine,
    EarlierClaim,
    allocate,
    decide_claim_lines,
    pool_of,
    split_funding,
)
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

_CLAIM_LINE = {
    "customer": (p.credit_code, True),
    "customer_in_area": (p.boolean, True),
    "contract_number": (p.text(64), True),
    "amount": (p.amount, True),
    "service_from": (p.date_, True),
    "service_to": (p.date_, True),
    "invoice": (p.text(64), True),
    "bank_receipt": (p.text(64), True),
    "funded_elsewhere": (p.boolean, False),
}


def _claim_lines(value: Any, name: str) -> list[ClaimLine]:
    return [ClaimLine(**line) for line in p.objects(_CLAIM_LINE)(value, name)]


@command(
    "submit-operator-claim",
    role="clerk",
    clauses=("QD-1", "QD-2", "QD-5", "QD-8"),
    example={
        "programme": "QD-2024",
        "operator": QD_OPERATOR,
        "audit_report": "青审专字(2024)第017号",
        "lines": [
            {
                "customer": make_credit_code("91370212MA3D00001"),
                "customer_in_area": True,
                "contract_number": "HT-2023-0091",
                "amount": "1200000.00",
                "service_from": "2023-03-01",
                "service_to": "2023-11-30",
                "invoice": "FP-2023-0091",
                "bank_receipt": "BR-2023-0091",
            }
        ],
        "at": "2024-01-23T10:00:00+08:00",
    },
)
class SubmitOperatorClaim(Command):
    """An operator claims its service contracts, with the third-party audit report and its
    detail lines; each line is kept, eligible or excluded with the reason (window, area, funded
    elsewhere, claimed twice) (QD-1, QD-2, QD-5, QD-8). On the command line, --lines takes the
    JSON list or @FILE."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")
    operator: str = arg(p.credit_code, "the claimant operator's credit code")
    audit_report: str = arg(p.text(), "third-party audit report reference")
    lines: list[ClaimLine] = arg(
        _claim_lines,
        "detail lines: customer, customer_in_area, contract_number, amount (tax "
        "excluded), service_from, service_to, invoice, bank_receipt, funded_elsewhere",
        shape="objects",
    )


@handles(SubmitOperatorClaim)
def submit_operator_claim(app: VoucherLedger, ctx: Context, cmd: SubmitOperatorClaim) -> Events:
    """QD-1, QD-2, QD-5, QD-8: every line kept, eligible or excluded with its reason."""
    terms, instrument = app.pro_rata_terms(cmd.programme)
    claimant = app.supplier(cmd.operator)
    terms.require_eligible_supplier(claimant)
    earlier: dict[UUID, EarlierClaim] = {}
    if instrument.value("duplicate_funding_check"):
        for line in cmd.lines:
            key = ContractLine.id_for(line.customer, line.contract_number)
            if (found := app.find(key)) is not None:
                earlier[key] = found.earlier_claim
    decided = decide_claim_lines(terms.policy, instrument, cmd.lines, earlier)
    registry = [
        ContractLine.claim(
            ctx, line.customer, line.contract_number, terms.name, claimant.credit_code
        )
        for line, why in decided
        if not why
    ]
    existing = app.find(ClaimRound.id_for(terms.name, instrument.name))
    round_ = existing or ClaimRound.open(ctx, terms.name, instrument.name)
    round_.submit(ctx, instrument, claimant.credit_code, cmd.audit_report, decided)
    return app.commit(round_, *registry)


@command(
    "district-pre-review",
    role="clerk",
    clauses=("QD-6", "QD-7"),
    example={
        "programme": "QD-2024",
        "operator": QD_OPERATOR,
        "outcome": "pass",
        "green_threshold_met": True,
        "reason": "no listing; green threshold met",
        "at": "2024-02-01T10:00:00+08:00",
    },
)
class DistrictPreReview(Command):
    """The district's pre-review: credit and blacklists, the green threshold. An operator on a
    blacklist or below the threshold cannot pass (QD-6, QD-7)."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")
    operator: str = arg(p.credit_code, "the claimant operator's credit code")
    outcome: str = arg(p.choice("pass", "fail"), "pass / fail")
    green_threshold_met: bool = arg(p.boolean, "yes / no")
    reason: str = arg(p.text(), "the reviewer's reason")


@handles(DistrictPreReview)
def district_pre_review(app: VoucherLedger, ctx: Context, cmd: DistrictPreReview) -> Events:
    """QD-6, QD-7: an operator on a blacklist, or below the green threshold, cannot pass."""
    passed = cmd.outcome == "pass"
    terms, instrument = app.pro_rata_terms(cmd.programme)
    round_ = app.claim_round(terms.name)
    if passed:
        app.require_standing(terms, cmd.operator, ctx)
    round_.pre_review(ctx, instrument, cmd.operator, passed, cmd.green_threshold_met, cmd.reason)
    return app.commit(round_)


@command(
    "city-review",
    role="clerk",
    clauses=("QD-6",),
    example={
        "programme": "QD-2024",
        "operator": QD_OPERATOR,
        "outcome": "pass",
        "assessment": "专家评审意见 2024-03",
        "reason": "contracts and receipts verified",
        "at": "2024-03-05T10:00:00+08:00",
    },
)
class CityReview(Command):
    """The city's completeness check, re-review and expert assessment: the approved eligible
    amount (default: all that is eligible) (QD-6)."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")
    operator: str = arg(p.credit_code, "the claimant operator's credit code")
    outcome: str = arg(p.choice("pass", "fail"), "pass / fail")
    approved_amount: Decimal | None = arg(p.amount, "approved eligible amount", default=None)
    assessment: str = arg(p.text(), "expert assessment reference")
    reason: str = arg(p.text(), "why")


@handles(CityReview)
def city_review(app: VoucherLedger, ctx: Context, cmd: CityReview) -> Events:
    round_ = app.claim_round(cmd.programme)
    round_.city_review(
        ctx, cmd.operator, (cmd.outcome == "pass"), cmd.approved_amount, cmd.assessment, cmd.reason
    )
    return app.commit(round_)


@command(
    "allocate-operator-subsidy",
    role="finance",
    clauses=("QD-2", "QD-3", "QD-4"),
    example={"programme": "QD-2024", "at": "2024-03-20T10:00:00+08:00"},
)
class AllocateOperatorSubsidy(Command):
    """Fix the amounts: the rate of each approved eligible amount, scaled pro rata when the pool
    (city share 10,000,000, city:district 1:1) is short, split by funding source with
    largest-remainder rounding; one payment instruction per operator and source (QD-2, QD-3,
    QD-4)."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")


@handles(AllocateOperatorSubsidy)
def allocate_operator_subsidy(
    app: VoucherLedger, ctx: Context, cmd: AllocateOperatorSubsidy
) -> Events:
    """QD-2…QD-4: entitlements, scaled pro rata to the pool, split between the funding
    sources, one payment instruction per claimant and source."""
    terms, instrument = app.pro_rata_terms(cmd.programme)
    round_ = app.claim_round(terms.name)
    round_.require_allocatable()
    entitlements = round_.entitlements(instrument)
    pool = pool_of(instrument)
    allocations, scale = allocate(entitlements, pool)
    shares = split_funding(allocations, instrument.value("funding_split"))
    touched: list[Aggregate] = [round_]
    payments: dict[str, dict[str, str]] = {}
    for claimant_code, by_source in shares.items():
        claimant = app.supplier(claimant_code)
        record = app.record_for_receiving(terms, claimant_code, ctx)
        payments[claimant_code] = {}
        for source, amount in by_source.items():
            if amount <= 0:
                continue
            payment = app.pay(
                ctx,
                terms,
                instrument,
                claimant,
                record,
                amount=amount,
                purpose=instrument.name.replace("_", "-"),
                decision=f"{instrument.name}:{terms.name}:{claimant_code}:{source}",
                basis=("rate", "funding_split", "allocation"),
                funding_source=source,
            )
            payments[claimant_code][source] = payment.reference
            touched.append(payment)
        touched.append(record)
    round_.allocate(ctx, instrument, entitlements, pool, allocations, scale, shares, payments)
    return app.commit(*touched)
