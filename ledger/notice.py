"""Public notice (公示): the rules a published plan follows before it is paid, shared by every
round that publishes one (the special round, CD-9; supplier subsidy rounds, CD-10).

A notice period may not start in the past nor end before it starts; objections are taken only
during it, against a party in the plan, each under its own reference; a plan is paid only
after the period, with no objection open.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context

Notice = tuple[date, date]


def require_valid_period(ctx: Context, notice_from: date, notice_to: date) -> None:
    today = local_date(ctx.at)
    if notice_to < notice_from or notice_from < today:
        raise Rejected(
            "invalid-notice-period",
            f"the notice period {notice_from}–{notice_to} must not start before {today} nor "
            "end before it starts",
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
    ctx: Context, notice: Notice | None, open_objections: Mapping[str, str], clause: str
) -> None:
    """Paid only once the notice period has passed with no objection standing."""
    if notice is None:
        raise Rejected(
            "no-plan-in-notice", "no current plan is published: publish the plan (again) first"
        )
    require_no_open_objection(open_objections, clause)
    if local_date(ctx.at) <= notice[1]:
        raise Rejected(
            "notice-period-running", f"the notice period runs until {notice[1]} ({clause})"
        )
