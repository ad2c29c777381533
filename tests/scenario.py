"""Given/when/then helpers shared by the tests: a small Chengdu world and its commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Events, VoucherLedger
from ledger.clock import PROGRAMME_TZ, TimeRules
from ledger.errors import Rejected
from ledger.events import Context
from ledger.handlers.finance import ApprovePayment, RecordSettlement
from ledger.handlers.inclusive import ApplyInclusive, Redeem
from ledger.handlers.registration import (
    OpenProgramme,
    PublishSupplierList,
    RegisterApplicant,
    RegisterSupplier,
)
from ledger.ids import make_credit_code
from ledger.policy import Policy, bundled_policies

YEAR = 2025
PROGRAMME = f"CD-{YEAR}"


def at(month: int = 3, day: int = 1, year: int = YEAR, hour: int = 9) -> Context:
    return Context(
        at=datetime(year, month, day, hour, tzinfo=PROGRAMME_TZ), actor="test", command_id="t"
    )


def applicant_code(n: int, city_code: str = "510100") -> str:
    return make_credit_code(f"91{city_code}MA6{n:06d}")


def supplier_code(n: int) -> str:
    return make_credit_code(f"91510100MA7{n:06d}")


def event_names(events: Events) -> list[str]:
    return [type(e).__qualname__ for e in events]


def rejected(code: str, call: Any, *args: Any, **kwargs: Any) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


class World:
    """A programme year with listed suppliers and registered applicants."""

    def __init__(self, app: VoucherLedger, applicants: int = 3, suppliers: int = 3) -> None:
        self.app = app
        ctx = at(1, 2)
        app.execute(ctx, OpenProgramme(policy="chengdu", year=YEAR))
        self.suppliers = [supplier_code(i) for i in range(suppliers)]
        for i, code in enumerate(self.suppliers):
            app.execute(
                ctx,
                RegisterSupplier(
                    credit_code=code, name=f"智算中心{i}", kind="data-centre", city="Chengdu"
                ),
            )
        self.applicants = [applicant_code(i) for i in range(applicants)]
        for i, code in enumerate(self.applicants):
            app.execute(
                ctx,
                RegisterApplicant(
                    credit_code=code, name=f"示例科技{i}", kind="enterprise", city="Chengdu"
                ),
            )
        app.execute(
            at(1, 5),
            PublishSupplierList(programme=PROGRAMME, period=f"{YEAR}H1", suppliers=self.suppliers),
        )
        app.execute(
            at(1, 5),
            PublishSupplierList(programme=PROGRAMME, period=f"{YEAR}H2", suppliers=self.suppliers),
        )

    def issue(self, applicant: int = 0, ctx: Context | None = None) -> str:
        events = self.app.execute(
            ctx or at(2, 1),
            ApplyInclusive(programme=PROGRAMME, applicant=self.applicants[applicant]),
        )
        (issued,) = [e for e in events if type(e).__qualname__ == "Voucher.Issued"]
        return str(issued.number)  # type: ignore[attr-defined]

    def redeem(
        self,
        voucher: str,
        bill: str = "8000.00",
        invoice: str = "INV-1",
        supplier: int = 0,
        service: date = date(YEAR, 3, 10),
        ctx: Context | None = None,
        kind: str = "compute",
        deduction: str | None = None,
    ) -> Events:
        return self.app.execute(
            ctx or at(service.month, service.day) if ctx is None else ctx,
            Redeem(
                voucher=voucher,
                supplier=self.suppliers[supplier],
                bill_amount=Decimal(bill),
                invoice_number=invoice,
                service_kind=kind,
                service_date=service,
                deduction=Decimal(deduction) if deduction else None,
            ),
        )


# Unit tests tell a programme's story in business time, not always in order: the ledger's
# simulated clock follows the latest business time, and only entries dated more than a year
# before it count as late (the rule itself is tested with the default, tighter, threshold).
STORY_TIME = TimeRules(late_after=timedelta(days=400))


def in_memory_ledger(
    policies: Mapping[str, Policy] | None = None, time_rules: TimeRules = STORY_TIME
) -> VoucherLedger:
    """The application on the library's in-memory store: unit tests need no database."""
    return VoucherLedger(
        policies or bundled_policies(),
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        time_rules=time_rules,
    )


def next_day(ctx: Context) -> Context:
    return Context(ctx.at + timedelta(days=1), ctx.actor, ctx.command_id)


def pay_out(app: VoucherLedger, events: Events, ctx: Context, actor: str = "wang.finance") -> None:
    """Every payment instructed by ``events`` is approved by a second person (``actor``) and
    settled by the bank on ``ctx``'s day: the money is paid out (兑付, CD-10)."""
    finance = replace(ctx, actor=actor)
    for event in events:
        if type(event).__qualname__ != "PaymentInstruction.Instructed":
            continue
        reference = str(event.reference)  # type: ignore[attr-defined]
        app.execute(finance, ApprovePayment(payment=reference, note="reviewed"))
        app.execute(
            finance,
            RecordSettlement(
                payment=reference,
                amount=event.amount,  # type: ignore[attr-defined]
                bank_reference=f"BANK-{reference}",
                value_date=ctx.at.date(),
            ),
        )


def listed_the_year_before(app: VoucherLedger, suppliers: int, year: int = YEAR - 1) -> None:
    """Programme ``year`` opened and suppliers 0… (as :class:`World` registers them) on both its
    half-year lists: the year of the spend the next year's special vouchers rest on (CD-2, CD-5,
    ADR 0010)."""
    codes = [supplier_code(i) for i in range(suppliers)]
    app.execute(at(1, 2, year), OpenProgramme(policy="chengdu", year=year))
    for i, code in enumerate(codes):
        app.execute(
            at(1, 2, year),
            RegisterSupplier(
                credit_code=code, name=f"智算中心{i}", kind="data-centre", city="Chengdu"
            ),
        )
    for half in ("H1", "H2"):
        app.execute(
            at(1, 3, year),
            PublishSupplierList(programme=f"CD-{year}", period=f"{year}{half}", suppliers=codes),
        )
