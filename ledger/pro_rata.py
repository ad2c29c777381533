"""Pro-rata claim subsidies: the Qingdao compute-centre operation subsidy (QD-1…QD-8), and any
programme built from the same block (a share of audited service contracts, reviewed, shared pro
rata when the pool is short, paid in a funding split).

Claim lines are kept whole: each counts, wholly or in part, or is excluded **with its reason**
— a customer that is not a Qingdao enterprise, research institute or innovation platform
(QD-2), no part inside the evidence window (QD-5; the part inside counts), funded elsewhere or
claimed twice (QD-8) — never silently dropped. ``ContractLine`` is the registry that makes
"claimed twice across operators or programmes" race-proof: its id is the customer and contract
number.

The pool is shared in proportion to the approved **contract amounts** (QD-4), each funding
source on its own, with the **largest-remainder** method: amounts are floored to the fen and
the fen left over go, one each, to the largest fractional parts (ties by claimant code), so
shares always add up to the total exactly; sources with equal shares pay equal halves
(:func:`allocate_by_contract`). A claimant blacklisted after the city review is excluded by a
recorded re-review (QD-7), and the others share the pool.
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
from ledger.money import FEN, ZERO
from ledger.policy import FundingShare, Instrument, Policy


@dataclass(frozen=True)
class InvoicePart(Value):
    """One invoice of a contract line: number, date of issue, amount."""

    number: str
    issued_on: date
    amount: Decimal


@dataclass(frozen=True)
class ClaimLine(Value):
    """A line of the audit report's detail list. ``customer_in_area`` is the operator's
    declaration, used only where the customer's credit code names no city (QD-2)."""

    customer: str
    customer_in_area: bool | None
    contract_number: str
    amount: Decimal
    service_from: date
    service_to: date
    invoice: str
    bank_receipt: str
    funded_elsewhere: bool = False
    customer_kind: str | None = None
    tax: Decimal | None = None
    invoices: tuple[InvoicePart, ...] = ()

    def record(self) -> dict[str, Any]:
        """The line as the event stores it (plain values)."""
        out = {k: v for k, v in vars(self).items() if k != "invoices"}
        out["invoices"] = [
            {"number": i.number, "issued_on": i.issued_on, "amount": i.amount}
            for i in self.invoices
        ]
        return out


@dataclass(frozen=True)
class DecidedLine:
    """A claim line decided: ``excluded`` is "" when the line counts; ``counted`` is the part of
    its amount that counts (all of it, a part inside the service window, or nothing);
    ``notes`` say how its place, kind and counted part were read."""

    line: ClaimLine
    excluded: str
    counted: Decimal
    notes: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return {
            **self.line.record(),
            "excluded": self.excluded,
            "counted": self.counted,
            "notes": list(self.notes),
        }


