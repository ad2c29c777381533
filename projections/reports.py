"""Reports read from the read models: a title, named columns and rows of plain values
(amounts as ``Decimal`` yuan). Rendering as a table, JSON or CSV is the CLI's business."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, select

from ledger.money import from_fen
from projections.audit_views import late_entries as late_entries_table
from projections.audit_views import refusals as refusals_table
from projections.claim_views import claim_shares, claims, funding_caps
from projections.enforcement_views import credit_records, debarments, receivables
from projections.finance_views import exceptions as reconciliation_exceptions_table
from projections.ledger_views import entities, payments, programme_use, vouchers
from projections.special_views import special_applications, special_rounds
from projections.store import ReadModelStore
from projections.supplier_views import subsidy_lines, supplier_years


@dataclass
class Report:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)


def _fetch(store: ReadModelStore, query: Select[Any]) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _yuan(rows: list[dict[str, Any]], *columns: str) -> None:
    for row in rows:
        for c in columns:
            row[c.removesuffix("_fen")] = from_fen(row.pop(c))


def _sums(rows: list[dict[str, Any]], *columns: str) -> dict[str, Any]:
    """Column totals in yuan, for a report's totals line."""
    return {c: sum((r[c] for r in rows), start=from_fen(0)) for c in columns}


def balances(
    store: ReadModelStore, programme: str | None = None, holder: str | None = None
) -> Report:
    holder_names = (
        select(entities.c.credit_code, entities.c.name)
        .where(entities.c.role == "applicant")
        .subquery()
    )
    query = (
        select(
            vouchers.c.number.label("voucher"),
            vouchers.c.programme,
            vouchers.c.instrument,
            vouchers.c.holder,
            holder_names.c.name.label("holder_name"),
            vouchers.c.face_value_fen,
            vouchers.c.deducted_fen,
            vouchers.c.lapsed_fen,
            vouchers.c.cancelled_fen,
            vouchers.c.remaining_fen,
            vouchers.c.redemptions,
            vouchers.c.status,
        )
        .join(holder_names, holder_names.c.credit_code == vouchers.c.holder, isouter=True)
        .order_by(vouchers.c.number)
    )
    if programme:
        query = query.where(vouchers.c.programme == programme)
    if holder:
        query = query.where(vouchers.c.holder == holder)
    rows = _fetch(store, query)
    _yuan(rows, "face_value_fen", "deducted_fen", "lapsed_fen", "cancelled_fen", "remaining_fen")
    columns = [
        "voucher",
        "programme",
        "instrument",
        "holder",
        "holder_name",
        "face_value",
        "deducted",
        "lapsed",
        "cancelled",
        "remaining",
        "redemptions",
        "status",
    ]
    totals = _sums(rows, "face_value", "deducted", "lapsed", "cancelled", "remaining")
    totals["voucher"] = f"{len(rows)} vouchers"
    return Report("Voucher balances", columns, rows, totals)


def quota(store: ReadModelStore, programme: str | None = None) -> Report:
    query = select(programme_use).order_by(programme_use.c.programme, programme_use.c.instrument)
    if programme:
        query = query.where(programme_use.c.programme == programme)
    rows = _fetch(store, query)
    for r in rows:
        r["remaining_places"] = r["quota"] - r["issued"]
    _yuan(
        rows,
        "face_value_issued_fen",
        "deducted_fen",
        "claimed_fen",
        "reimbursed_fen",
        "lapsed_fen",
        "paid_to_holders_fen",
    )
    columns = [
        "programme",
        "instrument",
        "policy",
        "year",
        "quota",
        "issued",
        "remaining_places",
        "face_value_issued",
        "deducted",
        "claimed",
        "reimbursed",
        "lapsed",
        "paid_to_holders",
    ]
    return Report("Quota and budget use", columns, rows)


