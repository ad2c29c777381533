"""Auditors' read models: late entries (commands dated well before they were recorded, with
the reason given) and refused commands (what was asked, by whom, and the rule that refused
it) — the two things an auditor of first-come-first-served public money looks for."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, String, Table

from ledger.events import LateEntry, RefusedCommand
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

late_entries = Table(
    "rm_late_entries",
    metadata,
    Column("entry_id", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("business_at", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("command", String(40), nullable=False),
    Column("command_id", String(100), nullable=False),
    Column("reason", String(400), nullable=False),
)

refusals = Table(
    "rm_refusals",
    metadata,
    Column("refusal_id", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("business_at", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("command", String(40), nullable=False),
    Column("command_id", String(100), nullable=False),
    Column("code", String(60), nullable=False),
    Column("message", String(400), nullable=False),
    Column("content", String(2000), nullable=False),
    # Every text value the command named (credit codes, voucher numbers, references …),
    # space-separated: how explain and history find the refusals about a subject.
    Column("subjects", String(2000), nullable=False),
)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _late(page: Page, e: LateEntry.Recorded) -> None:
    page.rows(late_entries).put(
        {
            "entry_id": e.originator_id.hex,
            "position": page.position_of(e),
            "recorded_at": e.recorded_at.isoformat(timespec="seconds"),
            "business_at": e.at.isoformat(),
            "actor": e.actor[:100],
            "command": e.command,
            "command_id": e.command_id[:100],
            "reason": e.reason[:400],
        }
    )


def _refused(page: Page, e: RefusedCommand.Refused) -> None:
    page.rows(refusals).put(
        {
            "refusal_id": e.originator_id.hex,
            "position": page.position_of(e),
            "recorded_at": e.timestamp.isoformat(timespec="seconds"),
            "business_at": e.at.isoformat(),
            "actor": e.actor[:100],
            "command": e.command,
            "command_id": e.command_id[:100],
            "code": e.code,
            "message": e.message[:400],
            "content": json.dumps(e.content, ensure_ascii=False)[:2000],
            "subjects": " ".join(_texts(e.content))[:2000],
        }
    )


class AuditTrail(EventDrivenReadModel):
    name = "audit_trail"
    tables = (late_entries, refusals)
    handlers: ClassVar[dict[type, Handler]] = {
        LateEntry.Recorded: _late,
        RefusedCommand.Refused: _refused,
    }
