"""``voucher-ledger explain SUBJECT``: a voucher number or a credit code, explained from the
recorded events (ledger.explain), with the read models used only to find what to explain."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from sqlalchemy import select

from commands.wiring import Ledger
from ledger.clock import local_date
from ledger.enforcement import Case, EntityRecord
from ledger.entities import Applicant, Supplier
from ledger.errors import Rejected
from ledger.explain import (
    explain_case,
    explain_claim,
    explain_green_award,
    explain_special_application,
    explain_standing,
    explain_supplier_year,
    explain_voucher,
)
from ledger.ids import parse_credit_code
from ledger.supplier_subsidy import GreenAward
from ledger.voucher import Voucher
from projections.claim_views import claims
from projections.enforcement_views import receivables
from projections.ledger_views import programme_use, vouchers
from projections.supplier_views import supplier_years

VOUCHER_NUMBER = re.compile(r"^[A-Z0-9]+-\d{4}-[A-Z0-9]+-\d+$")


def explain(ledger: Ledger, subject: str) -> list[str]:
    subject = subject.strip().upper()
    if VOUCHER_NUMBER.match(subject):
        events: list[Any] = list(ledger.app.events.get(Voucher.id_for(subject)))
        if not events:
            raise Rejected("unknown-voucher", f"no voucher numbered {subject}")
        paragraphs = [explain_voucher(events)]
        holder = events[0].holder
        if events[0].kind != "deduction-voucher":
            paragraphs += _special(ledger, holder, [events[0].programme])
        return paragraphs + _refusals(ledger, subject)
    code = parse_credit_code(subject, field="subject")
    paragraphs = []
    for cls, role in ((Applicant, "applicant"), (Supplier, "supplier")):
        registered: list[Any] = list(ledger.app.events.get(cls.id_for(code), limit=1))
        if registered:
            r = registered[0]
            article = "an" if r.kind[0] in "aeiou" else "a"
            paragraphs.append(
                f"{code} ({r.name}) was registered as {article} {r.kind} {role} in {r.city} "
                f"on {local_date(r.at)}."
            )
    refused = _refusals(ledger, code)
    if not paragraphs and not refused:
        raise Rejected("applicant-not-registered", f"nothing is registered under {code}")
    paragraphs += refused
    standing = explain_standing(list(ledger.app.events.get(EntityRecord.id_for(code))))
    if standing:
        paragraphs.append(standing)
    with ledger.store.engine.connect() as conn:
        cases = [
            c
            for (c,) in conn.execute(
                select(receivables.c.case_ref).where(receivables.c.entity == code)
            )
        ]
        programmes = sorted({p for (p,) in conn.execute(select(programme_use.c.programme))})
        claim_rounds = [
            r for (r,) in conn.execute(select(claims.c.round_id).where(claims.c.claimant == code))
        ]
        years = [
            y
            for (y,) in conn.execute(
                select(supplier_years.c.year_id)
                .where(supplier_years.c.supplier == code)
                .order_by(supplier_years.c.year)
            )
        ]
        numbers = [
            n
            for (n,) in conn.execute(
                select(vouchers.c.number)
                .where(vouchers.c.holder == code)
                .order_by(vouchers.c.number)
            )
        ]
    for case in cases:
        paragraphs.append(explain_case(list(ledger.app.events.get(Case.id_for(case)))))
    for year_id in years:
        text = explain_supplier_year(list(ledger.app.events.get(UUID(year_id))))
        if text:
            paragraphs.append(text)
    award: list[Any] = list(ledger.app.events.get(GreenAward.id_for(code)))
    if award:
        paragraphs.append(explain_green_award(award[0]))
    paragraphs += _special(ledger, code, programmes)
    for round_id in claim_rounds:
        text = explain_claim(list(ledger.app.events.get(UUID(round_id))), code)
        if text:
            paragraphs.append(text)
    for number in numbers:
        voucher_events: list[Any] = list(ledger.app.events.get(Voucher.id_for(number)))
        if voucher_events[0].kind == "deduction-voucher":
            paragraphs.append(explain_voucher(voucher_events))
    return paragraphs


def _special(ledger: Ledger, applicant: str, programmes: list[str]) -> list[str]:
    found = []
    for programme in programmes:
        try:
            round_id = ledger.app.special_round(programme).id
        except Rejected:
            continue  # no ranked round in that programme
        events: list[Any] = list(ledger.app.events.get(round_id))
        text = explain_special_application(events, applicant) if events else None
        if text:
            found.append(text)
    return found


def _refusals(ledger: Ledger, subject: str) -> list[str]:
    """Every command refused that named the subject: what was asked, when, by whom, and the
    rule that refused it (first come, first served is auditable only with its refusals)."""
    from sqlalchemy import select

    from projections.audit_views import refusals

    ledger.runner.catch_up()
    query = (
        select(refusals)
        .where(refusals.c.subjects.contains(subject, autoescape=True))
        .order_by(refusals.c.position)
    )
    with ledger.store.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return [
        f"On {r['business_at'][:10]} {r['actor']} asked to {r['command']} "
        f"({r['content']}); the ledger refused it ({r['code']}): {r['message']} "
        f"[log position {r['position']}, recorded {r['recorded_at']}]"
        for r in rows
    ]