def payment_instructions(store: ReadModelStore, programme: str | None = None) -> Report:
    query = select(payments).order_by(payments.c.instructed_at, payments.c.reference)
    if programme:
        query = query.where(payments.c.programme == programme)
    rows = _fetch(store, query)
    _yuan(rows, "amount_fen", "offset_fen", "settled_fen", "clawed_back_fen")
    columns = [
        "reference",
        "payee",
        "payee_name",
        "amount",
        "offset",
        "status",
        "settled",
        "value_date",
        "clawed_back",
        "purpose",
        "programme",
        "year",
        "funding_source",
        "instructed_at",
    ]
    totals = {
        "reference": f"{len(rows)} instructions",
        **_sums(rows, "amount"),
    }
    return Report("Payment instructions", columns, rows, totals)


def special_round(store: ReadModelStore, programme: str) -> Report:
    """The special-voucher round: every application in rank order (CD-9)."""
    names = (
        select(entities.c.credit_code, entities.c.name)
        .where(entities.c.role == "applicant")
        .subquery()
    )
    a = special_applications
    query = (
        select(
            a.c.rank,
            a.c.applicant,
            names.c.name,
            a.c.spend_fen,
            a.c.bracket,
            a.c.sequence,
            a.c.review,
            a.c.tier,
            a.c.amount_fen,
            a.c.status,
            a.c.voucher,
        )
        .join(names, names.c.credit_code == a.c.applicant, isouter=True)
        .where(a.c.programme == programme)
        .order_by((a.c.rank == 0), a.c.rank, a.c.sequence)
    )
    rows = _fetch(store, query)
    _yuan(rows, "spend_fen", "amount_fen")
    for r in rows:
        r["rank"] = r["rank"] or None
        r["bracket"] += 1  # people count brackets from 1
        r["tier"] = r["tier"] + 1 if r["tier"] >= 0 else None
    (summary,) = _fetch(
        store, select(special_rounds).where(special_rounds.c.programme == programme)
    ) or [{}]
    columns = [
        "rank",
        "applicant",
        "name",
        "spend",
        "bracket",
        "sequence",
        "review",
        "tier",
        "amount",
        "status",
        "voucher",
    ]
    totals = {
        "applicant": f"{len(rows)} applications",
        **_sums(rows, "amount"),
        "status": summary.get("status", "none"),
        "voucher": f"unused places by tier: {summary.get('unused_places') or '-'}",
    }
    return Report(f"Special round {programme}", columns, rows, totals)


def _bar_status(row: dict[str, Any], on: date) -> str:
    day = on.isoformat()
    end = min(row["barred_until"], row["lifted_on"]) if row["lifted_on"] else row["barred_until"]
    if day < row["barred_from"]:
        return "not yet"
    if day < end:
        return "barred"
    return "lifted" if row["lifted_on"] and row["lifted_on"] <= day else "ended"


def debarment_register(store: ReadModelStore, on: date, entity: str | None = None) -> Report:
    """Bars and their status on a business date (CD-11). ``barred_until`` is the first day free."""
    query = select(debarments).order_by(debarments.c.entity, debarments.c.barred_from)
    if entity:
        query = query.where(debarments.c.entity == entity)
    rows = _fetch(store, query)
    for r in rows:
        r["status_on_date"] = _bar_status(r, on)
    columns = [
        "entity",
        "case_ref",
        "policy",
        "barred_from",
        "barred_until",
        "lifted_on",
        "lift_reason",
        "status_on_date",
    ]
    barred = sum(r["status_on_date"] == "barred" for r in rows)
    title = f"Debarment register on {on}" + (f" for {entity}" if entity else "")
    totals = {"entity": f"{len(rows)} bars", "status_on_date": f"{barred} barred"}
    return Report(title, columns, rows, totals)


def credit_record_register(store: ReadModelStore, entity: str) -> Report:
    query = select(credit_records).where(credit_records.c.entity == entity)
    rows = _fetch(store, query.order_by(credit_records.c.listed_from))
    columns = ["entity", "reference", "kind", "source", "listed_from", "listed_until"]
    return Report(f"Credit records of {entity}", columns, rows)


AGEING = ((0, "not due"), (30, "1-30 days"), (90, "31-90 days"), (180, "91-180 days"))


def _bucket(days: int) -> str:
    for limit, label in AGEING:
        if days <= limit:
            return label
    return "over 180 days"


