"""The special-voucher round as a read model: one row per application, one per round."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ledger.money import to_fen
from ledger.special import SpecialRound
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

special_rounds = Table(
    "rm_special_rounds",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("applications", Integer, nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("notice_from", String(10), nullable=False),
    Column("notice_to", String(10), nullable=False),
    Column("unused_places", String(80), nullable=False),
    Column("status", String(16), nullable=False),
)

special_applications = Table(
    "rm_special_applications",
    metadata,
    Column("programme", String(20), primary_key=True),
    Column("applicant", String(18), primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("submitted_at", String(40), nullable=False),
    Column("spend_fen", BigInteger, nullable=False),
    Column("bracket", Integer, nullable=False),
    Column("rank", Integer, nullable=False),  # 0 until ranked
    Column("review", String(8), nullable=False),
    Column("review_reason", String(200), nullable=False),
    Column("tier", Integer, nullable=False),  # -1 without a place
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("voucher", String(40), nullable=False),
)


def _round(page: Page, e: Any) -> dict[str, Any]:
    return page.rows(special_rounds).require(e.originator_id.hex)


def _application(page: Page, e: Any, applicant: str) -> dict[str, Any]:
    key = (_round(page, e)["programme"], applicant)
    row = page.rows(special_applications).require(*key)
    page.rows(special_applications).put(row)  # every caller changes it
    return row


def _opened(page: Page, e: SpecialRound.Opened) -> None:
    page.rows(special_rounds).put(
        {
            "round_id": e.originator_id.hex,
            "programme": e.programme,
            "applications": 0,
            "plan_version": 0,
            "notice_from": "",
            "notice_to": "",
            "unused_places": "",
            "status": "open",
        }
    )


def _received(page: Page, e: SpecialRound.ApplicationReceived) -> None:
    round_ = page.rows(special_rounds).change((e.originator_id.hex,), applications=1)
    page.rows(special_applications).put(
        {
            "programme": round_["programme"],
            "applicant": e.applicant,
            "sequence": e.sequence,
            "submitted_at": e.at.isoformat(),
            "spend_fen": to_fen(e.spend),
            "bracket": e.bracket,
            "rank": 0,
            "review": "",
            "review_reason": "",
            "tier": -1,
            "amount_fen": 0,
            "status": "applied",
            "voucher": "",
        }
    )


def _ranked(page: Page, e: SpecialRound.Ranked) -> None:
    _round(page, e)["status"] = "ranked"
    page.rows(special_rounds).put(_round(page, e))
    in_review = set(e.review_set)
    for position, applicant in enumerate(e.ranking, start=1):
        row = _application(page, e, applicant)
        row.update(rank=position, status="in-review" if applicant in in_review else "waiting")


def _reviewed(page: Page, e: SpecialRound.Reviewed) -> None:
    row = _application(page, e, e.applicant)
    outcome = "passed" if e.passed else "failed"
    row.update(review=outcome, review_reason=e.reason[:200], status=outcome)


def _drawn(page: Page, e: SpecialRound.ReplacementDrawn) -> None:
    _application(page, e, e.applicant)["status"] = "in-review"


def _published(page: Page, e: SpecialRound.PlanPublished) -> None:
    round_ = _round(page, e)
    round_.update(
        plan_version=e.version,
        notice_from=e.notice_from.isoformat(),
        notice_to=e.notice_to.isoformat(),
        unused_places="/".join(str(n) for n in e.unused_places),
        status="in-notice",
    )
    page.rows(special_rounds).put(round_)
    for a in e.allocations:
        _application(page, e, a["applicant"]).update(
            tier=a["tier"], amount_fen=to_fen(a["amount"]), status="planned"
        )
    for applicant in e.unplaced:
        _application(page, e, applicant).update(tier=-1, amount_fen=0, status="no-place")


def _resolved(page: Page, e: SpecialRound.ObjectionResolved) -> None:
    if e.upheld:
        _application(page, e, e.applicant).update(tier=-1, amount_fen=0, status="removed")
        round_ = _round(page, e)
        round_["status"] = "replanning"
        page.rows(special_rounds).put(round_)


def _finalised(page: Page, e: SpecialRound.Finalised) -> None:
    round_ = _round(page, e)
    round_["status"] = "final"
    page.rows(special_rounds).put(round_)
    for applicant, number in e.vouchers.items():
        _application(page, e, applicant).update(status="paid", voucher=number)


class SpecialRounds(EventDrivenReadModel):
    name = "special-rounds"
    tables = (special_rounds, special_applications)
    handlers: ClassVar[dict[type, Handler]] = {
        SpecialRound.Opened: _opened,
        SpecialRound.ApplicationReceived: _received,
        SpecialRound.Ranked: _ranked,
        SpecialRound.Reviewed: _reviewed,
        SpecialRound.ReplacementDrawn: _drawn,
        SpecialRound.PlanPublished: _published,
        SpecialRound.ObjectionResolved: _resolved,
        SpecialRound.Finalised: _finalised,
    }
