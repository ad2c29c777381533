"""The foundation's read models: registered entities, voucher balances, redemptions and
their reimbursement, quota and budget use per programme and instrument, payment instructions.

Amounts are stored as integer fen (exact on every database); reports turn them back into
yuan. Each handler is keyed by event class; events a read model does not know are ignored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ledger.entities import Applicant, Supplier
from ledger.money import to_fen
from ledger.payment import PaymentInstruction
from ledger.programme import Programme
from ledger.voucher import Redemption, Voucher
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

entities = Table(
    "rm_entities",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("city", String(64), nullable=False),
    Column("registered_at", String(40), nullable=False),
)

# Keyed by aggregate id so that every event finds its row from its originator id.
vouchers = Table(
    "rm_vouchers",
    metadata,
    Column("voucher_id", String(32), primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("programme", String(20), nullable=False, index=True),
    Column("instrument", String(32), nullable=False),
    Column("holder", String(18), nullable=False, index=True),
    Column("year", Integer, nullable=False),
    Column("face_value_fen", BigInteger, nullable=False),
    Column("deducted_fen", BigInteger, nullable=False),
    Column("lapsed_fen", BigInteger, nullable=False),
    Column("cancelled_fen", BigInteger, nullable=False),
    Column("remaining_fen", BigInteger, nullable=False),
    Column("redemptions", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("issued_at", String(40), nullable=False),
)

redemptions = Table(
    "rm_redemptions",
    metadata,
    Column("redemption_id", String(32), primary_key=True),
    Column("supplier", String(18), nullable=False),
    Column("invoice_number", String(64), nullable=False),
    Column("voucher", String(40), nullable=False, index=True),
    Column("programme", String(20), nullable=False),
    Column("instrument", String(32), nullable=False),
    Column("holder", String(18), nullable=False),
    Column("service_date", String(10), nullable=False),
    Column("bill_fen", BigInteger, nullable=False),
    Column("deduction_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_reference", String(40), nullable=False),
)

programme_use = Table(
    "rm_programme_use",
    metadata,
    Column("programme", String(20), primary_key=True),
    Column("instrument", String(32), primary_key=True),
    Column("policy", String(40), nullable=False),
    Column("year", Integer, nullable=False),
    Column("quota", Integer, nullable=False),
    Column("issued", Integer, nullable=False),
    Column("face_value_issued_fen", BigInteger, nullable=False),
    Column("deducted_fen", BigInteger, nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
    Column("reimbursed_fen", BigInteger, nullable=False),
    Column("lapsed_fen", BigInteger, nullable=False),
    Column("paid_to_holders_fen", BigInteger, nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("funding_source", String(16), nullable=False),
)

payments = Table(
    "rm_payment_instructions",
    metadata,
    Column("payment_id", String(32), primary_key=True),
    Column("reference", String(40), nullable=False, unique=True),
    Column("payee", String(18), nullable=False, index=True),
    Column("payee_name", String(200), nullable=False),
    Column("payee_account", String(64), nullable=False),
    Column("instrument", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("programme", String(20), nullable=False),
    Column("year", Integer, nullable=False),
    Column("funding_source", String(16), nullable=False),
    Column("decision", String(80), nullable=False),
    Column("instructed_at", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # instructed, settled, stopped, cancelled
    Column("approved", Integer, nullable=False),
    # Exactly one of: outstanding, settled, mismatch, missing, cancelled.
    Column("reconciliation", String(16), nullable=False),
    Column("offset_fen", BigInteger, nullable=False),
    Column("settled_fen", BigInteger, nullable=False),
    Column("clawed_back_fen", BigInteger, nullable=False),
    Column("value_date", String(10), nullable=False),
)

# Four eyes: who instructed each payment instruction and who approved it. A table of its own
# (in the payments read model), so the payments table and its reports keep their columns.
payment_approvals = Table(
    "rm_payment_approvals",
    metadata,
    Column("payment_id", String(32), primary_key=True),
    Column("reference", String(40), nullable=False, unique=True),
    Column("instructed_by", String(200), nullable=False),
    Column("approved_by", String(200), nullable=False),
    Column("approved_at", String(40), nullable=False),
    Column("note", String(200), nullable=False),
)


# ---- entities ---------------------------------------------------------------------------


def _registered(role: str) -> Handler:
    def handle(page: Page, e: Any) -> None:
        page.rows(entities).put(
            {
                "credit_code": e.credit_code,
                "role": role,
                "name": e.name,
                "kind": e.kind,
                "city": e.city,
                "registered_at": e.at.isoformat(),
            }
        )

    return handle


class Entities(EventDrivenReadModel):
    name = "entities"
    tables = (entities,)
    handlers: ClassVar[dict[type, Handler]] = {
        Applicant.Registered: _registered("applicant"),
        Supplier.Registered: _registered("supplier"),
    }


# ---- vouchers, redemptions, quota and budget use ----------------------------------------


def _pool(table: dict[str, Any]) -> int:
    """An instrument's yearly pool: places × face value, or the sum of its tiers (fen)."""
    if "face_value" in table:
        return int(table["quota_per_year"]["value"]) * to_fen(Decimal(table["face_value"]["value"]))
    return sum(int(t["places"]) * to_fen(Decimal(t["amount"])) for t in table["tiers"]["value"])


