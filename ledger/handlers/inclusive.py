"""Inclusive vouchers: first come, first served issue, redemption, reimbursement and expiry (CD-4,
CD-8, CD-13)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ledger import parsers as p
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    AT,
)
from ledger.payment import PaymentInstruction
from ledger.policy import (
    DEDUCTION_VOUCHER,
    EVIDENCE_KINDS,
    KNOWN_SERVICES,
)
from ledger.programme import SupplierList
from ledger.tax import tax_exclusive
from ledger.vocabulary import Command, arg, command
from ledger.voucher import Redemption, Voucher

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


@command(
    "apply-inclusive",
    role="clerk",
    clauses=("CD-4", "CD-8", "CD-13"),
    example={"programme": "CD-2025", "applicant": "91510100MA61R0BQ4E", "at": AT},
)
class ApplyInclusive(Command):
    """Apply for an inclusive voucher: issued first come, first served while the yearly quota
    lasts; one per unit per year; not with a special voucher (CD-4, CD-8, CD-13)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    applicant: str = arg(p.credit_code, "applicant's credit code")


@handles(ApplyInclusive)
def apply_for_voucher(app: VoucherLedger, ctx: Context, cmd: ApplyInclusive) -> Events:
    """First come, first served: the order in which applications are stored is the
    submission order (CD-8)."""
    programme = app.programme(cmd.programme)
    instrument = programme.policy.instrument_of_type(DEDUCTION_VOUCHER)
    programme.require_in_year(ctx)
    applicant = app.applicant(cmd.applicant)
    programme.require_eligible_applicant(applicant)
    record = app.record_for_receiving(programme, applicant.credit_code, ctx)
    number = programme.allot_voucher(ctx, instrument, applicant.credit_code)
    voucher = Voucher.issue(
        ctx, number, programme.name, programme.year, instrument, applicant.credit_code
    )
    record.note_voucher(ctx, number)
    return app.commit(programme, voucher, record)


@command(
    "redeem",
    role="clerk",
    clauses=("CD-4", "CD-8"),
    example={
        "voucher": "CD-2025-INC-0001",
        "supplier": "91510100MA6CJ8UQ10",
        "bill_amount": "8000.00",
        "invoice_number": "INV-2025-000123",
        "service_kind": "compute",
        "service_date": "2025-03-10",
        "at": "2025-03-12T10:00:00+08:00",
    },
)
class Redeem(Command):
    """Record a bill a listed supplier settled partly with a voucher: the deduction is at most
    50% of the bill and at most what the voucher has left (CD-4, CD-8). Retrying with the same
    invoice number changes nothing."""

    voucher: str = arg(p.text(40), "voucher number, e.g. CD-2025-INC-0001")
    supplier: str = arg(p.credit_code, "supplier's credit code")
    invoice_number: str = arg(p.text(64), "supplier's invoice number")
    service_kind: str = arg(
        p.choice(*KNOWN_SERVICES), " / ".join(KNOWN_SERVICES) + ": what was rented (CD-1)"
    )
    service_date: date = arg(p.date_, "date of service, YYYY-MM-DD")
    deduction: Decimal | None = arg(
        p.amount, "deduction asked for; default: the most allowed", default=None
    )
    bill_amount: Decimal | None = arg(
        p.amount, "bill for the service, tax excluded (CD-14: 金额)", default=None
    )
    tax: Decimal | None = arg(p.amount, "the bill's tax (税额), where given", default=None)
    bill_amount_incl_tax: Decimal | None = arg(
        p.amount,
        "the bill with tax (价税合计), when that is all there is: refused or converted with "
        "tax_rate as the policy says (CD-14)",
        default=None,
    )
    tax_rate: Decimal | None = arg(
        p.tax_rate, "the invoice's tax rate, e.g. 0.06, to convert with", default=None
    )


@handles(Redeem)
def redeem(app: VoucherLedger, ctx: Context, cmd: Redeem) -> Events:
    """CD-4, CD-8 on the tax-exclusive bill (CD-14)."""
    voucher = app.voucher(cmd.voucher)
    terms = app.programme_terms(voucher.programme)
    bill = tax_exclusive(
        field="bill_amount",
        amount=cmd.bill_amount,
        tax=cmd.tax,
        inclusive=cmd.bill_amount_incl_tax,
        rate=cmd.tax_rate,
        mode=terms.policy.get("validity.tax_inclusive_input"),
    )
    previous = app.find(Redemption.id_for(cmd.supplier, cmd.invoice_number))
    if previous is not None:
        previous.require_retry_of(voucher.number, bill.amount, cmd.service_kind, cmd.service_date)
        return []  # the same bill again
    voucher.require_valid(ctx, cmd.service_date)
    terms.require_eligible_service(cmd.service_kind)
    supplier = app.supplier(cmd.supplier)
    app.require_standing(terms, voucher.holder, ctx)
    app.require_standing(terms, supplier.credit_code, ctx)
    periods = terms.listing_periods(cmd.service_date)
    terms.require_listed(
        supplier.credit_code, {q: app.find(SupplierList.id_for(terms.name, q)) for q in periods}
    )
    if terms.policy.value("suppliers.affiliated_parties_excluded"):
        supplier.require_not_affiliated_with(voucher.holder)
    amount = voucher.deduction_for(bill.amount, cmd.deduction)
    redemption = Redemption.record(
        ctx,
        voucher,
        supplier.credit_code,
        cmd.invoice_number,
        bill.amount,
        cmd.service_kind,
        cmd.service_date,
        amount,
        tax=bill.tax,
        converted_at=bill.converted_at,
    )
    voucher.redeem(
        ctx, redemption.id, supplier.credit_code, cmd.invoice_number, bill.amount, amount
    )
    # The supplier's year of voucher business: next year's subsidy base (CD-6).
    business = app.supplier_year(ctx, terms.policy.id, supplier.credit_code, voucher.year)
    business.note_bill(
        ctx, cmd.invoice_number, voucher.number, voucher.holder, bill.amount, cmd.service_date
    )
    return app.commit(voucher, redemption, business)


