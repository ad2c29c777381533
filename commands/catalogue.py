"""Every write command: its name (the same on the command line and in JSON Lines), its fields,
who uses it, an example, and the application method it calls. docs/commands.md is checked
against this catalogue by a test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commands import fields as f
from commands.fields import Field
from ledger.application import Events, VoucherLedger
from ledger.events import Context
from ledger.ids import make_credit_code
from ledger.payment import PaymentInstruction
from ledger.policy import (
    APPLICANT_KINDS,
    CREDIT_RECORD_KINDS,
    EVIDENCE_KINDS,
    KNOWN_SERVICES,
    SUPPLIER_KINDS,
)
from ledger.pro_rata import ClaimLine
from ledger.voucher import Redemption

FUNDING_DECLARATION_SOURCES = ("city", "district", "province", "national")

Run = Callable[[VoucherLedger, Context, dict[str, Any]], Events]

# Every command also takes these; ``at`` defaults to now, ``command_id`` to a fresh id.
COMMON_FIELDS = (
    Field("at", f.business_time, "business time, ISO 8601 with zone", required=False),
    Field("actor", f.text(100), "who gives the command", required=False),
    Field("command_id", f.text(100), "caller's id for this command", required=False),
)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    user: str
    help: str
    fields: tuple[Field, ...]
    run: Run
    example: dict[str, Any]

    def field(self, name: str) -> Field | None:
        for fld in (*self.fields, *COMMON_FIELDS):
            if fld.name == name:
                return fld
        return None


_AT = "2025-03-01T09:00:00+08:00"
_BANK_ACCOUNT = Field(
    "bank_account", f.text(64), "bank account payments go to (where known)", required=False
)

INCLUSIVE_YEAR: tuple[CommandSpec, ...] = (
    CommandSpec(
        "register-applicant",
        "clerk",
        "Register an enterprise, research institute or university (CD-1).",
        (
            Field("credit_code", f.credit_code, "unified social credit code"),
            Field("name", f.text(), "registered name"),
            Field("kind", f.choice(*APPLICANT_KINDS), " / ".join(APPLICANT_KINDS)),
            Field("city", f.text(64), "city of registration, e.g. Chengdu"),
            _BANK_ACCOUNT,
        ),
        lambda app, ctx, a: app.register_applicant(
            ctx, a["credit_code"], a["name"], a["kind"], a["city"], a.get("bank_account", "")
        ),
        {
            "credit_code": "91510100MA61R0BQ4E",
            "name": "成都示例智能科技有限公司",
            "kind": "enterprise",
            "city": "Chengdu",
            "at": _AT,
        },
    ),
    CommandSpec(
        "register-supplier",
        "clerk",
        "Register a data centre or compute-scheduling platform (CD-2).",
        (
            Field("credit_code", f.credit_code, "unified social credit code"),
            Field("name", f.text(), "registered name"),
            Field("kind", f.choice(*SUPPLIER_KINDS), " / ".join(SUPPLIER_KINDS)),
            Field("city", f.text(64), "city of registration"),
            _BANK_ACCOUNT,
        ),
        lambda app, ctx, a: app.register_supplier(
            ctx, a["credit_code"], a["name"], a["kind"], a["city"], a.get("bank_account", "")
        ),
        {
            "credit_code": "91510100MA6CJ8UQ10",
            "name": "成都智算中心",
            "kind": "data-centre",
            "city": "Chengdu",
            "bank_account": "6222 0244 0200 1234 567",
            "at": _AT,
        },
    ),
    CommandSpec(
        "record-affiliation",
        "clerk",
        "Record that an applicant and a supplier are related: redemptions between them are "
        "refused (CD-3).",
        (
            Field("applicant", f.credit_code, "applicant's credit code"),
            Field("supplier", f.credit_code, "supplier's credit code"),
            Field("evidence", f.text(), "where the relation is documented"),
        ),
        lambda app, ctx, a: app.record_affiliation(
            ctx, a["applicant"], a["supplier"], a["evidence"]
        ),
        {
            "applicant": "91510100MA61R0BQ4E",
            "supplier": "91510100MA6CJ8UQ10",
            "evidence": "enterprise registry: common shareholder",
            "at": _AT,
        },
    ),
    CommandSpec(
        "open-programme",
        "clerk",
        "Open a policy's programme for a year (CD-15 sets the years).",
        (
            Field("policy", f.text(40), "policy id, e.g. chengdu"),
            Field("year", f.year, "calendar year"),
        ),
        lambda app, ctx, a: app.open_programme(ctx, a["policy"], a["year"]),
        {"policy": "chengdu", "year": 2025, "at": "2025-01-02T09:00:00+08:00"},
    ),
    CommandSpec(
        "publish-supplier-list",
        "clerk",
        "Publish the bureau's list of suppliers for a half-year (CD-2).",
        (
            Field("programme", f.programme, "programme, e.g. CD-2025"),
            Field("period", f.period, "half-year, e.g. 2025H1"),
            Field("suppliers", f.repeated(f.credit_code), "listed suppliers", repeated=True),
        ),
        lambda app, ctx, a: app.publish_supplier_list(
            ctx, a["programme"], a["period"], a["suppliers"]
        ),
        {
            "programme": "CD-2025",
            "period": "2025H1",
            "suppliers": ["91510100MA6CJ8UQ10"],
            "at": "2025-01-05T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "apply-inclusive",
        "clerk",
        "Apply for an inclusive voucher: issued first come, first served while the yearly "
        "quota lasts; one per unit per year; not with a special voucher (CD-4, CD-8, CD-13).",
        (
            Field("programme", f.programme, "programme, e.g. CD-2025"),
            Field("applicant", f.credit_code, "applicant's credit code"),
        ),
        lambda app, ctx, a: app.apply_for_voucher(ctx, a["programme"], "inclusive", a["applicant"]),
        {"programme": "CD-2025", "applicant": "91510100MA61R0BQ4E", "at": _AT},
    ),
    CommandSpec(
        "redeem",
        "clerk",
        "Record a bill a listed supplier settled partly with a voucher: the deduction is at "
        "most 50% of the bill and at most what the voucher has left (CD-4, CD-8). Retrying "
        "with the same invoice number changes nothing.",
        (
            Field("voucher", f.text(40), "voucher number, e.g. CD-2025-INC-0001"),
            Field("supplier", f.credit_code, "supplier's credit code"),
            Field("bill_amount", f.amount, "bill for the service, tax excluded (CD-14)"),
            Field("invoice_number", f.text(64), "supplier's invoice number"),
            Field(
                "service_kind",
                f.choice(*KNOWN_SERVICES),
                " / ".join(KNOWN_SERVICES) + ": what was rented (CD-1)",
            ),
            Field("service_date", f.date_, "date of service, YYYY-MM-DD"),
            Field(
                "deduction",
                f.amount,
                "deduction asked for; default: the most allowed",
                required=False,
            ),
        ),
        lambda app, ctx, a: app.redeem(
            ctx,
            a["voucher"],
            a["supplier"],
            a["bill_amount"],
            a["invoice_number"],
            a["service_kind"],
            a["service_date"],
            a.get("deduction"),
        ),
        {
            "voucher": "CD-2025-INC-0001",
            "supplier": "91510100MA6CJ8UQ10",
            "bill_amount": "8000.00",
            "invoice_number": "INV-2025-000123",
            "service_kind": "compute",
            "service_date": "2025-03-10",
            "at": "2025-03-12T10:00:00+08:00",
        },
    ),
    CommandSpec(
        "claim-reimbursement",
        "clerk",
        "The supplier claims back what it deducted, with contract, payment proof, invoice and "
        "proof of service (CD-8).",
        (
            Field("supplier", f.credit_code, "supplier's credit code"),
            Field("invoice_number", f.text(64), "invoice of the redemption"),
            Field(
                "evidence",
                f.keyed(f.text(), EVIDENCE_KINDS),
                "references by kind: " + ", ".join(EVIDENCE_KINDS),
                keyed=True,
            ),
        ),
        lambda app, ctx, a: app.claim_reimbursement(
            ctx, a["supplier"], a["invoice_number"], a["evidence"]
        ),
        {
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
    ),
    CommandSpec(
        "reimburse",
        "finance",
        "Pay a reviewed claim: records a payment instruction to the supplier (CD-8).",
        (
            Field("supplier", f.credit_code, "supplier's credit code"),
            Field("invoice_number", f.text(64), "invoice of the redemption"),
        ),
        lambda app, ctx, a: app.reimburse(ctx, a["supplier"], a["invoice_number"]),
        {
            "supplier": "91510100MA6CJ8UQ10",
            "invoice_number": "INV-2025-000123",
            "at": "2025-04-15T10:00:00+08:00",
        },
    ),
    CommandSpec(
        "expire-vouchers",
        "clerk",
        "Year end: the unredeemed value of the programme's vouchers lapses (CD-8).",
        (Field("programme", f.programme, "programme, e.g. CD-2025"),),
        lambda app, ctx, a: app.expire_vouchers(ctx, a["programme"]),
        {"programme": "CD-2025", "at": "2026-01-01T00:00:00+08:00"},
    ),
)

_SPECIAL_EVIDENCE = {
    "contract": "HT-2024-088",
    "payment-proof": "BANK-2024-1290",
    "invoice": "FP-2024-55120",
    "service-proof": "USAGE-2024",
}
_CD = ("programme", f.programme, "programme, e.g. CD-2025")
_ROUND = Field(
    "round",
    f.text(20),
    "the round: special (default) or a supplier-subsidy round such as R1",
    required=False,
)
_SUBSIDY_ROUND = Field("round", f.text(20), "supplier-subsidy round name, e.g. R1")

SPECIAL_ROUND: tuple[CommandSpec, ...] = (
    CommandSpec(
        "apply-special",
        "clerk",
        "Apply for a special voucher with last year's compute spend (tax excluded) and its "
        "evidence, declaring other public funding of that spend (CD-5, CD-9, CD-12). One per "
        "unit per year; not while the unit holds an inclusive voucher (CD-13).",
        (
            Field(*_CD),
            Field("applicant", f.credit_code, "applicant's credit code"),
            Field("prior_year_spend", f.amount, "compute spend of the previous year (CD-5)"),
            Field(
                "evidence",
                f.keyed(f.text(), EVIDENCE_KINDS),
                "references by kind: " + ", ".join(EVIDENCE_KINDS),
                keyed=True,
            ),
            Field(
                "other_public_funding",
                f.keyed(f.amount, FUNDING_DECLARATION_SOURCES),
                "other public funding of the same spend by source: "
                + ", ".join(FUNDING_DECLARATION_SOURCES)
                + " (CD-12; omit to declare none)",
                required=False,
                keyed=True,
            ),
        ),
        lambda app, ctx, a: app.apply_special(
            ctx,
            a["programme"],
            a["applicant"],
            a["prior_year_spend"],
            a["evidence"],
            a.get("other_public_funding", {}),
        ),
        {
            "programme": "CD-2025",
            "applicant": "91510100MA6BXQ5N2A",
            "prior_year_spend": "12500000.00",
            "evidence": _SPECIAL_EVIDENCE,
            "other_public_funding": {"province": "300000.00"},
            "at": "2025-03-05T10:00:00+08:00",
        },
    ),
    CommandSpec(
        "rank-special",
        "clerk",
        "Close applications and rank them: spend bracket first, then submission time within a "
        "bracket; the top 135 go to review (CD-9).",
        (Field(*_CD),),
        lambda app, ctx, a: app.rank_special(ctx, a["programme"]),
        {"programme": "CD-2025", "at": "2025-04-01T09:00:00+08:00"},
    ),
    CommandSpec(
        "review-special",
        "clerk",
        "Record the review of an application under review; a failure is replaced by the next "
        "in line (递补, CD-9).",
        (
            Field(*_CD),
            Field("applicant", f.credit_code, "applicant's credit code"),
            Field("outcome", f.choice("pass", "fail"), "pass / fail"),
            Field("reason", f.text(), "the reviewer's reason"),
        ),
        lambda app, ctx, a: app.review_special(
            ctx, a["programme"], a["applicant"], a["outcome"] == "pass", a["reason"]
        ),
        {
            "programme": "CD-2025",
            "applicant": "91510100MA6BXQ5N2A",
            "outcome": "pass",
            "reason": "materials complete and consistent",
            "at": "2025-04-10T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "publish-special-plan",
        "clerk",
        "Match the passed applications to tiers and publish the allocation plan for public "
        "notice (公示, CD-5, CD-9).",
        (
            Field(*_CD),
            Field("notice_from", f.date_, "first day of the notice period"),
            Field("notice_to", f.date_, "last day of the notice period"),
        ),
        lambda app, ctx, a: app.publish_special_plan(
            ctx, a["programme"], a["notice_from"], a["notice_to"]
        ),
        {
            "programme": "CD-2025",
            "notice_from": "2025-04-20",
            "notice_to": "2025-04-26",
            "at": "2025-04-20T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "raise-objection",
        "clerk",
        "Record an objection to an applicant's place in the plan during the notice period.",
        (
            Field(*_CD),
            Field("objection", f.text(64), "objection reference"),
            Field("applicant", f.credit_code, "the applicant (or supplier) objected to"),
            Field("grounds", f.text(), "grounds of the objection"),
            _ROUND,
        ),
        lambda app, ctx, a: app.raise_objection(
            ctx,
            a["programme"],
            a["objection"],
            a["applicant"],
            a["grounds"],
            a.get("round", "special"),
        ),
        {
            "programme": "CD-2025",
            "objection": "OBJ-2025-01",
            "applicant": "91510100MA6BXQ5N2A",
            "grounds": "spend evidence duplicates another applicant's invoices",
            "at": "2025-04-22T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "resolve-objection",
        "clerk",
        "Resolve an objection. Upheld: the applicant leaves the plan, the next in line moves up "
        "for review, and the plan must be published again.",
        (
            Field(*_CD),
            Field("objection", f.text(64), "objection reference"),
            Field("outcome", f.choice("upheld", "dismissed"), "upheld / dismissed"),
            Field("reason", f.text(), "why"),
            _ROUND,
        ),
        lambda app, ctx, a: app.resolve_objection(
            ctx,
            a["programme"],
            a["objection"],
            a["outcome"] == "upheld",
            a["reason"],
            a.get("round", "special"),
        ),
        {
            "programme": "CD-2025",
            "objection": "OBJ-2025-01",
            "outcome": "dismissed",
            "reason": "invoices verified with the tax bureau",
            "at": "2025-04-24T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "finalise-special",
        "clerk",
        "After the notice period with no objection open: issue the special vouchers and "
        "record a payment instruction of each amount to the applicant (CD-9).",
        (Field(*_CD),),
        lambda app, ctx, a: app.finalise_special(ctx, a["programme"]),
        {"programme": "CD-2025", "at": "2025-04-28T09:00:00+08:00"},
    ),
)

_SUPPLIER = "91510100MA6CJ8UQ10"
_CASE = ("case", f.text(64), "case reference")


def _reimbursement_reference(invoice: str) -> str:
    """The payment reference the ledger gives the reimbursement of an example invoice."""
    decision = f"reimbursement:{Redemption.id_for(_SUPPLIER, invoice)}"
    return PaymentInstruction.reference_for("CD-2025", "inclusive-voucher-reimbursement", decision)


_PAYMENT = Field("payment", f.text(40), "payment instruction reference")

FINANCE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "approve-payment",
        "finance",
        "Approve a payment instruction for the bank.",
        (_PAYMENT, Field("note", f.text(), "approval note", required=False)),
        lambda app, ctx, a: app.approve_payment(ctx, a["payment"], a.get("note", "")),
        {
            "payment": _reimbursement_reference("INV-2025-000123"),
            "note": "claim reviewed",
            "at": "2025-04-16T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "cancel-payment",
        "finance",
        "Cancel a payment instruction the bank has not paid; a cancelled one cannot be settled.",
        (_PAYMENT, Field("reason", f.text(), "why")),
        lambda app, ctx, a: app.cancel_payment(ctx, a["payment"], a["reason"]),
        {
            "payment": _reimbursement_reference("INV-2025-000125"),
            "reason": "issued twice in error",
            "at": "2025-04-16T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "resolve-exception",
        "finance",
        "Close a reconciliation exception with the reason (e.g. the bank corrected it).",
        (
            Field("exception", f.text(20), "exception reference, e.g. EX-…"),
            Field("reason", f.text(), "how it was resolved"),
        ),
        lambda app, ctx, a: app.resolve_exception(ctx, a["exception"], a["reason"]),
        {
            "exception": "EX-0123456789AB",
            "reason": "the bank refunded the duplicate on 2025-05-02",
            "at": "2025-05-03T09:00:00+08:00",
        },
    ),
)

ENFORCEMENT: tuple[CommandSpec, ...] = (
    CommandSpec(
        "record-settlement",
        "finance",
        "Record that the bank paid a payment instruction (amount as instructed less offsets).",
        (
            Field("payment", f.text(40), "payment instruction reference"),
            Field("amount", f.amount, "amount the bank paid"),
            Field("bank_reference", f.text(64), "the bank's reference"),
            Field("value_date", f.date_, "value date"),
        ),
        lambda app, ctx, a: app.record_settlement(
            ctx, a["payment"], a["amount"], a["bank_reference"], a["value_date"]
        ),
        {
            "payment": _reimbursement_reference("INV-2025-000123"),
            "amount": "4000.00",
            "bank_reference": "ICBC-20250420-0001",
            "value_date": "2025-04-20",
            "at": "2025-04-21T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "open-case",
        "enforcement",
        "Open a fraud case against an entity under a programme.",
        (
            Field(*_CASE),
            Field(*_CD),
            Field("entity", f.credit_code, "credit code of the entity investigated"),
            Field("description", f.text(), "what is investigated"),
        ),
        lambda app, ctx, a: app.open_case(
            ctx, a["case"], a["programme"], a["entity"], a["description"]
        ),
        {
            "case": "CASE-2025-001",
            "programme": "CD-2025",
            "entity": _SUPPLIER,
            "description": "invoices for compute never delivered",
            "at": "2025-05-01T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "record-fraud-finding",
        "enforcement",
        "Record a fraud finding: the entity is barred for 3 years from the finding date, its "
        "unredeemed vouchers are cancelled and its unsettled payments stopped (CD-11).",
        (
            Field(*_CASE),
            Field("finding_date", f.date_, "date of the finding: the first barred day"),
            Field("finding", f.text(), "what was found"),
            Field("evidence", f.repeated(f.text()), "evidence references", repeated=True),
        ),
        lambda app, ctx, a: app.record_fraud_finding(
            ctx, a["case"], a["finding_date"], a["finding"], a["evidence"]
        ),
        {
            "case": "CASE-2025-001",
            "finding_date": "2025-05-10",
            "finding": "service proofs forged for INV-2025-000123",
            "evidence": ["AUDIT-2025-17", "TAX-BUREAU-LETTER-88"],
            "at": "2025-05-10T15:00:00+08:00",
        },
    ),
    CommandSpec(
        "demand-clawback",
        "enforcement",
        "Demand repayment of money paid — never more than was paid and not yet demanded; "
        "creates a receivable due on a date (CD-11).",
        (
            Field(*_CASE),
            Field("amount", f.amount, "amount demanded"),
            Field(
                "payments",
                f.repeated(f.text(40)),
                "settled payment references recovered",
                required=False,
                repeated=True,
            ),
            Field(
                "vouchers",
                f.repeated(f.text(40)),
                "vouchers whose deducted value is recovered from the holder",
                required=False,
                repeated=True,
            ),
            Field("due_date", f.date_, "repayment due date"),
        ),
        lambda app, ctx, a: app.demand_clawback(
            ctx,
            a["case"],
            a["amount"],
            a.get("payments", []),
            a.get("vouchers", []),
            a["due_date"],
        ),
        {
            "case": "CASE-2025-001",
            "amount": "4000.00",
            "payments": [_reimbursement_reference("INV-2025-000123")],
            "due_date": "2025-06-30",
            "at": "2025-05-12T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "record-repayment",
        "enforcement",
        "Record a repayment against a case's receivable; more than is outstanding is refused.",
        (
            Field(*_CASE),
            Field("amount", f.amount, "amount repaid"),
            Field("bank_reference", f.text(64), "bank reference (a repeat changes nothing)"),
            Field("value_date", f.date_, "value date"),
        ),
        lambda app, ctx, a: app.record_repayment(
            ctx, a["case"], a["amount"], a["bank_reference"], a["value_date"]
        ),
        {
            "case": "CASE-2025-001",
            "amount": "1500.00",
            "bank_reference": "CCB-20250615-7781",
            "value_date": "2025-06-15",
            "at": "2025-06-16T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "write-off",
        "enforcement",
        "Write off part of a receivable, with the reason and the approver.",
        (
            Field(*_CASE),
            Field("amount", f.amount, "amount written off"),
            Field("reason", f.text(), "why"),
            Field("approver", f.text(100), "who approved"),
        ),
        lambda app, ctx, a: app.write_off(ctx, a["case"], a["amount"], a["reason"], a["approver"]),
        {
            "case": "CASE-2025-001",
            "amount": "500.00",
            "reason": "court-approved settlement",
            "approver": "director Li",
            "at": "2025-07-01T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "lift-debarment",
        "enforcement",
        "Lift a case's bar, with the reason and the authority (e.g. overturned on appeal). "
        "The history keeps both the bar and its lifting.",
        (
            Field(*_CASE),
            Field("reason", f.text(), "why the bar is lifted"),
            Field("authority", f.text(), "the decision lifting it"),
        ),
        lambda app, ctx, a: app.lift_debarment(ctx, a["case"], a["reason"], a["authority"]),
        {
            "case": "CASE-2025-001",
            "reason": "finding on the bar overturned on appeal; the repayment stands",
            "authority": "Chengdu intermediate court (2025) 川01行终123",
            "at": "2025-08-01T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "offset-clawback",
        "enforcement",
        "Set a receivable against a later payment due to the same entity (default: as much as "
        "both allow).",
        (
            Field(*_CASE),
            Field("payment", f.text(40), "open payment instruction to the entity"),
            Field("amount", f.amount, "amount to offset", required=False),
        ),
        lambda app, ctx, a: app.offset_clawback(ctx, a["case"], a["payment"], a.get("amount")),
        {
            "case": "CASE-2025-001",
            "payment": _reimbursement_reference("INV-2025-000124"),
            "at": "2025-08-21T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "record-credit-listing",
        "enforcement",
        "Record a credit record of an entity: serious-dishonesty listing, major safety "
        "accident or a blacklist entry, with its source and period (CD-3).",
        (
            Field("entity", f.credit_code, "credit code"),
            Field("reference", f.text(64), "the record's reference"),
            Field("kind", f.choice(*CREDIT_RECORD_KINDS), " / ".join(CREDIT_RECORD_KINDS)),
            Field("source", f.text(), "who published it"),
            Field("listed_from", f.date_, "first day listed"),
            Field("listed_until", f.date_, "last day listed, if known", required=False),
        ),
        lambda app, ctx, a: app.record_credit_listing(
            ctx,
            a["entity"],
            a["reference"],
            a["kind"],
            a["source"],
            a["listed_from"],
            a.get("listed_until"),
        ),
        {
            "entity": "91510100MA61R0BQ4E",
            "reference": "CREDIT-CHINA-2025-0912",
            "kind": "serious-dishonesty",
            "source": "信用中国 Credit China",
            "listed_from": "2025-09-01",
            "at": "2025-09-02T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "end-credit-listing",
        "enforcement",
        "Record the end of a credit record's listing period.",
        (
            Field("entity", f.credit_code, "credit code"),
            Field("reference", f.text(64), "the record's reference"),
            Field("ended_on", f.date_, "last day listed"),
        ),
        lambda app, ctx, a: app.end_credit_listing(ctx, a["entity"], a["reference"], a["ended_on"]),
        {
            "entity": "91510100MA61R0BQ4E",
            "reference": "CREDIT-CHINA-2025-0912",
            "ended_on": "2025-10-01",
            "at": "2025-10-02T09:00:00+08:00",
        },
    ),
)

SUPPLIER_SIDE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "apply-supplier-subsidy",
        "clerk",
        "A supplier applies for its subsidy voucher in year Y: its base is year Y-1's "
        "inclusive-voucher bills it served, plus the special-voucher holders' spend it served "
        "(each at most what the holder evidenced). Affiliated or unlisted business is excluded "
        "with its reason (CD-2, CD-3, CD-6, CD-10).",
        (
            Field(*_CD),
            _SUBSIDY_ROUND,
            Field("supplier", f.credit_code, "supplier's credit code"),
            Field(
                "special_holder_spend",
                f.mapping(f.credit_code, f.amount),
                "special-voucher holders' Y-1 spend served: HOLDER=AMOUNT",
                required=False,
                keyed=True,
            ),
        ),
        lambda app, ctx, a: app.apply_supplier_subsidy(
            ctx, a["programme"], a["round"], a["supplier"], a.get("special_holder_spend", {})
        ),
        {
            "programme": "CD-2026",
            "round": "R1",
            "supplier": _SUPPLIER,
            "at": "2026-02-10T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "plan-supplier-subsidy",
        "clerk",
        "Draw the round's plan: at most 20% of each base and at most the supplier's yearly "
        "2,000,000 cap's headroom; what is capped off is recorded (CD-6).",
        (Field(*_CD), _SUBSIDY_ROUND),
        lambda app, ctx, a: app.plan_supplier_subsidy(ctx, a["programme"], a["round"]),
        {"programme": "CD-2026", "round": "R1", "at": "2026-03-01T09:00:00+08:00"},
    ),
    CommandSpec(
        "publish-supplier-subsidy-plan",
        "clerk",
        "Publish the drawn plan for public notice (CD-10).",
        (
            Field(*_CD),
            _SUBSIDY_ROUND,
            Field("notice_from", f.date_, "first day of the notice period"),
            Field("notice_to", f.date_, "last day of the notice period"),
        ),
        lambda app, ctx, a: app.publish_supplier_subsidy_plan(
            ctx, a["programme"], a["round"], a["notice_from"], a["notice_to"]
        ),
        {
            "programme": "CD-2026",
            "round": "R1",
            "notice_from": "2026-03-02",
            "notice_to": "2026-03-08",
            "at": "2026-03-02T09:00:00+08:00",
        },
    ),
    CommandSpec(
        "finalise-supplier-subsidy",
        "clerk",
        "After the notice period with no objection open: grant each supplier its planned "
        "subsidy (never beyond the yearly cap, even across rounds) and record a payment "
        "instruction to it (CD-6, CD-10).",
        (Field(*_CD), _SUBSIDY_ROUND),
        lambda app, ctx, a: app.finalise_supplier_subsidy(ctx, a["programme"], a["round"]),
        {"programme": "CD-2026", "round": "R1", "at": "2026-03-10T09:00:00+08:00"},
    ),
    CommandSpec(
        "certify-green-data-centre",
        "clerk",
        "Record a data centre's approval as a national green data centre: the one-off "
        "1,000,000 green award is granted automatically, once per supplier ever (CD-7, "
        "免申即享).",
        (
            Field(*_CD),
            Field("supplier", f.credit_code, "the data centre's credit code"),
            Field("certification_date", f.date_, "date of approval"),
            Field("reference", f.text(64), "the approval's reference"),
        ),
        lambda app, ctx, a: app.certify_green_data_centre(
            ctx, a["programme"], a["supplier"], a["certification_date"], a["reference"]
        ),
        {
            "programme": "CD-2026",
            "supplier": _SUPPLIER,
            "certification_date": "2026-03-15",
            "reference": "工信部 2026 国家绿色数据中心 第12号",
            "at": "2026-03-16T09:00:00+08:00",
        },
    ),
)

_QD = ("programme", f.programme, "programme, e.g. QD-2024")
_OPERATOR = Field("operator", f.credit_code, "the claimant operator's credit code")
_QD_OPERATOR = make_credit_code("91370200MA3C00001")
_CLAIM_LINE = {
    "customer": (f.credit_code, True),
    "customer_in_area": (f.boolean, True),
    "contract_number": (f.text(64), True),
    "amount": (f.amount, True),
    "service_from": (f.date_, True),
    "service_to": (f.date_, True),
    "invoice": (f.text(64), True),
    "bank_receipt": (f.text(64), True),
    "funded_elsewhere": (f.boolean, False),
}

CLAIMS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "submit-operator-claim",
        "clerk",
        "An operator claims its service contracts, with the third-party audit report and its "
        "detail lines; each line is kept, eligible or excluded with the reason (window, area, "
        "funded elsewhere, claimed twice) (QD-1, QD-2, QD-5, QD-8). On the command line, "
        "--lines takes the JSON list or @FILE.",
        (
            Field(*_QD),
            _OPERATOR,
            Field("audit_report", f.text(), "third-party audit report reference"),
            Field(
                "lines",
                f.objects(_CLAIM_LINE),
                "detail lines: customer, customer_in_area, contract_number, amount (tax "
                "excluded), service_from, service_to, invoice, bank_receipt, funded_elsewhere",
            ),
        ),
        lambda app, ctx, a: app.submit_operator_claim(
            ctx,
            a["programme"],
            a["operator"],
            a["audit_report"],
            [ClaimLine(**line) for line in a["lines"]],
        ),
        {
            "programme": "QD-2024",
            "operator": _QD_OPERATOR,
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
    ),
    CommandSpec(
        "district-pre-review",
        "clerk",
        "The district's pre-review: credit and blacklists, the green threshold. An operator on "
        "a blacklist or below the threshold cannot pass (QD-6, QD-7).",
        (
            Field(*_QD),
            _OPERATOR,
            Field("outcome", f.choice("pass", "fail"), "pass / fail"),
            Field("green_threshold_met", f.boolean, "yes / no"),
            Field("reason", f.text(), "the reviewer's reason"),
        ),
        lambda app, ctx, a: app.district_pre_review(
            ctx,
            a["programme"],
            a["operator"],
            a["outcome"] == "pass",
            a["green_threshold_met"],
            a["reason"],
        ),
        {
            "programme": "QD-2024",
            "operator": _QD_OPERATOR,
            "outcome": "pass",
            "green_threshold_met": True,
            "reason": "no listing; green threshold met",
            "at": "2024-02-01T10:00:00+08:00",
        },
    ),
    CommandSpec(
        "city-review",
        "clerk",
        "The city's completeness check, re-review and expert assessment: the approved eligible "
        "amount (default: all that is eligible) (QD-6).",
        (
            Field(*_QD),
            _OPERATOR,
            Field("outcome", f.choice("pass", "fail"), "pass / fail"),
            Field("approved_amount", f.amount, "approved eligible amount", required=False),
            Field("assessment", f.text(), "expert assessment reference"),
            Field("reason", f.text(), "why"),
        ),
        lambda app, ctx, a: app.city_review(
            ctx,
            a["programme"],
            a["operator"],
            a["outcome"] == "pass",
            a.get("approved_amount"),
            a["assessment"],
            a["reason"],
        ),
        {
            "programme": "QD-2024",
            "operator": _QD_OPERATOR,
            "outcome": "pass",
            "assessment": "专家评审意见 2024-03",
            "reason": "contracts and receipts verified",
            "at": "2024-03-05T10:00:00+08:00",
        },
    ),
    CommandSpec(
        "allocate-operator-subsidy",
        "finance",
        "Fix the amounts: the rate of each approved eligible amount, scaled pro rata when the "
        "pool (city share 10,000,000, city:district 1:1) is short, split by funding source "
        "with largest-remainder rounding; one payment instruction per operator and source "
        "(QD-2, QD-3, QD-4).",
        (Field(*_QD),),
        lambda app, ctx, a: app.allocate_operator_subsidy(ctx, a["programme"]),
        {"programme": "QD-2024", "at": "2024-03-20T10:00:00+08:00"},
    ),
)

CATALOGUE: tuple[CommandSpec, ...] = (
    *INCLUSIVE_YEAR,
    *SPECIAL_ROUND,
    *ENFORCEMENT,
    *FINANCE,
    *SUPPLIER_SIDE,
    *CLAIMS,
)
BY_NAME = {spec.name: spec for spec in CATALOGUE}
