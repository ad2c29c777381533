"""Pro-rata claim subsidies: the Qingdao compute-centre operation subsidy (QD-1…QD-8), and any
programme built from the same block (a share of audited service contracts, reviewed, shared pro
rata when the pool is short, paid in a funding split).

Claim lines are kept whole: each is eligible or excluded **with its reason** — outside the
service window (QD-5), a customer outside the area (QD-2), funded elsewhere or claimed twice
(QD-8) — never silently dropped. ``ContractLine`` is the registry that makes "claimed twice
across operators or programmes" race-proof: its id is the customer and contract number.

Money is split with the **largest-remainder** method: amounts are floored to the fen and the
fen left over go, one each, to the largest fractional parts (ties by claimant code), so shares
always add up to the total exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import UUID

from ledger.aggregate import LedgerAggregate, Value
from ledger.clock import local_date
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import FEN, ZERO, share_of
from ledger.policy import FundingShare, Instrument, Policy


@dataclass(frozen=True)
class ClaimLine(Value):
    customer: str
    customer_in_area: bool
    contract_number: str
    amount: Decimal
    service_from: date
    service_to: date
    invoice: str
    bank_receipt: str
    funded_elsewhere: bool = False


def largest_remainder(weights: Mapping[str, Decimal], total: Decimal) -> dict[str, Decimal]:
    """Split ``total`` in proportion to ``weights``, to the fen, adding up exactly."""
    weight = sum(weights.values(), start=ZERO)
    if weight == 0 or total == 0:
        return dict.fromkeys(weights, ZERO)
    exact = {k: total * w / weight for k, w in weights.items()}
    floors = {k: v.quantize(FEN, rounding=ROUND_DOWN) for k, v in exact.items()}
    left = int((total - sum(floors.values(), start=ZERO)) / FEN)
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    for k in by_remainder[:left]:
        floors[k] += FEN
    return floors


def pool_of(instrument: Instrument) -> Decimal | None:
    """The year's pool: the explicit cap, and what capped funding sources allow (QD-3)."""
    split: list[FundingShare] = instrument.value("funding_split")
    total_shares = sum(s.share for s in split)
    limits = [s.cap * total_shares / s.share for s in split if s.cap is not None]
    if "pool_cap" in instrument.params:
        limits.append(instrument.value("pool_cap"))
    return min(limits).quantize(FEN, rounding=ROUND_DOWN) if limits else None


def allocate(
    entitlements: Mapping[str, Decimal], pool: Decimal | None
) -> tuple[dict[str, Decimal], Decimal]:
    """QD-4: when entitlements exceed the pool, every claimant is scaled in proportion."""
    total = sum(entitlements.values(), start=ZERO)
    if pool is None or total <= pool:
        return dict(entitlements), Decimal(1)
    return largest_remainder(entitlements, pool), pool / total


def split_funding(
    allocations: Mapping[str, Decimal], split: Sequence[FundingShare]
) -> dict[str, dict[str, Decimal]]:
    """QD-3: each source's part of the total, shared among claimants by largest remainder;
    the last source takes what is left of each claimant's amount (so each adds up)."""
    total = sum(allocations.values(), start=ZERO)
    total_shares = sum(s.share for s in split)
    shares: dict[str, dict[str, Decimal]] = {k: {} for k in allocations}
    left = dict(allocations)
    for source in split[:-1]:
        part = (total * source.share / total_shares).quantize(FEN, rounding=ROUND_DOWN)
        for claimant, amount in largest_remainder(allocations, part).items():
            shares[claimant][source.source] = amount
            left[claimant] -= amount
    for claimant, amount in left.items():
        shares[claimant][split[-1].source] = amount
    return shares


class ContractLine(LedgerAggregate):
    """A customer's service contract, claimed once across operators and programmes (QD-8)."""

    class Claimed(LedgerCreated):
        customer: str
        contract_number: str
        programme: str
        claimant: str

    def __init__(self, customer: str, contract_number: str, programme: str, claimant: str) -> None:
        self.programme = programme
        self.claimant = claimant

    @property
    def earlier_claim(self) -> EarlierClaim:
        return EarlierClaim(self.claimant, self.programme)

    @staticmethod
    def id_for(customer: str, contract_number: str) -> UUID:
        return stable_id("contract-line", customer, contract_number.strip().upper())

    @classmethod
    def claim(
        cls, ctx: Context, customer: str, contract_number: str, programme: str, claimant: str
    ) -> ContractLine:
        return cls._create(
            cls.Claimed,
            id=cls.id_for(customer, contract_number),
            customer=customer,
            contract_number=contract_number,
            programme=programme,
            claimant=claimant,
            **ctx.fields(),
        )


@dataclass(frozen=True)
class EarlierClaim:
    """Who claimed a customer's contract before, under which programme (QD-8)."""

    claimant: str
    programme: str


