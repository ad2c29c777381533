"""Every report a way in offers, declared once: its name (the CLI's sub-command, the HTTP
path ``/v1/reports/{name}``), its filters, and the function of :mod:`projections.reports`
that builds it — the same function the command line calls, with the same filters.

The HTTP service answers from this table and generates its OpenAPI document from it; a test
checks that it names every report the command line has (``tests/unit/test_service_openapi``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from ledger.clock import local_date
from ledger.errors import InvalidInput
from ledger.ids import parse_credit_code
from projections import reports
from projections.reports import Report
from projections.store import ReadModelStore

Kind = Literal["text", "date", "integer", "boolean", "credit-code"]


@dataclass(frozen=True)
class Filter:
    name: str
    kind: Kind
    help: str
    required: bool = False
    default: Any = None

    def parse(self, value: Any) -> Any:
        """A filter's value as a query string gives it (text), checked."""
        if value is None or value == "":
            if self.required:
                raise InvalidInput("missing-field", f"{self.name}: required", field=self.name)
            return self.default
        text = str(value).strip()
        if self.kind == "date":
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise InvalidInput(
                    "invalid-date",
                    f"{self.name}: {text!r} is not a YYYY-MM-DD date",
                    field=self.name,
                ) from None
        if self.kind == "integer":
            if not text.isdigit():
                raise InvalidInput(
                    "invalid-value", f"{self.name}: {text!r} is not a number", field=self.name
                )
            return int(text)
        if self.kind == "boolean":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise InvalidInput(
                    "invalid-value", f"{self.name}: true or false, not {text!r}", field=self.name
                )
            return text.lower() in ("true", "1", "yes")
        if self.kind == "credit-code":
            return parse_credit_code(text, field=self.name)
        return text


@dataclass(frozen=True)
class ReportDefinition:
    name: str
    help: str
    filters: tuple[Filter, ...]
    build: Callable[[ReadModelStore, Mapping[str, Any]], Report]
    # ``as_of`` (a log position or recorded time): replayed into a scratch store.
    as_of: bool = True
    # ``on`` is a business-date *view* (a replay of facts dated on or before it), not a filter.
    on_is_view: bool = False

    def parse(self, given: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - {f.name for f in self.filters})
        if unknown:
            raise InvalidInput(
                "unknown-field",
                f"{unknown[0]}: the {self.name} report takes no such filter",
                field=unknown[0],
            )
        return {f.name: f.parse(given.get(f.name)) for f in self.filters}


def _today() -> date:
    from datetime import UTC, datetime

    return local_date(datetime.now(UTC))


def _by(text: str) -> list[str]:
    dims = [d.strip() for d in text.split(",") if d.strip()]
    unknown = [d for d in dims if d not in reports.DISBURSEMENT_DIMENSIONS]
    if unknown:
        raise InvalidInput(
            "invalid-value",
            f"by: {unknown[0]!r} is not one of {', '.join(reports.DISBURSEMENT_DIMENSIONS)}",
            field="by",
        )
    return dims


PROGRAMME = Filter("programme", "text", "only this programme, e.g. CD-2025")
ON = Filter("on", "date", "business date (default: today)")