def _programme_opened(page: Page, e: Programme.Opened) -> None:
    for name, table in e.parameters["instruments"].items():
        if "quota_per_year" not in table:
            continue  # subsidies and awards have no places to count
        page.rows(programme_use).put(
            {
                "programme": e.name,
                "instrument": name,
                "policy": e.policy_id,
                "year": e.year,
                "quota": int(table["quota_per_year"]["value"]),
                "issued": 0,
                "face_value_issued_fen": 0,
                "deducted_fen": 0,
                "claimed_fen": 0,
                "reimbursed_fen": 0,
                "lapsed_fen": 0,
                "paid_to_holders_fen": 0,
                "budget_fen": _pool(table),
                "funding_source": table["funding_source"]["value"],
            }
        )


def _voucher_issued(page: Page, e: Voucher.Issued) -> None:
    face = to_fen(e.face_value)
    page.rows(vouchers).put(
        {
            "voucher_id": e.originator_id.hex,
            "number": e.number,
            "programme": e.programme,
            "instrument": e.instrument,
            "holder": e.holder,
            "year": e.year,
            "face_value_fen": face,
            "deducted_fen": 0,
            "lapsed_fen": 0,
            "cancelled_fen": 0,
            "remaining_fen": face,
            "redemptions": 0,
            "status": "active",
            "issued_at": e.at.isoformat(),
        }
    )
    page.rows(programme_use).change(
        (e.programme, e.instrument), issued=1, face_value_issued_fen=face
    )


def _voucher_redeemed(page: Page, e: Voucher.Redeemed) -> None:
    fen = to_fen(e.deduction)
    v = page.rows(vouchers).change(
        (e.originator_id.hex,), deducted_fen=fen, remaining_fen=-fen, redemptions=1
    )
    if v["remaining_fen"] == 0:
        v["status"] = "used-up"
    page.rows(programme_use).change((v["programme"], v["instrument"]), deducted_fen=fen)


def _voucher_expired(page: Page, e: Voucher.Expired) -> None:
    fen = to_fen(e.lapsed)
    v = page.rows(vouchers).change((e.originator_id.hex,), lapsed_fen=fen, remaining_fen=-fen)
    v["status"] = "expired"
    page.rows(programme_use).change((v["programme"], v["instrument"]), lapsed_fen=fen)


def _voucher_cancelled(page: Page, e: Voucher.Cancelled) -> None:
    fen = to_fen(e.cancelled)
    v = page.rows(vouchers).change((e.originator_id.hex,), cancelled_fen=fen, remaining_fen=-fen)
    v["status"] = "cancelled"


def _voucher_paid(page: Page, e: Voucher.PaidToHolder) -> None:
    fen = to_fen(e.amount)
    v = page.rows(vouchers).change((e.originator_id.hex,), remaining_fen=-fen)
    v["status"] = "paid"
    page.rows(programme_use).change((v["programme"], v["instrument"]), paid_to_holders_fen=fen)


def _redemption_recorded(page: Page, e: Redemption.Recorded) -> None:
    page.rows(redemptions).put(
        {
            "redemption_id": e.originator_id.hex,
            "supplier": e.supplier,
            "invoice_number": e.invoice_number,
            "voucher": e.voucher,
            "programme": e.programme,
            "instrument": page.rows(vouchers).require(Voucher.id_for(e.voucher).hex)["instrument"],
            "holder": e.holder,
            "service_date": e.service_date.isoformat(),
            "bill_fen": to_fen(e.bill_amount),
            "deduction_fen": to_fen(e.deduction),
            "status": "redeemed",
            "payment_reference": "",
        }
    )


def _redemption_claimed(page: Page, e: Redemption.ReimbursementClaimed) -> None:
    r = page.rows(redemptions).require(e.originator_id.hex)
    r["status"] = "claimed"
    page.rows(redemptions).put(r)
    page.rows(programme_use).change((r["programme"], r["instrument"]), claimed_fen=to_fen(e.amount))