def decide_claim_lines(
    policy: Policy,
    instrument: Instrument,
    lines: Sequence[ClaimLine],
    earlier: Mapping[UUID, EarlierClaim],
) -> list[tuple[ClaimLine, str]]:
    """Each claim line, eligible (``""``) or excluded with its reason, never dropped:

    * a customer outside the area — QD-2 (services to Qingdao enterprises, institutes,
      platforms; the policy's ``applicants.cities``);
    * service not wholly inside the evidence window — QD-5 (``service_window_from`` …
      ``service_window_to``);
    * declared funded elsewhere, listed twice in this claim, or claimed before by anyone
      under any programme (``earlier``, by :meth:`ContractLine.id_for`) — QD-8, the
      duplicate-funding check (the last two only when ``duplicate_funding_check`` is on).

    The first reason in that order wins; a line counts as seen for "listed twice" whether
    or not it was itself eligible."""
    window = (instrument.value("service_window_from"), instrument.value("service_window_to"))
    check_duplicates = bool(instrument.value("duplicate_funding_check"))
    duplicate_clause = instrument.clause("duplicate_funding_check")
    seen: set[UUID] = set()
    decided: list[tuple[ClaimLine, str]] = []
    for line in lines:
        key = ContractLine.id_for(line.customer, line.contract_number)
        why = ""
        if not line.customer_in_area:
            why = (
                f"customer not in {', '.join(policy.value('applicants.cities'))} "
                f"({policy.clause('applicants.cities')})"
            )
        elif not (window[0] <= line.service_from <= line.service_to <= window[1]):
            why = (
                f"service {line.service_from}–{line.service_to} outside "
                f"{window[0]}–{window[1]} ({instrument.clause('service_window_from')})"
            )
        elif line.funded_elsewhere:
            why = f"declared funded elsewhere ({duplicate_clause})"
        elif check_duplicates and key in seen:
            why = f"listed twice in this claim ({duplicate_clause})"
        elif check_duplicates and key in earlier:
            claimed = earlier[key]
            why = f"claimed by {claimed.claimant} in {claimed.programme} ({duplicate_clause})"
        seen.add(key)
        decided.append((line, why))
    return decided


@dataclass
class Claim:
    claimant: str
    eligible: Decimal
    pre_review: bool | None = None
    approved: Decimal | None = None  # set by a passed city review


