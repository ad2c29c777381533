"""Accounting periods: finance closes a month once its books are done, and an entry dated in a
closed month is refused; an administrator may reopen it, with the reason, recorded (trust
model). Closing binds whatever the command's business date: it is checked for every command."""

from __future__ import annotations

from datetime import datetime

from ledger.aggregate import LedgerAggregate
from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id

PERIODS_ID = stable_id("accounting-periods")


def month_of(at: datetime) -> str:
    """The accounting month of a business time, in Asia/Shanghai: ``2025-03``."""
    return local_date(at).strftime("%Y-%m")


class AccountingPeriods(LedgerAggregate):
    """Which months are closed."""

    class Started(LedgerCreated):
        pass

    class Closed(LedgerEvent):
        period: str

        def apply(self, aggregate: AccountingPeriods) -> None:
            aggregate.closed.add(self.period)

    class Reopened(LedgerEvent):
        period: str
        reason: str

        def apply(self, aggregate: AccountingPeriods) -> None:
            aggregate.closed.discard(self.period)

    def __init__(self) -> None:
        self.closed: set[str] = set()

    @classmethod
    def start(cls, ctx: Context) -> AccountingPeriods:
        return cls._create(cls.Started, id=PERIODS_ID, **ctx.fields())

    def require_open(self, at: datetime) -> None:
        month = month_of(at)
        if month in self.closed:
            raise Rejected(
                "period-closed",
                f"the accounting period {month} is closed: an administrator may reopen it "
                "(reopen-period), with the reason",
            )

    def close(self, ctx: Context, period: str) -> None:
        if period >= month_of(ctx.at):
            raise Rejected("period-not-ended", f"{period} has not ended on {local_date(ctx.at)}")
        if period not in self.closed:
            self.trigger_event(self.Closed, period=period, **ctx.fields())

    def reopen(self, ctx: Context, period: str, reason: str) -> None:
        if period not in self.closed:
            raise Rejected("period-not-closed", f"the accounting period {period} is not closed")
        self.trigger_event(self.Reopened, period=period, reason=reason, **ctx.fields())
