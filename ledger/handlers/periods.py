"""Accounting periods: finance closes months; an administrator reopens one, with the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import parsers as p
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.periods import PERIODS_ID, AccountingPeriods
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger


def _periods(app: VoucherLedger, ctx: Context) -> AccountingPeriods:
    found: AccountingPeriods | None = app.find(PERIODS_ID)
    return found or AccountingPeriods.start(ctx)


@command(
    "close-period",
    role="finance",
    example={"period": "2026-03", "at": "2026-04-05T17:00:00+08:00"},
)
class ClosePeriod(Command):
    """Close an ended month: from then on, an entry dated in it is refused (period-closed)."""

    period: str = arg(p.month, "the month, YYYY-MM")


@handles(ClosePeriod)
def close_period(app: VoucherLedger, ctx: Context, cmd: ClosePeriod) -> Events:
    periods = _periods(app, ctx)
    periods.close(ctx, cmd.period)
    return app.commit(periods)


@command(
    "reopen-period",
    role="administrator",
    example={
        "period": "2026-03",
        "reason": "a bank correction of 2026-03-28 must be entered",
        "at": "2026-04-10T09:00:00+08:00",
    },
)
class ReopenPeriod(Command):
    """Reopen a closed month, with the reason (recorded, and listed in the audit history)."""

    period: str = arg(p.month, "the month, YYYY-MM")
    reason: str = arg(p.text(), "why it is reopened")


@handles(ReopenPeriod)
def reopen_period(app: VoucherLedger, ctx: Context, cmd: ReopenPeriod) -> Events:
    periods = _periods(app, ctx)
    periods.reopen(ctx, cmd.period, cmd.reason)
    return app.commit(periods)
