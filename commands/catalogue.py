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
from ledger.policy import APPLICANT_KINDS, EVIDENCE_KINDS, KNOWN_SERVICES, SUPPLIER_KINDS

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

CATALOGUE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "register-applicant",
        "clerk",
        "Register an enterprise, research institute or university (CD-1).",
        (
            Field("credit_code", f.credit_code, "unified social credit code"),
            Field("name", f.text(), "registered name"),
            Field("kind", f.choice(*APPLICANT_KINDS), " / ".join(APPLICANT_KINDS)),
            Field("city", f.text(64), "city of registration, e.g. Chengdu"),
        ),
        lambda app, ctx, a: app.register_applicant(
            ctx, a["credit_code"], a["name"], a["kind"], a["city"]
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
        ),
        lambda app, ctx, a: app.register_supplier(
            ctx, a["credit_code"], a["name"], a["kind"], a["city"]
        ),
        {
            "credit_code": "91510100MA6CJ8UQ10",
            "name": "成都智算中心",
            "kind": "data-centre",
            "city": "Chengdu",
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

BY_NAME = {spec.name: spec for spec in CATALOGUE}
