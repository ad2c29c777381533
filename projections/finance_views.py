"""Finance read models: imported statement lines and reconciliation exceptions."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ledger.clock import local_date
from ledger.finance import BankStatement, ReconciliationException
from ledger.money import to_fen
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

statements = Table(
    "rm_statements",
    metadata,
    Column("statement_id", String(32), primary_key=True),
    Column("statement", String(20), nullable=False, unique=True),
    Column("source", String(200), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("imported_at", String(40), nullable=False),
)

bank_lines = Table(
    "rm_bank_lines",
    metadata,
    Column("statement", String(20), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("value_date", String(10), nullable=False),
    Column("counterparty_name", String(200), nullable=False),
    Column("counterparty_account", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("payment_reference", String(40), nullable=False),
)

exceptions = Table(
    "rm_reconciliation_exceptions",
    metadata,
    Column("exception_id", String(32), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("kind", String(24), nullable=False),
    Column("payment_reference", String(40), nullable=False),
    Column("statement", String(20), nullable=False),
    Column("line", Integer, nullable=False),
    Column("instructed_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    Column("detail", String(400), nullable=False),
    Column("raised_on", String(10), nullable=False),
    Column("resolved_on", String(10), nullable=False),
    Column("resolution", String(400), nullable=False),
)


def _imported(page: Page, e: BankStatement.Imported) -> None:
    page.rows(statements).put(
        {
            "statement_id": e.originator_id.hex,
            "statement": e.statement,
            "source": e.source[:200],
            "lines": len(e.lines),
            "imported_at": e.at.isoformat(),
        }
    )
    for line in e.lines:
        page.rows(bank_lines).put(
            {
                "statement": e.statement,
                "line": line["line"],
                "value_date": line["value_date"].isoformat(),
                "counterparty_name": line["counterparty_name"][:200],
                "counterparty_account": line["counterparty_account"][:64],
                "amount_fen": to_fen(line["amount"]),
                "reference": line["reference"][:200],
                "outcome": "unmatched",
                "payment_reference": "",
            }
        )


def _matched(page: Page, e: BankStatement.LineMatched) -> None:
    statement = page.rows(statements).require(e.originator_id.hex)["statement"]
    page.rows(bank_lines).set(
        (statement, e.line), outcome=e.outcome, payment_reference=e.payment_reference
    )


def _raised(page: Page, e: ReconciliationException.Opened) -> None:
    page.rows(exceptions).put(
        {
            "exception_id": e.originator_id.hex,
            "reference": e.reference,
            "kind": e.kind,
            "payment_reference": e.payment_reference,
            "statement": e.statement,
            "line": e.line,
            "instructed_fen": to_fen(e.instructed),
            "paid_fen": to_fen(e.paid),
            "detail": e.detail[:400],
            "raised_on": local_date(e.at).isoformat(),
            "resolved_on": "",
            "resolution": "",
        }
    )


def _resolved(page: Page, e: ReconciliationException.Resolved) -> None:
    page.rows(exceptions).set(
        (e.originator_id.hex,), resolved_on=local_date(e.at).isoformat(), resolution=e.reason[:400]
    )


class Reconciliation(EventDrivenReadModel):
    name = "reconciliation"
    tables = (statements, bank_lines, exceptions)
    handlers: ClassVar[dict[type, Handler]] = {
        BankStatement.Imported: _imported,
        BankStatement.LineMatched: _matched,
        ReconciliationException.Opened: _raised,
        ReconciliationException.Resolved: _resolved,
    }
