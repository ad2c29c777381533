"""Public notice (公示): the rules a published plan follows before it is paid, shared by every
round that publishes one (the special round, CD-9; supplier subsidy rounds, CD-10).

A notice period may not start in the past nor end before it starts, and lasts at least the
instrument's ``min_notice_days`` (calendar days, the first and the last both counted; the
seed names no length, so it is a policy parameter). Objections are taken only during it,
against a party in the plan, each under its own reference. A plan is paid only after the
period, with no objection open — and "after" holds in both times (trust model): the
command's business date *and* the ledger's clock (recorded time) must be past the last day of
the notice, so neither a back-dated nor a future-dated finalisation shortens the public notice.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime

from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context

Notice = tuple[date, date]


def notice_days(notice: Notice) -> int:
    """How long a notice runs, in calendar days: 2025-04-20 to 2025-04-26 is 7."""
    return (notice[1] - notice[0]).days + 1


def require_valid_period(
    ctx: Context, notice_from: date, notice_to: date, min_days: int, clause: str
) -> None:
    """CD-9, CD-10: a plan is published for public notice (公示) of at least ``min_days``."""
    today = local_date(ctx.at)
    if notice_to < notice_from or notice_from < today:
        raise Rejected(
            "invalid-notice-period",
            f"the notice period {notice_from}–{notice_to} must not start before {today} nor "
            "end before it starts",
        )
    days = notice_days((notice_from, notice_to))
    if days < min_days:
        raise Rejected(
            "notice-period-too-short",
            f"the notice period {notice_from}–{notice_to} is {days} day{'s' if days != 1 else ''}; "
            f"a plan is on public notice for at least {min_days} days ({clause})",
        )


def require_no_open_objection(open_objections: Mapping[str, str], clause: str) -> None:
    if open_objections:
        raise Rejected(
            "objection-open",
            f"objection {next(iter(open_objections))} is still open ({clause})",
        )


def require_objection_allowed(
    ctx: Context,
    notice: Notice | None,
    objection: str,
    known_objections: Collection[str],
    party: str,
    parties: Collection[str],
    clause: str,
) -> None:
    """During the notice period, a new objection against a party in the plan."""
    if notice is None:
        raise Rejected("no-plan-in-notice", "no plan is in notice")
    today = local_date(ctx.at)
    if not notice[0] <= today <= notice[1]:
        raise Rejected(
            "outside-notice-period",
            f"{today} is outside the notice period {notice[0]}–{notice[1]} ({clause})",
        )
    if objection in known_objections:
        raise Rejected("duplicate-reference", f"objection {objection} exists already")
    if party not in parties:
        raise Rejected("not-in-plan", f"{party} has no place in the published plan")


def require_finalisable(
    ctx: Context,
    now: datetime,
    notice: Notice | None,
    open_objections: Mapping[str, str],
    clause: str,
) -> None:
    """Paid only once the notice period has passed with no objection standing (CD-9, CD-10).

    "Passed" in business time (the command's ``at``) and in recorded time (``now``, the
    ledger's clock): a finalisation dated after the notice but entered while it still runs is
    refused, as is one entered after it but dated inside it."""
    if notice is None:
        raise Rejected(
            "no-plan-in-notice", "no current plan is published: publish the plan (again) first"
        )
    require_no_open_objection(open_objections, clause)
    if local_date(ctx.at) <= notice[1]:
        raise Rejected(
            "notice-period-running", f"the notice period runs until {notice[1]} ({clause})"
        )
    recorded = local_date(now)
    if recorded <= notice[1]:
        raise Rejected(
            "notice-period-running",
            f"the notice period runs until {notice[1]} and the ledger's clock says {recorded}: "
            f"a finalisation dated {local_date(ctx.at)} cannot be entered before the notice has "
            f"ended ({clause})",
        )