def _redemption_reimbursed(page: Page, e: Redemption.Reimbursed) -> None:
    r = page.rows(redemptions).require(e.originator_id.hex)
    r.update(status="reimbursed", payment_reference=e.payment_reference)
    page.rows(redemptions).put(r)
    page.rows(programme_use).change(
        (r["programme"], r["instrument"]), reimbursed_fen=to_fen(e.amount)
    )


class Vouchers(EventDrivenReadModel):
    """Voucher balances, redemptions and quota/budget use: one read model, because a
    redemption moves figures in all three."""

    name = "vouchers"
    tables = (vouchers, redemptions, programme_use)
    handlers: ClassVar[dict[type, Handler]] = {
        Programme.Opened: _programme_opened,
        Voucher.Issued: _voucher_issued,
        Voucher.Redeemed: _voucher_redeemed,
        Voucher.Expired: _voucher_expired,
        Voucher.PaidToHolder: _voucher_paid,
        Voucher.Cancelled: _voucher_cancelled,
        Redemption.Recorded: _redemption_recorded,
        Redemption.ReimbursementClaimed: _redemption_claimed,
        Redemption.Reimbursed: _redemption_reimbursed,
    }


# ---- payment instructions ---------------------------------------------------------------


def _instructed(page: Page, e: PaymentInstruction.Instructed) -> None:
    page.rows(payments).put(
        {
            "payment_id": e.originator_id.hex,
            "reference": e.reference,
            "payee": e.payee,
            "payee_name": e.payee_name,
            "payee_account": e.payee_account,
            "instrument": e.instrument,
            "amount_fen": to_fen(e.amount),
            "purpose": e.purpose,
            "programme": e.programme,
            "year": e.year,
            "funding_source": e.funding_source,
            "decision": e.decision,
            "instructed_at": e.at.isoformat(),
            "status": "instructed",
            "approved": 0,
            "reconciliation": "outstanding",
            "offset_fen": 0,
            "settled_fen": 0,
            "clawed_back_fen": 0,
            "value_date": "",
        }
    )
    page.rows(payment_approvals).put(
        {
            "payment_id": e.originator_id.hex,
            "reference": e.reference,
            "instructed_by": e.actor,
            "approved_by": "",
            "approved_at": "",
            "note": "",
        }
    )


def _payment(page: Page, e: Any, **values: Any) -> dict[str, Any]:
    row = page.rows(payments).require(e.originator_id.hex)
    row.update(values)
    page.rows(payments).put(row)
    return row


def _settled(page: Page, e: PaymentInstruction.Settled) -> None:
    _payment(
        page,
        e,
        status="settled",
        reconciliation="settled",
        settled_fen=to_fen(e.amount),
        value_date=e.value_date.isoformat(),
    )


def _stopped(page: Page, e: PaymentInstruction.Stopped) -> None:
    _payment(page, e, status="stopped", reconciliation="cancelled")


def _approved(page: Page, e: PaymentInstruction.Approved) -> None:
    payment = _payment(page, e, approved=1)
    # A ledger whose read models predate this table has no row for older instructions (who
    # instructed them shows after `voucher-ledger rebuild`).
    row = page.rows(payment_approvals).get(e.originator_id.hex) or {
        "payment_id": e.originator_id.hex,
        "reference": payment["reference"],
        "instructed_by": "",
    }
    row.update(approved_by=e.actor, approved_at=e.at.isoformat(), note=e.note[:200])
    page.rows(payment_approvals).put(row)


def _cancelled(page: Page, e: PaymentInstruction.Cancelled) -> None:
    _payment(page, e, status="cancelled", reconciliation="cancelled")


def _mismatched(page: Page, e: PaymentInstruction.AmountMismatched) -> None:
    _payment(page, e, reconciliation="mismatch")


def _missing(page: Page, e: PaymentInstruction.ReportedMissing) -> None:
    _payment(page, e, reconciliation="missing")


def _offset(page: Page, e: PaymentInstruction.Offset) -> None:
    row = _payment(page, e)
    row["offset_fen"] += to_fen(e.amount)


def _payment_clawed(page: Page, e: PaymentInstruction.ClawbackClaimed) -> None:
    row = _payment(page, e)
    row["clawed_back_fen"] += to_fen(e.amount)


class Payments(EventDrivenReadModel):
    name = "payments"
    tables = (payments, payment_approvals)
    handlers: ClassVar[dict[type, Handler]] = {
        PaymentInstruction.Instructed: _instructed,
        PaymentInstruction.Settled: _settled,
        PaymentInstruction.Stopped: _stopped,
        PaymentInstruction.Approved: _approved,
        PaymentInstruction.Cancelled: _cancelled,
        PaymentInstruction.AmountMismatched: _mismatched,
        PaymentInstruction.ReportedMissing: _missing,
        PaymentInstruction.Offset: _offset,
        PaymentInstruction.ClawbackClaimed: _payment_clawed,
    }