def receivables_ledger(store: ReadModelStore, on: date) -> Report:
    """Clawback receivables: demanded − repaid − offset − written off, aged on ``on``."""
    rows = _fetch(store, select(receivables).order_by(receivables.c.case_ref))
    for r in rows:
        outstanding = r["demanded_fen"] - r["repaid_fen"] - r["offset_fen"] - r["written_off_fen"]
        r["outstanding_fen"] = outstanding
        due = date.fromisoformat(r["due_date"]) if r["due_date"] else None
        r["days_overdue"] = max(0, (on - due).days) if due and outstanding > 0 else 0
        r["ageing"] = _bucket(r["days_overdue"]) if outstanding > 0 else "settled"
    _yuan(rows, "demanded_fen", "repaid_fen", "offset_fen", "written_off_fen", "outstanding_fen")
    columns = [
        "case_ref",
        "programme",
        "entity",
        "finding_date",
        "due_date",
        "demanded",
        "repaid",
        "offset",
        "written_off",
        "outstanding",
        "days_overdue",
        "ageing",
    ]
    totals = _sums(rows, "demanded", "repaid", "offset", "written_off", "outstanding")
    totals["case_ref"] = f"{len(rows)} cases"
    return Report(f"Receivables on {on}", columns, rows, totals)


def supplier_caps(store: ReadModelStore, year: int | None = None) -> Report:
    """Per supplier and year: business served, subsidy base, 20% computed, capped off by the
    yearly cap, granted, headroom left (CD-6)."""
    names = _names("supplier")
    y = supplier_years
    query = (
        select(y, names.c.name)
        .join(names, names.c.credit_code == y.c.supplier, isouter=True)
        .order_by(y.c.year, y.c.supplier)
    )
    if year:
        query = query.where(y.c.year == year)
    rows = _fetch(store, query)
    for r in rows:
        r["headroom_fen"] = max(0, r["cap_fen"] - r["granted_fen"]) if r["grants"] else None
    _yuan(rows, "business_fen", "base_fen", "computed_fen", "capped_off_fen", "granted_fen")
    for r in rows:
        r["headroom"] = from_fen(r.pop("headroom_fen")) if r["grants"] else None
        r["cap"] = from_fen(r.pop("cap_fen")) if r["grants"] else None
    columns = [
        "supplier",
        "name",
        "year",
        "bills",
        "business",
        "grants",
        "base",
        "computed",
        "capped_off",
        "granted",
        "cap",
        "headroom",
    ]
    totals = _sums(rows, "business", "base", "computed", "capped_off", "granted")
    totals["supplier"] = f"{len(rows)} supplier-years"
    return Report("Supplier subsidy cap use", columns, rows, totals)


def supplier_subsidy_round(store: ReadModelStore, programme: str, round_name: str) -> Report:
    names = _names("supplier")
    s = subsidy_lines
    query = (
        select(s, names.c.name)
        .join(names, names.c.credit_code == s.c.supplier, isouter=True)
        .where(s.c.programme == programme, s.c.round == round_name)
        .order_by(s.c.supplier)
    )
    rows = _fetch(store, query)
    _yuan(
        rows,
        "inclusive_base_fen",
        "special_base_fen",
        "base_fen",
        "computed_fen",
        "planned_fen",
        "capped_off_fen",
        "granted_fen",
    )
    columns = [
        "supplier",
        "name",
        "inclusive_bills",
        "inclusive_base",
        "special_base",
        "excluded",
        "base",
        "computed",
        "planned",
        "capped_off",
        "granted",
        "status",
        "payment_reference",
    ]
    totals = _sums(rows, "base", "computed", "planned", "capped_off", "granted")
    totals["supplier"] = f"{len(rows)} suppliers"
    return Report(f"Supplier subsidy {programme} round {round_name}", columns, rows, totals)


def _names(role: str) -> Any:
    return select(entities.c.credit_code, entities.c.name).where(entities.c.role == role).subquery()


