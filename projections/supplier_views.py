"""Supplier side read models: each supplier's year against the 2,000,000 cap (CD-6), the
supplier-subsidy rounds line by line (CD-10), and green awards (CD-7)."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ledger.money import to_fen
from ledger.supplier_subsidy import GreenAward, SupplierSubsidyRound, SupplierYear
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

supplier_years = Table(
    "rm_supplier_years",
    metadata,
    Column("year_id", String(32), primary_key=True),
    Column("policy", String(40), nullable=False),
    Column("supplier", String(18), nullable=False, index=True),
    Column("year", Integer, nullable=False),
    Column("bills", Integer, nullable=False),
    Column("business_fen", BigInteger, nullable=False),
    Column("grants", Integer, nullable=False),
    Column("base_fen", BigInteger, nullable=False),
    Column("computed_fen", BigInteger, nullable=False),
    Column("capped_off_fen", BigInteger, nullable=False),
    Column("granted_fen", BigInteger, nullable=False),
    Column("cap_fen", BigInteger, nullable=False),
)

subsidy_lines = Table(
    "rm_supplier_subsidy_lines",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("supplier", String(18), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("round", String(20), nullable=False),
    Column("inclusive_bills", Integer, nullable=False),
    Column("inclusive_base_fen", BigInteger, nullable=False),
    Column("special_base_fen", BigInteger, nullable=False),
    Column("excluded", Integer, nullable=False),
    Column("base_fen", BigInteger, nullable=False),
    Column("computed_fen", BigInteger, nullable=False),
    Column("planned_fen", BigInteger, nullable=False),
    Column("capped_off_fen", BigInteger, nullable=False),
    Column("granted_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_reference", String(40), nullable=False),
)

subsidy_rounds = Table(
    "rm_supplier_subsidy_rounds",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("round", String(20), nullable=False),
    Column("base_programme", String(20), nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("notice_to", String(10), nullable=False),
    Column("status", String(16), nullable=False),
)

green_awards = Table(
    "rm_green_awards",
    metadata,
    Column("supplier", String(18), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("certification_date", String(10), nullable=False),
    Column("certification_reference", String(200), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("payment_reference", String(40), nullable=False),
)


def _year_opened(page: Page, e: SupplierYear.Opened) -> None:
    page.rows(supplier_years).put(
        {
            "year_id": e.originator_id.hex,
            "policy": e.policy,
            "supplier": e.supplier,
            "year": e.year,
            "bills": 0,
            "business_fen": 0,
            "grants": 0,
            "base_fen": 0,
            "computed_fen": 0,
            "capped_off_fen": 0,
            "granted_fen": 0,
            "cap_fen": 0,
        }
    )


def _bill(page: Page, e: SupplierYear.BillServed) -> None:
    page.rows(supplier_years).change(
        (e.originator_id.hex,), bills=1, business_fen=to_fen(e.bill_amount)
    )


def _granted(page: Page, e: SupplierYear.SubsidyGranted) -> None:
    row = page.rows(supplier_years).change(
        (e.originator_id.hex,),
        grants=1,
        base_fen=to_fen(e.base),
        computed_fen=to_fen(e.computed),
        capped_off_fen=to_fen(e.capped_off),
        granted_fen=to_fen(e.granted),
    )
    row["cap_fen"] = to_fen(e.cap)
    round_id = SupplierSubsidyRound.id_for(e.programme, e.round).hex
    line = page.rows(subsidy_lines).require(round_id, row["supplier"])
    line.update(
        granted_fen=to_fen(e.granted),
        capped_off_fen=to_fen(e.capped_off),
        status="granted",
        payment_reference=e.payment_reference if e.granted else "",
    )
    page.rows(subsidy_lines).put(line)


def _round_opened(page: Page, e: SupplierSubsidyRound.Opened) -> None:
    page.rows(subsidy_rounds).put(
        {
            "round_id": e.originator_id.hex,
            "programme": e.programme,
            "round": e.round,
            "base_programme": e.base_programme,
            "plan_version": 0,
            "notice_to": "",
            "status": "open",
        }
    )


def _applied(page: Page, e: SupplierSubsidyRound.ApplicationReceived) -> None:
    round_ = page.rows(subsidy_rounds).require(e.originator_id.hex)
    page.rows(subsidy_lines).put(
        {
            "round_id": e.originator_id.hex,
            "supplier": e.supplier,
            "programme": round_["programme"],
            "round": round_["round"],
            "inclusive_bills": e.inclusive_bills,
            "inclusive_base_fen": to_fen(e.inclusive_base),
            "special_base_fen": to_fen(e.special_base),
            "excluded": len(e.excluded),
            "base_fen": to_fen(e.inclusive_base + e.special_base),
            "computed_fen": 0,
            "planned_fen": 0,
            "capped_off_fen": 0,
            "granted_fen": 0,
            "status": "applied",
            "payment_reference": "",
        }
    )


def _planned(page: Page, e: SupplierSubsidyRound.Planned) -> None:
    round_ = page.rows(subsidy_rounds).require(e.originator_id.hex)
    round_.update(plan_version=e.version, status="planned")
    page.rows(subsidy_rounds).put(round_)
    for line in e.lines:
        row = page.rows(subsidy_lines).require(e.originator_id.hex, line["supplier"])
        row.update(
            computed_fen=to_fen(line["computed"]),
            planned_fen=to_fen(line["planned"]),
            capped_off_fen=to_fen(line["capped_off"]),
            status="planned",
        )
        page.rows(subsidy_lines).put(row)


def _published(page: Page, e: SupplierSubsidyRound.PlanPublished) -> None:
    round_ = page.rows(subsidy_rounds).require(e.originator_id.hex)
    round_.update(notice_to=e.notice_to.isoformat(), status="in-notice")
    page.rows(subsidy_rounds).put(round_)


def _resolved(page: Page, e: SupplierSubsidyRound.ObjectionResolved) -> None:
    if e.upheld:
        row = page.rows(subsidy_lines).require(e.originator_id.hex, e.supplier)
        row.update(status="removed", planned_fen=0)
        page.rows(subsidy_lines).put(row)


def _finalised(page: Page, e: SupplierSubsidyRound.Finalised) -> None:
    round_ = page.rows(subsidy_rounds).require(e.originator_id.hex)
    round_["status"] = "final"
    page.rows(subsidy_rounds).put(round_)


def _green(page: Page, e: GreenAward.Granted) -> None:
    page.rows(green_awards).put(
        {
            "supplier": e.supplier,
            "programme": e.programme,
            "certification_date": e.certification_date.isoformat(),
            "certification_reference": e.certification_reference[:200],
            "amount_fen": to_fen(e.amount),
            "payment_reference": e.payment_reference,
        }
    )


class SupplierSide(EventDrivenReadModel):
    name = "supplier-side"
    tables = (supplier_years, subsidy_rounds, subsidy_lines, green_awards)
    handlers: ClassVar[dict[type, Handler]] = {
        SupplierYear.Opened: _year_opened,
        SupplierYear.BillServed: _bill,
        SupplierYear.SubsidyGranted: _granted,
        SupplierSubsidyRound.Opened: _round_opened,
        SupplierSubsidyRound.ApplicationReceived: _applied,
        SupplierSubsidyRound.Planned: _planned,
        SupplierSubsidyRound.PlanPublished: _published,
        SupplierSubsidyRound.ObjectionResolved: _resolved,
        SupplierSubsidyRound.Finalised: _finalised,
        GreenAward.Granted: _green,
    }