def largest_remainder(
    weights: Mapping[str, Decimal],
    total: Decimal,
    bounds: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """Split ``total`` in proportion to ``weights``, to the fen, adding up exactly: each share
    is floored to the fen and the fen left over go, one each, to the largest fractional parts
    (ties by key). With ``bounds``, no share is raised above its bound (a fen goes to the next
    in line instead); the bounds must add up to at least ``total``."""
    weight = sum(weights.values(), start=ZERO)
    if weight == 0 or total == 0:
        return dict.fromkeys(weights, ZERO)
    exact = {k: total * w / weight for k, w in weights.items()}
    floors = {k: v.quantize(FEN, rounding=ROUND_DOWN) for k, v in exact.items()}
    if bounds is not None:
        floors = {k: min(v, bounds[k]) for k, v in floors.items()}
    left = int((total - sum(floors.values(), start=ZERO)) / FEN)
    by_remainder = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    while left > 0:
        room = [k for k in by_remainder if bounds is None or floors[k] < bounds[k]]
        if not room:
            raise ValueError(f"bounds add up to less than {total}")
        for k in room[:left]:
            floors[k] += FEN
            left -= 1
    return floors


def pool_of(instrument: Instrument) -> Decimal | None:
    """The year's pool: the explicit cap, and what capped funding sources allow (QD-3)."""
    split: list[FundingShare] = instrument.value("funding_split")
    total_shares = sum(s.share for s in split)
    limits = [s.cap * total_shares / s.share for s in split if s.cap is not None]
    if "pool_cap" in instrument.params:
        limits.append(instrument.value("pool_cap"))
    return min(limits).quantize(FEN, rounding=ROUND_DOWN) if limits else None


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocate_by_contract` decides, per claimant: the contract amount it is
    weighted by, its entitlement (at most ``rate`` of that), and each funding source's share."""

    contract_amounts: dict[str, Decimal]
    entitlements: dict[str, Decimal]
    shares: dict[str, dict[str, Decimal]]
    scale: Decimal

    @property
    def allocations(self) -> dict[str, Decimal]:
        return {k: sum(s.values(), start=ZERO) for k, s in self.shares.items()}


def allocate_by_contract(
    approved: Mapping[str, Decimal],
    rate: Decimal,
    split: Sequence[FundingShare],
    pool: Decimal | None,
    per_claimant_cap: Decimal | None = None,
) -> Allocation:
    """QD-2, QD-3, QD-4 — 「按其提供的算力服务合同金额给予不超过50%的补助」,
    「市、区两级按照1:1比例负担」,
    「按照算力服务合同金额比例予以分配补助」.

    Each funding source pays its part (share ÷ all shares) of every claimant's subsidy, and
    works alone: a claimant's entitlement from a source is its part of ``rate`` × the approved
    contract amount, floored to the fen (so never more than the rate); when the source's part
    of the pool is short of the sum of those entitlements, the source's part is shared in
    proportion to the **approved contract amounts themselves** (not to entitlements already
    rounded), by largest remainder, no claimant above its entitlement. Sources with equal
    shares so pay every claimant exactly the same amount: city and district halves are equal,
    to the fen, per claimant and in total. ``per_claimant_cap`` caps a claimant's subsidy: it
    shares by the capped subsidy instead."""
    contracts = {k: a for k, a in sorted(approved.items()) if a > 0}
    # The exact subsidy each claim earns (rate × contract amount, capped): proportional to the
    # contract amounts, and the weight each source shares by. Nothing is rounded before sharing.
    weights = {
        k: (min(a * rate, per_claimant_cap) if per_claimant_cap is not None else a * rate)
        for k, a in contracts.items()
    }
    total_shares = sum(s.share for s in split)
    shares: dict[str, dict[str, Decimal]] = {k: {} for k in weights}
    entitlements = dict.fromkeys(weights, ZERO)
    short = False
    for source in split:
        owed = {
            k: (w * source.share / total_shares).quantize(FEN, rounding=ROUND_DOWN)
            for k, w in weights.items()
        }
        budget = (
            None if pool is None else (pool * source.share / total_shares).quantize(FEN, ROUND_DOWN)
        )
        if budget is not None and sum(owed.values(), start=ZERO) > budget:
            short = True
            paid = largest_remainder(weights, budget, bounds=owed)
        else:
            paid = owed
        for k in weights:
            shares[k][source.source] = paid[k]
            entitlements[k] += owed[k]
    exact = sum(weights.values(), start=ZERO)
    scale = pool / exact if short and pool is not None else Decimal(1)
    return Allocation(contracts, entitlements, shares, scale)


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


def customer_division(credit_code: str) -> str | None:
    """The administrative division code (GB/T 2260) in characters 3–8 of a unified social
    credit code (GB 32100), when it names a city: a code issued at province or national level
    (``370000``, ``100000``) — or anything but six digits — names none."""
    division = credit_code[2:8]
    if len(division) != 6 or not division.isascii() or not division.isdigit():
        return None
    return None if division[2:4] == "00" else division


# The registration category (characters 1–2 of a credit code) that alone says "enterprise":
# 9 = registered by market regulation, 1 = an enterprise (个体工商户 are 92, cooperatives 93).
ENTERPRISE_CATEGORY = "91"


def _customer_place(
    policy: Policy, instrument: Instrument, line: ClaimLine
) -> tuple[str, tuple[str, ...]]:
    """QD-2 「为青岛市企业、科研机构、创新平台提供…服务」: (exclusion reason or "", notes). The
    place is
    read from the credit code's division code where it names a city, the declaration otherwise;
    the kind is declared, or read from the code when it is an enterprise's."""
    cities = ", ".join(policy.value("applicants.cities"))
    clause = policy.clause("applicants.cities")
    notes: list[str] = []
    prefixes: list[str] = (
        instrument.value("customer_division_prefixes")
        if "customer_division_prefixes" in instrument.params
        else []
    )
    division = customer_division(line.customer) if prefixes else None
    if division is not None:
        in_area = division.startswith(tuple(prefixes))
        notes.append(f"place from credit code: division {division}")
        if line.customer_in_area is not None and line.customer_in_area != in_area:
            notes.append(
                f"declared {'in' if line.customer_in_area else 'not in'} {cities}; "
                "the credit code decides"
            )
        if not in_area:
            return f"customer not in {cities}: credit code division {division} ({clause})", ()
    elif line.customer_in_area is None:
        return (
            f"customer's place not in its credit code and not declared ({clause})",
            (),
        )
    elif not line.customer_in_area:
        return f"customer not in {cities} ({clause})", ()
    else:
        notes.append("place declared")
    kinds: list[str] = policy.value("applicants.kinds")
    kinds_clause = policy.clause("applicants.kinds")
    kind = line.customer_kind
    if kind is None and line.customer.startswith(ENTERPRISE_CATEGORY):
        kind = "enterprise"
        notes.append("kind from credit code: enterprise")
    if kind is None:
        return (
            f"customer kind not declared, and credit code category {line.customer[:2]} is not "
            f"an enterprise's ({kinds_clause})",
            (),
        )
    if kind not in kinds:
        return f"customer kind {kind} is not one of {', '.join(kinds)} ({kinds_clause})", ()
    return "", tuple(notes)


def _taxable_base(instrument: Instrument, line: ClaimLine) -> tuple[Decimal | None, str]:
    """QD-2 names 「算力服务合同金额」 and says nothing of tax: the amount that counts, per
    ``contract_amount_tax`` — as the contract states it, or less the line's stated tax."""
    treatment = instrument.value("contract_amount_tax")
    clause = instrument.clause("contract_amount_tax")
    if treatment == "as-contracted":
        return line.amount, ""
    if line.tax is None:
        return None, f"no tax stated; contract amounts count tax excluded ({clause})"
    if line.tax > line.amount:
        return None, f"tax {line.tax} is more than the amount {line.amount} ({clause})"
    return line.amount - line.tax, ""


def _inside_window(
    instrument: Instrument, line: ClaimLine, base: Decimal
) -> tuple[Decimal, str, str]:
    """QD-5 「相关证明材料时间限定为2023年2月22日至12月31日期间内」: (counted, exclusion, note). The
    part
    of the line inside the window counts — by service days or by invoice dates, per
    ``service_window_basis``."""
    first, last = instrument.value("service_window_from"), instrument.value("service_window_to")
    clause = instrument.clause("service_window_from")
    window = f"{first}–{last}"
    if instrument.value("service_window_basis") == "invoice-dates":
        if not line.invoices:
            return ZERO, f"no dated invoices to place in {window} ({clause})", ""
        invoiced = sum((i.amount for i in line.invoices), start=ZERO)
        inside = sum((i.amount for i in line.invoices if first <= i.issued_on <= last), ZERO)
        if inside == 0:
            return ZERO, f"invoices dated outside {window} ({clause})", ""
        # Only what is invoiced inside the window counts; over-invoicing counts no more.
        counted = (base * inside / max(invoiced, line.amount)).quantize(FEN, ROUND_DOWN)
        if counted == base:
            return base, "", ""
        return counted, "", f"invoiced {inside} of {line.amount} inside {window} ({clause})"
    if line.service_to < line.service_from:
        return ZERO, f"service ends {line.service_to} before it starts ({clause})", ""
    days = (line.service_to - line.service_from).days + 1
    inside_days = (min(line.service_to, last) - max(line.service_from, first)).days + 1
    if inside_days <= 0:
        return (
            ZERO,
            f"service {line.service_from}–{line.service_to} outside {window} ({clause})",
            "",
        )
    if inside_days == days:
        return base, "", ""
    counted = (base * inside_days / days).quantize(FEN, rounding=ROUND_DOWN)
    return counted, "", f"{inside_days} of {days} service days inside {window} ({clause})"


def decide_claim_lines(
    policy: Policy,
    instrument: Instrument,
    lines: Sequence[ClaimLine],
    earlier: Mapping[UUID, EarlierClaim],
) -> list[DecidedLine]:
    """Each claim line, counted (wholly or in part) or excluded with its reason, never dropped:

    * the customer — QD-2, services to 「青岛市企业、科研机构、创新平台」: its place from its credit
      code's division code (``customer_division_prefixes``) where the code names a city,
      declared otherwise; its kind declared, or an enterprise by its code (``applicants.kinds``);
    * tax — QD-2 is silent: ``contract_amount_tax`` says whether a line's stated tax is taken off;
    * the evidence window — QD-5: only the part inside ``service_window_from`` …
      ``service_window_to`` counts, by ``service_window_basis``; a line with no part inside is
      excluded;
    * declared funded elsewhere, listed twice in this claim, or claimed before by anyone
      under any programme (``earlier``, by :meth:`ContractLine.id_for`) — QD-8, the
      duplicate-funding check (the last two only when ``duplicate_funding_check`` is on).

    The first reason in that order wins; a line counts as seen for "listed twice" whether
    or not it was itself eligible."""
    check_duplicates = bool(instrument.value("duplicate_funding_check"))
    duplicate_clause = instrument.clause("duplicate_funding_check")
    seen: set[UUID] = set()
    decided: list[DecidedLine] = []
    for line in lines:
        key = ContractLine.id_for(line.customer, line.contract_number)
        why, notes = _customer_place(policy, instrument, line)
        counted = ZERO
        if not why:
            base, why = _taxable_base(instrument, line)
            if base is not None:
                counted, why, note = _inside_window(instrument, line, base)
                notes += (note,) if note else ()
        if why:
            pass
        elif line.funded_elsewhere:
            why = f"declared funded elsewhere ({duplicate_clause})"
        elif check_duplicates and key in seen:
            why = f"listed twice in this claim ({duplicate_clause})"
        elif check_duplicates and key in earlier:
            claimed = earlier[key]
            why = f"claimed by {claimed.claimant} in {claimed.programme} ({duplicate_clause})"
        seen.add(key)
        decided.append(
            DecidedLine(line, why, ZERO if why else counted, () if why else tuple(notes))
        )
    return decided


@dataclass
class Claim:
    claimant: str
    eligible: Decimal
    pre_review: bool | None = None
    approved: Decimal | None = None  # set by a passed city review
    excluded: str = ""  # a city re-review's exclusion (QD-7), with its grounds


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

    class ReReviewed(LedgerEvent):
        """The city's re-review after its review: an operator found on a blacklist, or in
        breach of the green threshold, is excluded — 「取消政策性资金扶持」 (QD-7) — and the pool
        goes to the others. ``listing`` is the credit record it rests on, if any."""

        claimant: str
        ground: str
        listing: str
        assessment: str
        reason: str
        basis: dict[str, Any]

        def apply(self, aggregate: ClaimRound) -> None:
            claim = aggregate.claims[self.claimant]
            claim.approved = ZERO
            claim.excluded = self.ground

    class Allocated(LedgerEvent):
        pool: Decimal | None
        entitlements: dict[str, Decimal]
        scale: Decimal
        allocations: dict[str, Decimal]
        shares: dict[str, dict[str, Decimal]]
        payments: dict[str, dict[str, str]]
        basis: dict[str, Any]
        # Version 2 records the approved contract amounts the pool was shared by (QD-4);
        # version 1 shared it by the rounded entitlements and did not record them.
        contract_amounts: dict[str, Decimal]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["contract_amounts"] = {}

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
        decided: list[DecidedLine],
    ) -> None:
        """``decided``: each line with its exclusion reason and the part of it that counts."""
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
        eligible = sum((d.counted for d in decided), start=ZERO)
        claimed = sum((d.line.amount for d in decided), start=ZERO)
        self.trigger_event(
            self.ClaimSubmitted,
            claimant=claimant,
            audit_report=audit_report,
            lines=[d.record() for d in decided],
            eligible_amount=eligible,
            excluded_amount=claimed - eligible,  # excluded lines and parts outside the window
            basis=instrument.basis(
                "service_window_from",
                "service_window_to",
                "service_window_basis",
                "contract_amount_tax",
                "claim_evidence",
                "duplicate_funding_check",
                *[k for k in ("customer_division_prefixes",) if k in instrument.params],
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

    def re_review(
        self,
        ctx: Context,
        instrument: Instrument,
        claimant: str,
        ground: str,
        listing: str,
        assessment: str,
        reason: str,
    ) -> None:
        """QD-7 after the city review: the operator is excluded, before the allocation."""
        self._require_open()
        claim = self._claim(claimant)
        if claim.approved is None:
            raise Rejected(
                "not-city-reviewed", f"{claimant}'s claim has no city review to re-review"
            )
        if claim.excluded:
            raise Rejected("already-reviewed", f"{claimant}'s claim is excluded already")
        self.trigger_event(
            self.ReReviewed,
            claimant=claimant,
            ground=ground,
            listing=listing,
            assessment=assessment,
            reason=reason,
            basis=instrument.basis("green_threshold_required"),
            **ctx.fields(),
        )

    def approved_amounts(self) -> dict[str, Decimal]:
        """QD-4: the approved contract amounts the pool is shared by (excluded claims and
        failed reviews have none)."""
        return {c: claim.approved for c, claim in sorted(self.claims.items()) if claim.approved}

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
        allocation: Allocation,
        pool: Decimal | None,
        payments: dict[str, dict[str, str]],
    ) -> None:
        keys = ["rate", "funding_split", "allocation"] + [
            k for k in ("per_claimant_cap", "pool_cap") if k in instrument.params
        ]
        self.trigger_event(
            self.Allocated,
            pool=pool,
            contract_amounts=allocation.contract_amounts,
            entitlements=allocation.entitlements,
            scale=allocation.scale.quantize(Decimal("0.000001")),
            allocations=allocation.allocations,
            shares=allocation.shares,
            payments=payments,
            basis=instrument.basis(*keys),
            **ctx.fields(),
        )