DISBURSEMENT_DIMENSIONS = (
    "programme",
    "year",
    "instrument",
    "purpose",
    "payee",
    "funding_source",
    "month",
)


def disbursements(store: ReadModelStore, by: Sequence[str]) -> Report:
    """Payment instructions grouped by any of programme, year, instrument, purpose, payee,
    funding source and month instructed: instructed (less cancelled and stopped), paid,
    outstanding, and how many sit in each reconciliation state."""
    rows = _fetch(store, select(payments))
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        r["month"] = r["instructed_at"][:7]
        key = tuple(r[d] for d in by)
        g = groups.setdefault(
            key,
            {
                **dict(zip(by, key, strict=True)),
                "instructions": 0,
                "instructed_fen": 0,
                "cancelled_fen": 0,
                "paid_fen": 0,
                "mismatch": 0,
                "missing": 0,
            },
        )
        g["instructions"] += 1
        if r["reconciliation"] == "cancelled":
            g["cancelled_fen"] += r["amount_fen"]
        else:
            g["instructed_fen"] += r["amount_fen"]
        g["paid_fen"] += r["settled_fen"]
        g["mismatch"] += r["reconciliation"] == "mismatch"
        g["missing"] += r["reconciliation"] == "missing"
    out = [groups[k] for k in sorted(groups)]
    for g in out:
        g["outstanding_fen"] = g["instructed_fen"] - g["paid_fen"]
    _yuan(out, "instructed_fen", "cancelled_fen", "paid_fen", "outstanding_fen")
    columns = [
        *by,
        "instructions",
        "instructed",
        "cancelled",
        "paid",
        "outstanding",
        "mismatch",
        "missing",
    ]
    totals = _sums(out, "instructed", "cancelled", "paid", "outstanding")
    if by:
        totals[by[0]] = f"{len(out)} groups"
    return Report("Disbursements by " + ", ".join(by or ["(all)"]), columns, out, totals)


def budget_use(store: ReadModelStore) -> Report:
    """Per programme, instrument and funding source: the pool, what is committed to it (value
    of vouchers issued and not lapsed or cancelled; payments for instruments without vouchers),
    what was instructed and paid, and what is left."""
    pools = {(r["programme"], r["instrument"]): r for r in _fetch(store, select(programme_use))}
    paid: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in _fetch(store, select(payments)):
        key = (r["programme"], r["instrument"], r["funding_source"])
        p = paid.setdefault(key, {"instructed": 0, "paid": 0})
        if r["reconciliation"] != "cancelled":
            p["instructed"] += r["amount_fen"]
        p["paid"] += r["settled_fen"]
    caps = {
        (r["programme"], r["instrument"], r["source"]): r["cap_fen"]
        for r in _fetch(store, select(funding_caps))
    }
    keys = set(paid) | set(caps) | {(p, i, u["funding_source"]) for (p, i), u in pools.items()}
    rows = []
    for programme, instrument, source in sorted(keys):
        pool = pools.get((programme, instrument))
        money = paid.get((programme, instrument, source), {"instructed": 0, "paid": 0})
        if pool is not None:
            committed = pool["face_value_issued_fen"] - pool["lapsed_fen"]
            budget: Any = from_fen(pool["budget_fen"])
            remaining: Any = from_fen(pool["budget_fen"] - committed)
        elif (programme, instrument, source) in caps:
            cap = caps[(programme, instrument, source)]
            committed, budget, remaining = (
                money["instructed"],
                from_fen(cap),
                from_fen(cap - money["instructed"]),
            )
        else:
            committed, budget, remaining = money["instructed"], None, None
        rows.append(
            {
                "programme": programme,
                "instrument": instrument,
                "funding_source": source,
                "budget": budget,
                "committed": from_fen(committed),
                "instructed": from_fen(money["instructed"]),
                "paid": from_fen(money["paid"]),
                "remaining": remaining,
            }
        )
    columns = [
        "programme",
        "instrument",
        "funding_source",
        "budget",
        "committed",
        "instructed",
        "paid",
        "remaining",
    ]
    return Report("Budget: committed, instructed, paid, remaining", columns, rows)


