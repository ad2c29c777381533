"""Time. *Business time* (``at``) is what a command says happened, always timezone-aware;
*recorded time* is the ledger's own clock, injected (the wiring passes the system clock, the
demo and the tests a simulated one). Nothing here reads the wall clock. Calendar years and
half-years are those of Asia/Shanghai, where the programmes run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput

PROGRAMME_TZ = ZoneInfo("Asia/Shanghai")
_PERIOD = re.compile(r"^(\d{4})H([12])$")


class Clock(Protocol):
    """The ledger's clock: what time it is *now*, in recorded time."""

    simulated: bool

    def now(self) -> datetime: ...

    def observe(self, at: datetime) -> None:
        """A command carries business time ``at``: a simulated clock may follow it."""


class SimulatedClock:
    """Time for demos, training and tests, and said to be so (the ledger records it). It starts
    at ``start`` and, when ``follows_business_time``, moves forward to each command's business
    time — a story told in order — never backwards: a command dated before the latest one is
    then back-dated, exactly as it would be on a real clock."""

    simulated = True

    def __init__(self, start: datetime, *, follows_business_time: bool = True) -> None:
        self._now = start
        self.follows_business_time = follows_business_time

    def now(self) -> datetime:
        return self._now

    def observe(self, at: datetime) -> None:
        if self.follows_business_time and at > self._now:
            self._now = at

    def set(self, moment: datetime) -> None:
        self._now = moment


@dataclass(frozen=True)
class TimeRules:
    """How business time is checked against recorded time (the ledger's clock)."""

    # A business time this far ahead of the clock is a clock difference, not the future.
    future_tolerance: timedelta = timedelta(minutes=5)
    # A business time further back than this is a late entry: it needs a reason and is listed
    # for auditors (audit late-entries).
    late_after: timedelta = timedelta(days=7)


def parse_business_time(value: object, *, field: str = "at") -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                "invalid-time", f"{field}: {value!r} is not an ISO 8601 time", field=field
            ) from None
    else:
        raise InvalidInput("invalid-time", f"{field}: expected an ISO 8601 time", field=field)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            "invalid-time",
            f"{field}: {value!r} has no time zone; write e.g. 2025-03-01T09:00:00+08:00",
            field=field,
        )
    return moment


def parse_date(value: object, *, field: str = "date") -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput("invalid-date", f"{field}: {value!r} is not a YYYY-MM-DD date", field=field)


def local_date(at: datetime) -> date:
    return at.astimezone(PROGRAMME_TZ).date()


def business_year(at: datetime) -> int:
    """The calendar year in Asia/Shanghai: 2025-12-31T20:00:00Z is already 2026."""
    return local_date(at).year


def half_year(day: date) -> str:
    """The supplier-list period a day falls in (CD-2: lists are collected every half year)."""
    return f"{day.year}H{1 if day.month <= 6 else 2}"


def parse_period(value: object, *, field: str = "period") -> str:
    if isinstance(value, str) and _PERIOD.match(value.strip().upper()):
        return value.strip().upper()
    raise InvalidInput(
        "invalid-period", f"{field}: {value!r} is not a half-year such as 2025H1", field=field
    )


def period_year(period: str) -> int:
    return int(period[:4])
