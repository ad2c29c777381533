"""Business time. Always timezone-aware and passed in by the caller (commands carry ``at``);
nothing here reads the wall clock. Calendar years and half-years are those of Asia/Shanghai,
where the programmes run."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger.errors import InvalidInput

PROGRAMME_TZ = ZoneInfo("Asia/Shanghai")
_PERIOD = re.compile(r"^(\d{4})H([12])$")


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