def reconciliation_exceptions(store: ReadModelStore, on: date, open_only: bool = True) -> Report:
    query = select(reconciliation_exceptions_table).order_by(
        reconciliation_exceptions_table.c.raised_on, reconciliation_exceptions_table.c.reference
    )
    rows = _fetch(store, query)
    if open_only:
        rows = [r for r in rows if not r["resolved_on"]]
    for r in rows:
        r["age_days"] = (on - date.fromisoformat(r["raised_on"])).days
    _yuan(rows, "instructed_fen", "paid_fen")
    columns = [
        "reference",
        "kind",
        "payment_reference",
        "statement",
        "line",
        "instructed",
        "paid",
        "detail",
        "raised_on",
        "age_days",
        "resolved_on",
        "resolution",
    ]
    return Report(
        f"Reconciliation exceptions on {on}",
        columns,
        rows,
        {"reference": f"{len(rows)} exceptions"},
    )


def operator_allocation(store: ReadModelStore, programme: str) -> Report:
    """A pro-rata claim programme: claims, exclusions, reviews, entitlement, scaling and each
    funding source's share (QD-2…QD-4)."""
    names = _names("supplier")
    query = (
        select(claims, names.c.name)
        .join(names, names.c.credit_code == claims.c.claimant, isouter=True)
        .where(claims.c.programme == programme)
        .order_by(claims.c.claimant)
    )
    rows = _fetch(store, query)
    shares = _fetch(store, select(claim_shares).where(claim_shares.c.programme == programme))
    sources = sorted({s["source"] for s in shares})
    for r in rows:
        for source in sources:
            r[f"{source}_share_fen"] = next(
                (
                    s["amount_fen"]
                    for s in shares
                    if s["claimant"] == r["claimant"] and s["source"] == source
                ),
                0,
            )
    money = [
        "claimed_fen",
        "eligible_fen",
        "excluded_fen",
        "approved_fen",
        "entitlement_fen",
        "allocated_fen",
        *[f"{s}_share_fen" for s in sources],
    ]
    _yuan(rows, *money)
    columns = [
        "claimant",
        "name",
        "lines",
        "excluded_lines",
        "claimed",
        "eligible",
        "excluded",
        "pre_review",
        "city_review",
        "approved",
        "entitlement",
        "scale",
        "allocated",
        *[f"{s}_share" for s in sources],
        "status",
    ]
    totals = _sums(rows, *[c.removesuffix("_fen") for c in money])
    totals["claimant"] = f"{len(rows)} claims"
    return Report(f"Operator subsidy {programme}", columns, rows, totals)


def late_entries(store: ReadModelStore) -> Report:
    """Commands dated well before they were recorded, with the reason given (trust model)."""
    rows = _fetch(store, select(late_entries_table).order_by(late_entries_table.c.position))
    columns = ["position", "recorded_at", "business_at", "actor", "command", "command_id", "reason"]
    return Report("Late entries", columns, rows, {"position": f"{len(rows)} late entries"})


def refused_commands(store: ReadModelStore, subject: str | None = None) -> Report:
    """Every refused business command (or those naming one subject), in log order."""
    query = select(refusals_table).order_by(refusals_table.c.position)
    if subject:
        query = query.where(refusals_table.c.subjects.contains(subject, autoescape=True))
    rows = _fetch(store, query)
    columns = [
        "position",
        "recorded_at",
        "business_at",
        "actor",
        "command",
        "code",
        "message",
        "content",
    ]
    return Report("Refused commands", columns, rows, {"position": f"{len(rows)} refusals"})


# ---- four eyes: approvable instructions and the bank payment file ---------------------------