REPORTS: dict[str, ReportDefinition] = {
    d.name: d
    for d in (
        ReportDefinition(
            "balances",
            "voucher balances",
            (
                PROGRAMME,
                Filter("holder", "text", "only this holder's credit code"),
                Filter("on", "date", "business-date view: only facts dated on or before this day"),
            ),
            lambda s, f: reports.balances(s, f["programme"], f["holder"]),
            on_is_view=True,
        ),
        ReportDefinition(
            "quota",
            "quota and budget use per programme and instrument",
            (PROGRAMME,),
            lambda s, f: reports.quota(s, f["programme"]),
        ),
        ReportDefinition(
            "payments",
            "payment instructions",
            (PROGRAMME,),
            lambda s, f: reports.payment_instructions(s, f["programme"]),
        ),
        ReportDefinition(
            "special-round",
            "the special-voucher round",
            (Filter("programme", "text", "programme, e.g. CD-2025", required=True),),
            lambda s, f: reports.special_round(s, f["programme"]),
        ),
        ReportDefinition(
            "debarment-status",
            "an entity's bars and whether it is barred on a date",
            (Filter("entity", "credit-code", "credit code", required=True), ON),
            lambda s, f: reports.debarment_register(s, f["on"] or _today(), f["entity"]),
        ),
        ReportDefinition(
            "debarments",
            "the debarment register, with each bar's status on a date",
            (ON,),
            lambda s, f: reports.debarment_register(s, f["on"] or _today(), None),
        ),
        ReportDefinition(
            "receivables",
            "clawback receivables with ageing on a date",
            (ON,),
            lambda s, f: reports.receivables_ledger(s, f["on"] or _today()),
        ),
        ReportDefinition(
            "supplier-caps",
            "per supplier and year: the 2M cap's use",
            (Filter("year", "integer", "only this year"),),
            lambda s, f: reports.supplier_caps(s, f["year"]),
        ),
        ReportDefinition(
            "supplier-subsidy",
            "a supplier-subsidy round's plan",
            (
                Filter("programme", "text", "programme, e.g. CD-2026", required=True),
                Filter("round", "text", "round name, e.g. R1", required=True),
            ),
            lambda s, f: reports.supplier_subsidy_round(s, f["programme"], f["round"]),
        ),
        ReportDefinition(
            "operator-subsidy",
            "a pro-rata claim programme's allocation",
            (Filter("programme", "text", "programme, e.g. QD-2024", required=True),),
            lambda s, f: reports.operator_allocation(s, f["programme"]),
        ),
        ReportDefinition(
            "disbursements",
            "payments grouped as you choose",
            (
                Filter(
                    "by",
                    "text",
                    "comma-separated: " + ", ".join(reports.DISBURSEMENT_DIMENSIONS),
                    default="programme,purpose,funding_source",
                ),
            ),
            lambda s, f: reports.disbursements(s, _by(f["by"])),
        ),
        ReportDefinition(
            "budget", "budget committed, paid, remaining", (), lambda s, f: reports.budget_use(s)
        ),
        ReportDefinition(
            "exceptions",
            "open reconciliation exceptions with age",
            (
                Filter("on", "date", "age on this date (default: today)"),
                Filter("all", "boolean", "resolved ones too", default=False),
            ),
            lambda s, f: reports.reconciliation_exceptions(s, f["on"] or _today(), not f["all"]),
        ),
        ReportDefinition(
            "late-entries",
            "commands dated well before they were recorded, with the reason given",
            (),
            lambda s, f: reports.late_entries(s),
        ),
        ReportDefinition(
            "refusals",
            "refused business commands: what was asked, by whom, and the rule that refused it",
            (
                Filter(
                    "subject", "text", "only those naming this credit code, voucher or reference"
                ),
            ),
            lambda s, f: reports.refused_commands(s, f["subject"]),
        ),
        ReportDefinition(
            "approvable",
            "open, unapproved payment instructions and whether the caller may approve them",
            (
                Filter("programme", "text", "only this programme"),
                Filter("purpose", "text", "only this purpose"),
                Filter("payee", "credit-code", "only this payee (credit code)"),
                Filter("up_to", "date", "only those instructed by this date"),
                Filter("on", "date", "standing on this date (default: today)"),
            ),
            lambda s, f: reports.approvable_payments(
                s,
                f["on"] or _today(),
                programme=f["programme"],
                purpose=f["purpose"],
                payee=f["payee"],
                up_to=f["up_to"],
                approver=f.get("approver"),
            ),
            as_of=False,
        ),
        ReportDefinition(
            "payment-file",
            "the bank payment file: approved instructions not yet paid",
            (Filter("programme", "text", "only this programme"),),
            lambda s, f: reports.bank_payment_file(s, f["programme"]),
            as_of=False,
        ),
    )
}

# The command line's name for each report (its sub-command path), for the agreement test.
CLI_NAMES = {
    "late-entries": "audit late-entries",
    "refusals": "audit refusals",
    "disbursements": "finance disbursements",
    "budget": "finance budget",
    "exceptions": "finance exceptions",
    "approvable": "finance approvable",
    "payment-file": "finance payment-file",
}
