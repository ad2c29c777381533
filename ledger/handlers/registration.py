"""Registration of applicants and suppliers, programmes and supplier lists (CD-1, CD-2, CD-3,
CD-15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import parsers as p
from ledger.entities import Applicant, Supplier
from ledger.errors import Rejected
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.handlers.examples import (
    AT,
)
from ledger.policy import (
    APPLICANT_KINDS,
    SUPPLIER_KINDS,
)
from ledger.programme import Programme, SupplierList
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


def _register(
    app: VoucherLedger,
    cls: type[Applicant] | type[Supplier],
    ctx: Context,
    credit_code: str,
    name: str,
    kind: str,
    city: str,
    bank_account: str,
) -> Events:
    """One registration per credit code and role: the same details again change nothing;
    different ones are refused."""
    existing = app.find(cls.id_for(credit_code))
    if existing is not None:
        if existing.same_registration(name, kind, city):
            return []
        raise Rejected(
            "already-registered",
            f"{cls.__name__.lower()} {credit_code} is registered as {existing.name!r} "
            f"({existing.kind}, {existing.city})",
        )
    return app.commit(cls.register(ctx, credit_code, name, kind, city, bank_account))


@command(
    "register-applicant",
    role="clerk",
    clauses=("CD-1",),
    example={
        "credit_code": "91510100MA61R0BQ4E",
        "name": "成都示例智能科技有限公司",
        "kind": "enterprise",
        "city": "Chengdu",
        "at": AT,
    },
)
class RegisterApplicant(Command):
    """Register an enterprise, research institute or university (CD-1)."""

    credit_code: str = arg(p.credit_code, "unified social credit code")
    name: str = arg(p.text(), "registered name")
    kind: str = arg(p.choice(*APPLICANT_KINDS), " / ".join(APPLICANT_KINDS))
    city: str = arg(p.text(64), "city of registration, e.g. Chengdu")
    bank_account: str = arg(p.text(64), "bank account payments go to (where known)", default="")


@handles(RegisterApplicant)
def register_applicant(app: VoucherLedger, ctx: Context, cmd: RegisterApplicant) -> Events:
    return _register(
        app, Applicant, ctx, cmd.credit_code, cmd.name, cmd.kind, cmd.city, cmd.bank_account
    )


@command(
    "register-supplier",
    role="clerk",
    clauses=("CD-2",),
    example={
        "credit_code": "91510100MA6CJ8UQ10",
        "name": "成都智算中心",
        "kind": "data-centre",
        "city": "Chengdu",
        "bank_account": "6222 0244 0200 1234 567",
        "at": AT,
    },
)
class RegisterSupplier(Command):
    """Register a data centre or compute-scheduling platform (CD-2)."""

    credit_code: str = arg(p.credit_code, "unified social credit code")
    name: str = arg(p.text(), "registered name")
    kind: str = arg(p.choice(*SUPPLIER_KINDS), " / ".join(SUPPLIER_KINDS))
    city: str = arg(p.text(64), "city of registration")
    bank_account: str = arg(p.text(64), "bank account payments go to (where known)", default="")


@handles(RegisterSupplier)
def register_supplier(app: VoucherLedger, ctx: Context, cmd: RegisterSupplier) -> Events:
    return _register(
        app, Supplier, ctx, cmd.credit_code, cmd.name, cmd.kind, cmd.city, cmd.bank_account
    )


@command(
    "record-affiliation",
    role="clerk",
    clauses=("CD-3",),
    example={
        "applicant": "91510100MA61R0BQ4E",
        "supplier": "91510100MA6CJ8UQ10",
        "evidence": "enterprise registry: common shareholder",
        "at": AT,
    },
)
class RecordAffiliation(Command):
    """Record that an applicant and a supplier are related: redemptions between them are refused
    (CD-3)."""

    applicant: str = arg(p.credit_code, "applicant's credit code")
    supplier: str = arg(p.credit_code, "supplier's credit code")
    evidence: str = arg(p.text(), "where the relation is documented")


@handles(RecordAffiliation)
def record_affiliation(app: VoucherLedger, ctx: Context, cmd: RecordAffiliation) -> Events:
    app.applicant(cmd.applicant)
    owner = app.supplier(cmd.supplier)
    owner.record_affiliation(ctx, cmd.applicant, cmd.evidence)
    return app.commit(owner)


@command(
    "open-programme",
    role="clerk",
    clauses=("CD-15",),
    example={"policy": "chengdu", "year": 2025, "at": "2025-01-02T09:00:00+08:00"},
)
class OpenProgramme(Command):
    """Open a policy's programme for a year (CD-15 sets the years)."""

    policy: str = arg(p.text(40), "policy id, e.g. chengdu")
    year: int = arg(p.year, "calendar year")


@handles(OpenProgramme)
def open_programme(app: VoucherLedger, ctx: Context, cmd: OpenProgramme) -> Events:
    try:
        policy = app.policies[cmd.policy]
    except KeyError:
        raise Rejected(
            "unknown-policy",
            f"no policy {cmd.policy!r}; known: {', '.join(sorted(app.policies))}",
        ) from None
    programme = Programme.open(ctx, policy, cmd.year)
    if app.find(programme.id) is not None:
        raise Rejected("programme-already-open", f"programme {programme.name} is open")
    return app.commit(programme)


@command(
    "publish-supplier-list",
    role="clerk",
    clauses=("CD-2",),
    example={
        "programme": "CD-2025",
        "period": "2025H1",
        "suppliers": ["91510100MA6CJ8UQ10"],
        "at": "2025-01-05T09:00:00+08:00",
    },
)
class PublishSupplierList(Command):
    """Publish the bureau's list of suppliers for a half-year (CD-2)."""

    programme: str = arg(p.programme, "programme, e.g. CD-2025")
    period: str = arg(p.period, "half-year, e.g. 2025H1")
    suppliers: list[str] = arg(p.repeated(p.credit_code), "listed suppliers", shape="list")


@handles(PublishSupplierList)
def publish_supplier_list(app: VoucherLedger, ctx: Context, cmd: PublishSupplierList) -> Events:
    programme = app.programme_terms(cmd.programme)
    programme.require_period_in_year(cmd.period)
    for code in cmd.suppliers:
        programme.require_eligible_supplier(app.supplier(code))
        app.require_standing(programme, code, ctx)
    existing = app.find(SupplierList.id_for(programme.name, cmd.period))
    if existing is not None and existing.republishes(cmd.suppliers):
        return []
    return app.commit(SupplierList.publish(ctx, programme, cmd.period, list(cmd.suppliers)))