def approvable_payments(
    store: ReadModelStore,
    on: date,
    programme: str | None = None,
    purpose: str | None = None,
    payee: str | None = None,
    up_to: date | None = None,
    approver: str | None = None,
) -> Report:
    """Open, unapproved payment instructions matching the filters (what ``approve-payments``
    would look at), oldest first, with who instructed each and, for ``approver``, whether
    they may approve it: not their own instruction (four eyes), not to a payee barred ``on``
    that day. The command itself decides by the aggregates; this is the read side's view."""
    from projections.ledger_views import payment_approvals

    query = (
        select(payments, payment_approvals.c.instructed_by)
        .join(
            payment_approvals,
            payment_approvals.c.payment_id == payments.c.payment_id,
            isouter=True,
        )
        .where(payments.c.approved == 0, payments.c.status == "instructed")
        .order_by(payments.c.instructed_at, payments.c.reference)
    )
    if programme:
        query = query.where(payments.c.programme == programme)
    if purpose:
        query = query.where(payments.c.purpose == purpose)
    if payee:
        query = query.where(payments.c.payee == payee)
    rows = _fetch(store, query)
    if up_to:
        rows = [r for r in rows if r["instructed_at"][:10] <= up_to.isoformat()]
    bars = _fetch(store, select(debarments))
    barred = {b["entity"] for b in bars if _bar_status(b, on) == "barred"}
    for r in rows:
        r["amount_fen"] -= r["offset_fen"]
        r["instructed_by"] = r.get("instructed_by") or ""
        who = r["instructed_by"].partition(" (entered by ")
        instructors = {who[0], who[2].removesuffix(")")} - {""}
        if r["payee"] in barred:
            r["approvable"] = "no: payee barred"
        elif approver and approver in instructors:
            r["approvable"] = "no: own instruction"
        else:
            r["approvable"] = "yes"
    _yuan(rows, "amount_fen")
    columns = [
        "reference",
        "payee",
        "payee_name",
        "amount",
        "purpose",
        "programme",
        "instructed_at",
        "instructed_by",
        "approvable",
    ]
    approvable = [r for r in rows if r["approvable"] == "yes"]
    totals = {
        "reference": f"{len(rows)} unapproved",
        "amount": sum((r["amount"] for r in approvable), from_fen(0)),
        "approvable": f"{len(approvable)} approvable",
    }
    title = "Unapproved payment instructions" + (f" (for {approver})" if approver else "")
    return Report(title, columns, rows, totals)


# The bank payment file: headers the bank's bulk-transfer import reads (Chinese), and the
# fields of the payments read model they come from.
PAYMENT_FILE_COLUMNS = {
    "收款人名称": "payee_name",
    "收款账号": "payee_account",
    "收款人统一社会信用代码": "payee",
    "金额": "amount",
    "用途": "purpose",
    "付款参考号": "reference",
    "资金来源": "funding_source",
    "项目": "programme",
}
# OWASP "CSV injection": a cell a spreadsheet would read as a formula is prefixed with '.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will show as text: one starting with = + - @ tab or CR is
    prefixed with a single quote (the OWASP rule)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def bank_payment_file(store: ReadModelStore, programme: str | None = None) -> Report:
    """What finance hands to the bank: approved instructions not yet settled, stopped,
    cancelled or paid a different amount (mismatch), with what remains payable (the amount
    less offsets), oldest first. Only an instruction a second person approved is in it (four
    eyes). Cells are made safe for spreadsheets; the column names are the bank's."""
    query = (
        select(payments)
        .where(
            payments.c.approved == 1,
            payments.c.status == "instructed",
            # The bank paid another amount: finance resolves that first, it is not sent again.
            payments.c.reconciliation != "mismatch",
        )
        .order_by(payments.c.instructed_at, payments.c.reference)
    )
    if programme:
        query = query.where(payments.c.programme == programme)
    found = _fetch(store, query)
    for r in found:
        r["amount_fen"] -= r["offset_fen"]
    _yuan(found, "amount_fen")
    rows = [
        {header: csv_safe(r[source]) for header, source in PAYMENT_FILE_COLUMNS.items()}
        for r in found
        if r["amount"] > 0
    ]
    total = sum((r["amount"] for r in found if r["amount"] > 0), from_fen(0))
    return Report(
        "Bank payment file" + (f" {programme}" if programme else ""),
        list(PAYMENT_FILE_COLUMNS),
        rows,
        {"收款人名称": f"{len(rows)} payments", "金额": total},
    )