@command(
    "claim-reimbursement",
    role="clerk",
    clauses=("CD-8",),
    example={
        "supplier": "91510100MA6CJ8UQ10",
        "invoice_number": "INV-2025-000123",
        "evidence": {
            "contract": "HT-2025-17",
            "payment-proof": "BANK-88231",
            "invoice": "INV-2025-000123",
            "service-proof": "USAGE-2025-03",
        },
        "at": "2025-04-01T10:00:00+08:00",
    },
)
class ClaimReimbursement(Command):
    """The supplier claims back what it deducted, with contract, payment proof, invoice and
    proof of service (CD-8)."""

    supplier: str = arg(p.credit_code, "supplier's credit code")
    invoice_number: str = arg(p.text(64), "invoice of the redemption")
    evidence: dict[str, str] = arg(
        p.keyed(p.text(), EVIDENCE_KINDS),
        "references by kind: " + ", ".join(EVIDENCE_KINDS),
        shape="pairs",
    )


@handles(ClaimReimbursement)
def claim_reimbursement(app: VoucherLedger, ctx: Context, cmd: ClaimReimbursement) -> Events:
    redemption = app.redemption(cmd.supplier, cmd.invoice_number)
    voucher = app.voucher(redemption.voucher)
    terms = app.programme_terms(redemption.programme)
    app.require_standing(terms, cmd.supplier, ctx)
    if terms.policy.value("suppliers.affiliated_parties_excluded"):
        # CD-1, CD-3: an affiliation recorded since the redemption refuses the claim.
        app.supplier(cmd.supplier).require_not_affiliated_with(redemption.holder)
    instrument = terms.policy.instrument(voucher.instrument)
    redemption.claim(ctx, cmd.evidence, instrument)
    return app.commit(redemption)


@command(
    "reimburse",
    role="finance",
    clauses=("CD-8",),
    example={
        "supplier": "91510100MA6CJ8UQ10",
        "invoice_number": "INV-2025-000123",
        "at": "2025-04-15T10:00:00+08:00",
    },
)
class Reimburse(Command):
    """Pay a reviewed claim: records a payment instruction to the supplier (CD-8)."""

    supplier: str = arg(p.credit_code, "supplier's credit code")
    invoice_number: str = arg(p.text(64), "invoice of the redemption")


@handles(Reimburse)
def reimburse(app: VoucherLedger, ctx: Context, cmd: Reimburse) -> Events:
    """CD-8: after review the supplier is paid what it deducted; the payment is
    instructed to the supplier from the instrument's funding source."""
    redemption = app.redemption(cmd.supplier, cmd.invoice_number)
    voucher = app.voucher(redemption.voucher)
    terms = app.programme_terms(redemption.programme)
    instrument = terms.policy.instrument(voucher.instrument)
    supplier = app.supplier(cmd.supplier)
    if terms.policy.value("suppliers.affiliated_parties_excluded"):
        # CD-1, CD-3: and again before the money moves.
        supplier.require_not_affiliated_with(redemption.holder)
    record = app.record_for_receiving(terms, supplier.credit_code, ctx)
    decision = f"reimbursement:{redemption.id}"
    purpose = f"{instrument.name}-voucher-reimbursement"
    reference = PaymentInstruction.reference_for(terms.name, purpose, decision)
    amount = redemption.reimburse(ctx, reference)
    payment = app.pay(
        ctx,
        terms,
        instrument,
        supplier,
        record,
        amount=amount,
        purpose=purpose,
        decision=decision,
        basis=("funding_source", "reimbursement_evidence"),
    )
    return app.commit(redemption, payment, record)


@command(
    "expire-vouchers",
    role="clerk",
    clauses=("CD-8",),
    example={"programme": "CD-2025", "at": "2026-01-01T00:00:00+08:00"},
)
class ExpireVouchers(Command):
    """Year end: the unredeemed value of the programme's vouchers lapses (CD-8)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")


@handles(ExpireVouchers)
def expire_vouchers(app: VoucherLedger, ctx: Context, cmd: ExpireVouchers) -> Events:
    """Year end: every voucher of the programme with value left lapses (CD-8)."""
    programme = app.programme(cmd.programme)
    programme.require_year_ended(ctx)
    lapsing = [app.voucher(n) for n in programme.voucher_numbers()]
    return app.commit(*[v for v in lapsing if v.expire(ctx)])
