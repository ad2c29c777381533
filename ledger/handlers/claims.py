"""Operator claims under a pro-rata subsidy: claims, reviews and allocation (QD-1 to QD-8)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import parsers as p
from ledger.errors import Rejected
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import QD_LATE_LISTED, QD_OPERATOR
from ledger.ids import make_credit_code
from ledger.policy import APPLICANT_KINDS
from ledger.pro_rata import (
    ClaimLine,
    ClaimRound,
    ContractLine,
    EarlierClaim,
    InvoicePart,
    allocate_by_contract,
    decide_claim_lines,
    pool_of,
)
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

_INVOICE = {
    "number": (p.text(64), True),
    "date": (p.date_, True),
    "amount": (p.amount, True),
}


def _invoices(value: Any, name: str) -> tuple[InvoicePart, ...]:
    return tuple(
        InvoicePart(i["number"], i["date"], i["amount"]) for i in p.objects(_INVOICE)(value, name)
    )


_CLAIM_LINE = {
    "customer": (p.credit_code, True),
    "customer_in_area": (p.boolean, False),
    "customer_kind": (p.choice(*APPLICANT_KINDS), False),
    "tax": (p.amount, False),
    "invoices": (_invoices, False),
    "contract_number": (p.text(64), True),
    "amount": (p.amount, True),
    "service_from": (p.date_, True),
    "service_to": (p.date_, True),
    "invoice": (p.text(64), True),
    "bank_receipt": (p.text(64), True),
    "funded_elsewhere": (p.boolean, False),
}


def _claim_lines(value: Any, name: str) -> list[ClaimLine]:
    return [
        ClaimLine(**{"customer_in_area": None, **line})
        for line in p.objects(_CLAIM_LINE)(value, name)
    ]


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
    detail lines; each line is kept, counted (the part inside the service window) or excluded
    with the reason (customer's place or kind, window, funded elsewhere, claimed twice) (QD-1,
    QD-2, QD-5, QD-8). The customer's place is read from its credit code where the code names a
    city; customer_in_area is needed only where it does not. On the command line, --lines
    takes the JSON list or @FILE."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")
    operator: str = arg(p.credit_code, "the claimant operator's credit code")
    audit_report: str = arg(p.text(), "third-party audit report reference")
    lines: list[ClaimLine] = arg(
        _claim_lines,
        "detail lines: customer, customer_in_area?, customer_kind?, contract_number, amount "
        "(as the contract states it), tax?, service_from, service_to, invoice, "
        "invoices? [{number, date, amount}], bank_receipt, funded_elsewhere?",
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
            ctx, d.line.customer, d.line.contract_number, terms.name, claimant.credit_code
        )
        for d in decided
        if not d.excluded
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
    """QD-6; QD-7: an operator listed since its pre-review cannot pass the city review."""
    terms, _ = app.pro_rata_terms(cmd.programme)
    round_ = app.claim_round(terms.name)
    if cmd.outcome == "pass":
        app.require_standing(terms, cmd.operator, ctx)
    round_.city_review(
        ctx, cmd.operator, (cmd.outcome == "pass"), cmd.approved_amount, cmd.assessment, cmd.reason
    )
    return app.commit(round_)


@command(
    "city-re-review",
    role="clerk",
    clauses=("QD-6", "QD-7"),
    example={
        "programme": "QD-2024",
        "operator": QD_LATE_LISTED,
        "ground": "blacklist",
        "assessment": "复核意见 2024-03-18",
        "reason": "listed on the environmental-credit blacklist after the city review",
        "at": "2024-03-18T10:00:00+08:00",
    },
)
class CityReReview(Command):
    """The city re-reviews an approved claim before the allocation and excludes the operator:
    on a blacklist (a listing recorded in the ledger: record-credit-listing) or in breach of
    the green threshold — 「取消政策性资金扶持」 (QD-7). The pool goes to the others."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")
    operator: str = arg(p.credit_code, "the claimant operator's credit code")
    ground: str = arg(p.choice("blacklist", "green-threshold"), "blacklist / green-threshold")
    assessment: str = arg(p.text(), "the re-review's reference")
    reason: str = arg(p.text(), "why")


@handles(CityReReview)
def city_re_review(app: VoucherLedger, ctx: Context, cmd: CityReReview) -> Events:
    """QD-7: a blacklisting rests on a listing the ledger holds; its reference is recorded."""
    terms, instrument = app.pro_rata_terms(cmd.programme)
    round_ = app.claim_round(terms.name)
    listing = ""
    clause = terms.policy.clause("enforcement.disqualifying_records")
    if cmd.ground == "blacklist":
        refusal = app.standing_refusal(terms, cmd.operator, ctx)
        if refusal is None or refusal.code != "credit-record-in-lookback":
            raise Rejected(
                "no-listing-recorded",
                f"{cmd.operator} has no blacklist listing in the ledger; record it first "
                f"(record-credit-listing) ({clause})",
            )
        listing = str(refusal.details.get("reference", ""))
    round_.re_review(ctx, instrument, cmd.operator, cmd.ground, listing, cmd.assessment, cmd.reason)
    return app.commit(round_)


@command(
    "allocate-operator-subsidy",
    role="finance",
    clauses=("QD-2", "QD-3", "QD-4", "QD-7"),
    example={"programme": "QD-2024", "at": "2024-03-20T10:00:00+08:00"},
)
class AllocateOperatorSubsidy(Command):
    """Fix the amounts: the pool (city share 10,000,000, city:district 1:1) is shared in
    proportion to the approved contract amounts, each operator at most the rate of its own;
    city and district each pay their half, to the fen, by largest remainder; one payment
    instruction per operator and source (QD-2, QD-3, QD-4). An approved operator that is now
    blacklisted must first be excluded by a city re-review (QD-7)."""

    programme: str = arg(p.programme, "programme, e.g. QD-2024")


@handles(AllocateOperatorSubsidy)
def allocate_operator_subsidy(
    app: VoucherLedger, ctx: Context, cmd: AllocateOperatorSubsidy
) -> Events:
    """QD-2…QD-4: the pool shared by approved contract amounts, each source on its own, one
    payment instruction per claimant and source. QD-7: an approved claimant no longer in
    good standing is named, and the city re-reviews it; nobody else is held up but by that."""
    terms, instrument = app.pro_rata_terms(cmd.programme)
    round_ = app.claim_round(terms.name)
    round_.require_allocatable()
    approved = round_.approved_amounts()
    for claimant_code in approved:
        refusal = app.standing_refusal(terms, claimant_code, ctx)
        if refusal is not None:
            raise Rejected(
                "re-review-required",
                f"{claimant_code} was approved but is no longer in good standing: {refusal} — "
                f"exclude it by city-re-review, then allocate to the others "
                f"({terms.policy.clause('enforcement.disqualifying_records')})",
                operator=claimant_code,
            )
    pool = pool_of(instrument)
    allocation = allocate_by_contract(
        approved,
        instrument.value("rate"),
        instrument.value("funding_split"),
        pool,
        instrument.value("per_claimant_cap") if "per_claimant_cap" in instrument.params else None,
    )
    touched: list[Aggregate] = [round_]
    payments: dict[str, dict[str, str]] = {}
    for claimant_code, by_source in allocation.shares.items():
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
    round_.allocate(ctx, instrument, allocation, pool, payments)
    return app.commit(*touched)