class ClaimRound(LedgerAggregate):
    class Opened(LedgerCreated):
        programme: str
        instrument: str

    class ClaimSubmitted(LedgerEvent):
        claimant: str
        audit_report: str
        lines: list[dict[str, Any]]
        eligible_amount: Decimal
        excluded_amount: Decimal
        basis: dict[str, Any]

        def apply(self, aggregate: ClaimRound) -> None:
            aggregate.claims[self.claimant] = Claim(self.claimant, self.eligible_amount)

    class PreReviewed(LedgerEvent):
        """District pre-review: credit, blacklists, green threshold (QD-6, QD-7)."""

        claimant: str
        passed: bool
        green_threshold_met: bool
        reason: str
        basis: dict[str, Any]

        def apply(self, aggregate: ClaimRound) -> None:
            aggregate.claims[self.claimant].pre_review = self.passed

    class CityReviewed(LedgerEvent):
        """City completeness check, re-review and expert assessment fix the amount (QD-6)."""

        claimant: str
        passed: bool
        approved_eligible: Decimal
        assessment: str
        reason: str

        def apply(self, aggregate: ClaimRound) -> None:
            aggregate.claims[self.claimant].approved = (
                self.approved_eligible if self.passed else ZERO
            )

    class Allocated(LedgerEvent):
        pool: Decimal | None
        entitlements: dict[str, Decimal]
        scale: Decimal
        allocations: dict[str, Decimal]
        shares: dict[str, dict[str, Decimal]]
        payments: dict[str, dict[str, str]]
        basis: dict[str, Any]

        def apply(self, aggregate: ClaimRound) -> None:
            aggregate.allocated = True

    def __init__(self, programme: str, instrument: str) -> None:
        self.programme = programme
        self.instrument = instrument
        self.claims: dict[str, Claim] = {}
        self.allocated = False

    @staticmethod
    def id_for(programme: str, instrument: str) -> UUID:
        return stable_id("claim-round", programme, instrument)

    @classmethod
    def open(cls, ctx: Context, programme: str, instrument: str) -> ClaimRound:
        return cls._create(
            cls.Opened,
            id=cls.id_for(programme, instrument),
            programme=programme,
            instrument=instrument,
            **ctx.fields(),
        )

    def _require_open(self) -> None:
        if self.allocated:
            raise Rejected("round-finalised", f"{self.programme}'s claims are allocated")

    def _claim(self, claimant: str) -> Claim:
        if claimant not in self.claims:
            raise Rejected("unknown-claim", f"{claimant} has no claim in {self.programme}")
        return self.claims[claimant]

    def submit(
        self,
        ctx: Context,
        instrument: Instrument,
        claimant: str,
        audit_report: str,
        decided: list[tuple[ClaimLine, str]],
    ) -> None:
        """``decided``: each line with its exclusion reason, or "" when it is eligible."""
        self._require_open()
        today = local_date(ctx.at)
        opens, closes = (
            instrument.value("application_window_from"),
            instrument.value("application_window_to"),
        )
        if not opens <= today <= closes:
            raise Rejected(
                "outside-application-window",
                f"claims are taken {opens} to {closes}, not {today} "
                f"({instrument.clause('application_window_from')})",
            )
        if claimant in self.claims:
            raise Rejected("already-applied", f"{claimant} has a claim in {self.programme}")
        if not audit_report.strip():
            raise Rejected("missing-evidence", "the third-party audit report is required (QD-5)")
        eligible = sum((line.amount for line, why in decided if not why), start=ZERO)
        self.trigger_event(
            self.ClaimSubmitted,
            claimant=claimant,
            audit_report=audit_report,
            lines=[{**vars(line), "excluded": why} for line, why in decided],
            eligible_amount=eligible,
            excluded_amount=sum((line.amount for line, why in decided if why), start=ZERO),
            basis=instrument.basis(
                "service_window_from",
                "service_window_to",
                "claim_evidence",
                "duplicate_funding_check",
            ),
            **ctx.fields(),
        )

    def pre_review(
        self,
        ctx: Context,
        instrument: Instrument,
        claimant: str,
        passed: bool,
        green_threshold_met: bool,
        reason: str,
    ) -> None:
        self._require_open()
        claim = self._claim(claimant)
        if claim.pre_review is not None:
            raise Rejected("already-reviewed", f"{claimant}'s claim is pre-reviewed already")
        if passed and instrument.value("green_threshold_required") and not green_threshold_met:
            raise Rejected(
                "green-threshold-not-met",
                f"{claimant} fails the green threshold and cannot pass "
                f"({instrument.clause('green_threshold_required')})",
            )
        self.trigger_event(
            self.PreReviewed,
            claimant=claimant,
            passed=passed,
            green_threshold_met=green_threshold_met,
            reason=reason,
            basis=instrument.basis("green_threshold_required"),
            **ctx.fields(),
        )

    def city_review(
        self,
        ctx: Context,
        claimant: str,
        passed: bool,
        approved: Decimal | None,
        assessment: str,
        reason: str,
    ) -> None:
        self._require_open()
        claim = self._claim(claimant)
        if not claim.pre_review:
            raise Rejected("not-pre-reviewed", f"{claimant}'s claim has not passed pre-review")
        if claim.approved is not None:
            raise Rejected("already-reviewed", f"{claimant}'s claim is reviewed already")
        amount = claim.eligible if approved is None else approved
        if amount > claim.eligible:
            raise Rejected(
                "exceeds-eligible",
                f"{amount} approved is more than the {claim.eligible} eligible in the claim",
            )
        self.trigger_event(
            self.CityReviewed,
            claimant=claimant,
            passed=passed,
            approved_eligible=amount if passed else ZERO,
            assessment=assessment,
            reason=reason,
            **ctx.fields(),
        )

    def entitlements(self, instrument: Instrument) -> dict[str, Decimal]:
        """QD-2: ``rate`` of each approved eligible amount, capped per claimant if the
        programme says so."""
        rate: Decimal = instrument.value("rate")
        cap: Decimal | None = (
            instrument.value("per_claimant_cap")
            if "per_claimant_cap" in instrument.params
            else None
        )
        out = {}
        for claimant, claim in sorted(self.claims.items()):
            if claim.approved:
                amount = share_of(claim.approved, rate)
                out[claimant] = min(amount, cap) if cap is not None else amount
        return out

    def require_allocatable(self) -> None:
        self._require_open()
        pending = [
            c
            for c, claim in self.claims.items()
            if claim.pre_review is None or (claim.pre_review and claim.approved is None)
        ]
        if pending:
            raise Rejected("review-incomplete", f"{pending[0]}'s claim is still under review")
        if not any(claim.approved for claim in self.claims.values()):
            raise Rejected("no-applications", f"{self.programme} has no approved claims")

    def allocate(
        self,
        ctx: Context,
        instrument: Instrument,
        entitlements: dict[str, Decimal],
        pool: Decimal | None,
        allocations: dict[str, Decimal],
        scale: Decimal,
        shares: dict[str, dict[str, Decimal]],
        payments: dict[str, dict[str, str]],
    ) -> None:
        keys = ["rate", "funding_split", "allocation"] + [
            k for k in ("per_claimant_cap", "pool_cap") if k in instrument.params
        ]
        self.trigger_event(
            self.Allocated,
            pool=pool,
            entitlements=entitlements,
            scale=scale.quantize(Decimal("0.000001")),
            allocations=allocations,
            shares=shares,
            payments=payments,
            basis=instrument.basis(*keys),
            **ctx.fields(),
        )
