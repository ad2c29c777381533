"""Enforcement read models: the debarment register, credit records and the receivables ledger.
Status "on a date" is a business-date question answered from the stored periods."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, String, Table

from ledger.enforcement import Case, EntityRecord
from ledger.money import to_fen
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

debarments = Table(
    "rm_debarments",
    metadata,
    Column("entity", String(18), primary_key=True),
    Column("case_ref", String(64), primary_key=True),
    Column("policy", String(40), nullable=False),
    Column("barred_from", String(10), nullable=False),
    Column("barred_until", String(10), nullable=False),  # first day free again
    Column("lifted_on", String(10), nullable=False),
    Column("lift_reason", String(200), nullable=False),
)

credit_records = Table(
    "rm_credit_records",
    metadata,
    Column("entity", String(18), primary_key=True),
    Column("reference", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("source", String(200), nullable=False),
    Column("listed_from", String(10), nullable=False),
    Column("listed_until", String(10), nullable=False),
)

receivables = Table(
    "rm_receivables",
    metadata,
    Column("case_id", String(32), primary_key=True),
    Column("case_ref", String(64), nullable=False, unique=True),
    Column("programme", String(20), nullable=False),
    Column("entity", String(18), nullable=False, index=True),
    Column("finding_date", String(10), nullable=False),
    Column("due_date", String(10), nullable=False),
    Column("demanded_fen", BigInteger, nullable=False),
    Column("repaid_fen", BigInteger, nullable=False),
    Column("offset_fen", BigInteger, nullable=False),
    Column("written_off_fen", BigInteger, nullable=False),
)


# Entity records are aggregates keyed by id; this maps an id to its credit code.
entity_records = Table(
    "rm_entity_records",
    metadata,
    Column("record_id", String(32), primary_key=True),
    Column("credit_code", String(18), nullable=False, unique=True),
)


def _code(page: Page, e: Any) -> str:
    return str(page.rows(entity_records).require(e.originator_id.hex)["credit_code"])


def _started(page: Page, e: EntityRecord.Started) -> None:
    page.rows(entity_records).put({"record_id": e.originator_id.hex, "credit_code": e.credit_code})


def _credit_recorded(page: Page, e: EntityRecord.CreditRecorded) -> None:
    page.rows(credit_records).put(
        {
            "entity": _code(page, e),
            "reference": e.reference,
            "kind": e.kind,
            "source": e.source[:200],
            "listed_from": e.listed_from.isoformat(),
            "listed_until": e.listed_until.isoformat() if e.listed_until else "",
        }
    )


def _credit_ended(page: Page, e: EntityRecord.CreditRecordEnded) -> None:
    page.rows(credit_records).set(
        (_code(page, e), e.reference), listed_until=e.ended_on.isoformat()
    )


def _debarred(page: Page, e: EntityRecord.Debarred) -> None:
    page.rows(debarments).put(
        {
            "entity": _code(page, e),
            "case_ref": e.case,
            "policy": e.policy,
            "barred_from": e.start.isoformat(),
            "barred_until": e.until.isoformat(),
            "lifted_on": "",
            "lift_reason": "",
        }
    )


def _lifted(page: Page, e: EntityRecord.DebarmentLifted) -> None:
    page.rows(debarments).set(
        (_code(page, e), e.case), lifted_on=e.lifted_on.isoformat(), lift_reason=e.reason[:200]
    )


def _case_opened(page: Page, e: Case.Opened) -> None:
    page.rows(receivables).put(
        {
            "case_id": e.originator_id.hex,
            "case_ref": e.reference,
            "programme": e.programme,
            "entity": e.entity,
            "finding_date": "",
            "due_date": "",
            "demanded_fen": 0,
            "repaid_fen": 0,
            "offset_fen": 0,
            "written_off_fen": 0,
        }
    )


def _found(page: Page, e: Case.FraudFound) -> None:
    page.rows(receivables).set((e.originator_id.hex,), finding_date=e.finding_date.isoformat())


def _demanded(page: Page, e: Case.ClawbackDemanded) -> None:
    row = page.rows(receivables).change((e.originator_id.hex,), demanded_fen=to_fen(e.amount))
    due = e.due_date.isoformat()
    row["due_date"] = min(row["due_date"], due) if row["due_date"] else due


def _repaid(page: Page, e: Case.RepaymentRecorded) -> None:
    page.rows(receivables).change((e.originator_id.hex,), repaid_fen=to_fen(e.amount))


def _offset(page: Page, e: Case.OffsetAgainstPayment) -> None:
    page.rows(receivables).change((e.originator_id.hex,), offset_fen=to_fen(e.amount))


def _written_off(page: Page, e: Case.WrittenOff) -> None:
    page.rows(receivables).change((e.originator_id.hex,), written_off_fen=to_fen(e.amount))


class Enforcement(EventDrivenReadModel):
    name = "enforcement"
    tables = (entity_records, debarments, credit_records, receivables)
    handlers: ClassVar[dict[type, Handler]] = {
        EntityRecord.Started: _started,
        EntityRecord.CreditRecorded: _credit_recorded,
        EntityRecord.CreditRecordEnded: _credit_ended,
        EntityRecord.Debarred: _debarred,
        EntityRecord.DebarmentLifted: _lifted,
        Case.Opened: _case_opened,
        Case.FraudFound: _found,
        Case.ClawbackDemanded: _demanded,
        Case.RepaymentRecorded: _repaid,
        Case.OffsetAgainstPayment: _offset,
        Case.WrittenOff: _written_off,
    }
