"""Pro-rata claim subsidies as read models: each claim, each claim line, and each claimant's
shares by funding source (QD-1…QD-8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Integer, String, Table

from ledger.money import to_fen
from ledger.pro_rata import ClaimRound
from ledger.programme import Programme
from projections.read_model import EventDrivenReadModel, Handler
from projections.store import Page, metadata

claims = Table(
    "rm_claims",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("claimant", String(18), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("audit_report", String(200), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("excluded_lines", Integer, nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
    Column("eligible_fen", BigInteger, nullable=False),
    Column("excluded_fen", BigInteger, nullable=False),
    Column("pre_review", String(8), nullable=False),
    Column("city_review", String(8), nullable=False),
    Column("approved_fen", BigInteger, nullable=False),
    Column("entitlement_fen", BigInteger, nullable=False),
    Column("allocated_fen", BigInteger, nullable=False),
    Column("scale", String(12), nullable=False),
    Column("status", String(32), nullable=False),  # e.g. "pre-review failed"
)

claim_lines = Table(
    "rm_claim_lines",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("claimant", String(18), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("customer", String(18), nullable=False),
    Column("contract_number", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("service_from", String(10), nullable=False),
    Column("service_to", String(10), nullable=False),
    Column("excluded", String(200), nullable=False),
)

claim_shares = Table(
    "rm_claim_shares",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("claimant", String(18), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("payment_reference", String(40), nullable=False),
)

programmes_of_rounds = Table(
    "rm_claim_rounds",
    metadata,
    Column("round_id", String(32), primary_key=True),
    Column("programme", String(20), nullable=False),
    Column("instrument", String(32), nullable=False),
    Column("pool_fen", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),  # e.g. "pre-review failed"
)


funding_caps = Table(
    "rm_funding_caps",
    metadata,
    Column("programme", String(20), primary_key=True),
    Column("instrument", String(32), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("cap_fen", BigInteger, nullable=False),
)


def _programme_opened(page: Page, e: Programme.Opened) -> None:
    """Capped funding sources (the Qingdao city share: QD-3), for the budget report."""
    for name, table in e.parameters["instruments"].items():
        for share in table.get("funding_split", {}).get("value", []):
            if share.get("cap"):
                page.rows(funding_caps).put(
                    {
                        "programme": e.name,
                        "instrument": name,
                        "source": share["source"],
                        "cap_fen": to_fen(Decimal(share["cap"])),
                    }
                )


def _claim(page: Page, e: Any) -> dict[str, Any]:
    row = page.rows(claims).require(e.originator_id.hex, e.claimant)
    page.rows(claims).put(row)
    return row


def _opened(page: Page, e: ClaimRound.Opened) -> None:
    page.rows(programmes_of_rounds).put(
        {
            "round_id": e.originator_id.hex,
            "programme": e.programme,
            "instrument": e.instrument,
            "pool_fen": 0,
            "status": "open",
        }
    )


def _submitted(page: Page, e: ClaimRound.ClaimSubmitted) -> None:
    programme = page.rows(programmes_of_rounds).require(e.originator_id.hex)["programme"]
    page.rows(claims).put(
        {
            "round_id": e.originator_id.hex,
            "claimant": e.claimant,
            "programme": programme,
            "audit_report": e.audit_report[:200],
            "lines": len(e.lines),
            "excluded_lines": sum(1 for line in e.lines if line["excluded"]),
            "claimed_fen": to_fen(e.eligible_amount + e.excluded_amount),
            "eligible_fen": to_fen(e.eligible_amount),
            "excluded_fen": to_fen(e.excluded_amount),
            "pre_review": "",
            "city_review": "",
            "approved_fen": 0,
            "entitlement_fen": 0,
            "allocated_fen": 0,
            "scale": "",
            "status": "submitted",
        }
    )
    for n, line in enumerate(e.lines, start=1):
        page.rows(claim_lines).put(
            {
                "round_id": e.originator_id.hex,
                "claimant": e.claimant,
                "n": n,
                "customer": line["customer"],
                "contract_number": line["contract_number"][:64],
                "amount_fen": to_fen(line["amount"]),
                "service_from": line["service_from"].isoformat(),
                "service_to": line["service_to"].isoformat(),
                "excluded": line["excluded"][:200],
            }
        )


def _pre_reviewed(page: Page, e: ClaimRound.PreReviewed) -> None:
    outcome = "passed" if e.passed else "failed"
    _claim(page, e).update(pre_review=outcome, status=f"pre-review {outcome}")


def _city_reviewed(page: Page, e: ClaimRound.CityReviewed) -> None:
    outcome = "passed" if e.passed else "failed"
    _claim(page, e).update(
        city_review=outcome, approved_fen=to_fen(e.approved_eligible), status=f"city {outcome}"
    )


def _re_reviewed(page: Page, e: ClaimRound.ReReviewed) -> None:
    _claim(page, e).update(approved_fen=0, status=f"excluded: {e.ground}"[:32])


def _allocated(page: Page, e: ClaimRound.Allocated) -> None:
    round_ = page.rows(programmes_of_rounds).require(e.originator_id.hex)
    round_.update(pool_fen=to_fen(e.pool) if e.pool is not None else 0, status="allocated")
    page.rows(programmes_of_rounds).put(round_)
    for claimant, amount in e.allocations.items():
        row = page.rows(claims).require(e.originator_id.hex, claimant)
        row.update(
            entitlement_fen=to_fen(e.entitlements[claimant]),
            allocated_fen=to_fen(amount),
            scale=str(e.scale),
            status="allocated",
        )
        page.rows(claims).put(row)
        for source, share in e.shares[claimant].items():
            page.rows(claim_shares).put(
                {
                    "round_id": e.originator_id.hex,
                    "claimant": claimant,
                    "source": source,
                    "programme": round_["programme"],
                    "amount_fen": to_fen(share),
                    "payment_reference": e.payments.get(claimant, {}).get(source, ""),
                }
            )


class Claims(EventDrivenReadModel):
    name = "claims"
    tables = (programmes_of_rounds, claims, claim_lines, claim_shares, funding_caps)
    handlers: ClassVar[dict[type, Handler]] = {
        Programme.Opened: _programme_opened,
        ClaimRound.Opened: _opened,
        ClaimRound.ClaimSubmitted: _submitted,
        ClaimRound.PreReviewed: _pre_reviewed,
        ClaimRound.CityReviewed: _city_reviewed,
        ClaimRound.ReReviewed: _re_reviewed,
        ClaimRound.Allocated: _allocated,
    }
