"""Special vouchers (特惠算力券): the yearly ranked round (CD-5, CD-9, CD-12, CD-13).

Applications are ranked by spend bracket — the tier interval the prior-year spend falls in —
highest bracket first, and within one bracket by submission time (同一区间按平台提交时间排序),
not by the exact amount. The top ``review_places`` are reviewed; a failure is replaced by the
next in line (递补). Passed applications, in rank order, get the highest tier that still has
places and whose threshold their spend meets, never more than ``max_subsidy_rate`` of the
spend. The plan is published for a notice period (公示); an upheld objection removes the
applicant, the next in line moves up, and the changed plan is published again. Once the
notice period has passed with no objection open, the vouchers are issued and paid to the
applicants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import notice
from ledger.aggregate import LedgerAggregate, Value
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id
from ledger.money import share_of
from ledger.policy import Instrument, Tier


@dataclass(frozen=True)
class Candidate(Value):
    applicant: str
    spend: Decimal
    sequence: int  # the order the ledger received it: a tie-break only
    submitted_at: datetime  # the platform's submission time (CD-9: 按平台提交时间排序)


@dataclass(frozen=True)
class Allocation(Value):
    applicant: str
    rank: int
    spend: Decimal
    bracket: int
    tier: int  # index into the policy's tiers, highest first
    threshold: Decimal
    amount: Decimal

    def as_event_data(self) -> dict[str, Any]:
        return asdict(self)


def bracket_of(spend: Decimal, tiers: Sequence[Tier]) -> int | None:
    """The tier interval ``spend`` falls in (0 = highest), or None below the lowest (CD-5)."""
    for index, tier in enumerate(tiers):
        if spend >= tier.min_spend:
            return index
    return None


def rank(candidates: Sequence[Candidate], tiers: Sequence[Tier]) -> list[Candidate]:
    """Highest bracket first; within a bracket, earlier submission on the platform first
    (CD-9: 同一区间按平台提交时间排序) — not the order the ledger happened to receive them,
    so a backfilled or shuffled batch ranks as a sorted one. Equal times: the credit code."""

    def key(c: Candidate) -> tuple[int, datetime, str]:
        bracket = bracket_of(c.spend, tiers)
        assert bracket is not None
        return (bracket, c.submitted_at, c.applicant)

    return sorted(candidates, key=key)


def allocate(
    passed: Sequence[Candidate],
    tiers: Sequence[Tier],
    max_rate: Decimal,
    *,
    cascade: bool,
) -> tuple[list[Allocation], list[int], list[str]]:
    """Match passed candidates (in rank order) to tiers (CD-5, CD-9).

    Tier by tier from the top, the tier's places go to the earliest-ranked candidates whose
    spend meets its threshold and who have no place yet — which is the same as each candidate,
    in rank order, taking the highest tier with a place left that its spend qualifies for.
    Returns the allocations, the unused places per tier, and the passed candidates left
    without a place. With ``cascade``, a tier's unused places are added to the next tier down.
    """
    ordered = rank(passed, tiers)
    ranks = {c.applicant: n for n, c in enumerate(ordered, start=1)}
    placed: dict[str, Allocation] = {}
    unused: list[int] = []
    carry = 0
    for index, tier in enumerate(tiers):
        capacity = tier.places + carry
        for c in ordered:
            if capacity == 0:
                break
            bracket = bracket_of(c.spend, tiers)
            assert bracket is not None
            if c.applicant in placed or bracket > index:
                continue
            placed[c.applicant] = Allocation(
                applicant=c.applicant,
                rank=ranks[c.applicant],
                spend=c.spend,
                bracket=bracket,
                tier=index,
                threshold=tier.min_spend,
                amount=min(tier.amount, share_of(c.spend, max_rate)),
            )
            capacity -= 1
        unused.append(capacity if not cascade else 0)
        carry = capacity if cascade else 0
    if cascade and carry:
        unused[-1] = carry
    allocations = sorted(placed.values(), key=lambda a: a.rank)
    unplaced = [c.applicant for c in ordered if c.applicant not in placed]
    return allocations, unused, unplaced


class SpecialRound(LedgerAggregate):
    """The special-voucher round of one programme year."""

    class Opened(LedgerCreated):
        programme: str
        instrument: str

    class ApplicationReceived(LedgerEvent):
        applicant: str
        spend: Decimal
        bracket: int
        sequence: int
        submitted_at: datetime
        evidence: dict[str, str]
        other_public_funding: dict[str, Decimal]
        basis: dict[str, Any]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Applications stored before the platform's submission time was recorded: the
            # time the ledger received them was the submission order then.
            state["submitted_at"] = state["at"]

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.applications[self.applicant] = Candidate(
                self.applicant, self.spend, self.sequence, self.submitted_at
            )

    class Ranked(LedgerEvent):
        ranking: list[str]
        review_set: list[str]
        basis: dict[str, Any]

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.ranking = list(self.ranking)

    class Reviewed(LedgerEvent):
        applicant: str
        passed: bool
        reason: str
        rank: int

        def apply(self, aggregate: SpecialRound) -> None:
            (aggregate.passed if self.passed else aggregate.failed).add(self.applicant)

    class ReplacementDrawn(LedgerEvent):
        """递补: the next in line moves into the reviewed set."""

        applicant: str
        rank: int
        replaces: str
        basis: dict[str, Any]

    class PlanPublished(LedgerEvent):
        version: int
        notice_from: date
        notice_to: date
        allocations: list[dict[str, Any]]
        unused_places: list[int]
        unplaced: list[str]
        basis: dict[str, Any]

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.plan = [Allocation(**a) for a in self.allocations]
            aggregate.plan_version = self.version
            aggregate.notice = (self.notice_from, self.notice_to)
            aggregate.plan_current = True

    class ObjectionRaised(LedgerEvent):
        objection: str
        applicant: str
        grounds: str

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.open_objections[self.objection] = self.applicant

    class ObjectionResolved(LedgerEvent):
        objection: str
        applicant: str
        upheld: bool
        reason: str

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.open_objections.pop(self.objection)
            aggregate.resolved_objections.add(self.objection)
            if self.upheld:
                aggregate.removed.add(self.applicant)
                aggregate.passed.discard(self.applicant)
                aggregate.plan_current = False

    class Finalised(LedgerEvent):
        plan_version: int
        vouchers: dict[str, str]  # applicant -> voucher number

        def apply(self, aggregate: SpecialRound) -> None:
            aggregate.finalised = True

    def __init__(self, programme: str, instrument: str) -> None:
        self.programme = programme
        self.instrument = instrument
        self.applications: dict[str, Candidate] = {}
        self.ranking: list[str] | None = None
        self.passed: set[str] = set()
        self.failed: set[str] = set()
        self.removed: set[str] = set()
        self.plan: list[Allocation] = []
        self.plan_version = 0
        self.plan_current = False
        self.notice: tuple[date, date] | None = None
        self.open_objections: dict[str, str] = {}
        self.resolved_objections: set[str] = set()
        self.finalised = False

    @staticmethod
    def id_for(programme: str, instrument: str) -> UUID:
        return stable_id("special-round", programme, instrument)

    @classmethod
    def open(cls, ctx: Context, programme: str, instrument: str) -> SpecialRound:
        return cls._create(
            cls.Opened,
            id=cls.id_for(programme, instrument),
            programme=programme,
            instrument=instrument,
            **ctx.fields(),
        )

    # ---- applications ------------------------------------------------------------------

    def receive(
        self,
        ctx: Context,
        instrument: Instrument,
        applicant: str,
        spend: Decimal,
        evidence: dict[str, str],
        other_public_funding: dict[str, Decimal],
        submitted_at: datetime | None = None,
    ) -> None:
        submitted = submitted_at or ctx.at
        if submitted > ctx.at:
            raise Rejected(
                "submitted-after-receipt",
                f"submitted on the platform at {submitted.isoformat()}, after the ledger "
                f"received it ({ctx.at.isoformat()})",
            )
        if self.ranking is not None:
            raise Rejected(
                "round-closed", f"the {self.programme} special round has been ranked (CD-9)"
            )
        if applicant in self.applications:
            raise Rejected(
                "already-applied",
                f"{applicant} has applied in the {self.programme} special round "
                f"({instrument.clause('per_holder_per_year')})",
            )
        tiers: list[Tier] = instrument.value("tiers")
        bracket = bracket_of(spend, tiers)
        if bracket is None:
            raise Rejected(
                "spend-below-lowest-tier",
                f"prior-year spend {spend} is below the lowest threshold {tiers[-1].min_spend} "
                f"({instrument.clause('tiers')})",
            )
        required = list(instrument.value("application_evidence"))
        missing = [k for k in required if not evidence.get(k, "").strip()]
        if missing:
            raise Rejected(
                "missing-evidence",
                f"the application lacks {', '.join(missing)} "
                f"({instrument.clause('application_evidence')})",
                missing=missing,
            )
        if other_public_funding.get("city", Decimal(0)) > 0:
            raise Rejected(
                "duplicate-funding",
                "the same compute spend is declared as funded by municipal money already; "
                "no project is funded twice by municipal funds (CD-12)",
            )
        self.trigger_event(
            self.ApplicationReceived,
            applicant=applicant,
            spend=spend,
            bracket=bracket,
            sequence=len(self.applications) + 1,
            submitted_at=submitted,
            evidence={k: evidence[k] for k in sorted(evidence)},
            other_public_funding={k: other_public_funding[k] for k in sorted(other_public_funding)},
            basis=instrument.basis("tiers", "application_evidence", "per_holder_per_year"),
            **ctx.fields(),
        )

    # ---- ranking and review ------------------------------------------------------------

    def in_line(self) -> list[str]:
        """The ranking without failed and removed applicants."""
        assert self.ranking is not None
        out = self.failed | self.removed
        return [a for a in self.ranking if a not in out]

    def review_set(self, instrument: Instrument) -> list[str]:
        return self.in_line()[: int(instrument.value("review_places"))]

    def rank_of(self, applicant: str) -> int:
        assert self.ranking is not None
        return self.ranking.index(applicant) + 1

    def rank_applications(self, ctx: Context, instrument: Instrument) -> None:
        if self.ranking is not None:
            raise Rejected("already-ranked", f"the {self.programme} special round is ranked")
        if not self.applications:
            raise Rejected("no-applications", f"the {self.programme} special round has none")
        ranking = [
            c.applicant for c in rank(list(self.applications.values()), instrument.value("tiers"))
        ]
        places = int(instrument.value("review_places"))
        self.trigger_event(
            self.Ranked,
            ranking=ranking,
            review_set=ranking[:places],
            basis=instrument.basis("allocation", "review_places", "tiers"),
            **ctx.fields(),
        )

    def _require_ranked(self) -> list[str]:
        if self.ranking is None:
            raise Rejected("not-ranked", f"the {self.programme} special round is not ranked yet")
        return self.ranking

    def review(
        self, ctx: Context, instrument: Instrument, applicant: str, passed: bool, reason: str
    ) -> None:
        self._require_ranked()
        self._require_not_finalised()
        if applicant not in self.review_set(instrument):
            raise Rejected(
                "not-in-review",
                f"{applicant} is not among the applications under review (CD-9)",
            )
        if applicant in self.passed:
            raise Rejected("already-reviewed", f"{applicant} has passed review already")
        before = self.review_set(instrument)
        self.trigger_event(
            self.Reviewed,
            applicant=applicant,
            passed=passed,
            reason=reason,
            rank=self.rank_of(applicant),
            **ctx.fields(),
        )
        if not passed:
            self._draw_replacements(ctx, instrument, before, replaces=applicant)

    def _draw_replacements(
        self, ctx: Context, instrument: Instrument, before: list[str], replaces: str
    ) -> None:
        for newcomer in self.review_set(instrument):
            if newcomer not in before:
                self.trigger_event(
                    self.ReplacementDrawn,
                    applicant=newcomer,
                    rank=self.rank_of(newcomer),
                    replaces=replaces,
                    basis=instrument.basis("review_places"),
                    **ctx.fields(),
                )

    # ---- plan, notice, objections ------------------------------------------------------

    def publish_plan(
        self, ctx: Context, instrument: Instrument, notice_from: date, notice_to: date
    ) -> None:
        self._require_ranked()
        self._require_not_finalised()
        notice.require_valid_period(
            ctx,
            notice_from,
            notice_to,
            int(instrument.value("min_notice_days")),
            instrument.clause("min_notice_days"),
        )
        notice.require_no_open_objection(self.open_objections, "CD-9")
        pending = [a for a in self.review_set(instrument) if a not in self.passed]
        if pending:
            raise Rejected(
                "review-incomplete",
                f"{len(pending)} applications under review have no outcome yet, e.g. {pending[0]}",
            )
        passed = [self.applications[a] for a in self.review_set(instrument)]
        allocations, unused, unplaced = allocate(
            passed,
            instrument.value("tiers"),
            instrument.value("max_subsidy_rate"),
            cascade=bool(instrument.value("unused_places_cascade")),
        )
        ranks = {a: self.rank_of(a) for a in self.applications}
        self.trigger_event(
            self.PlanPublished,
            version=self.plan_version + 1,
            notice_from=notice_from,
            notice_to=notice_to,
            # Ranks in the plan are the round's ranks, so explain can cite them.
            allocations=[{**a.as_event_data(), "rank": ranks[a.applicant]} for a in allocations],
            unused_places=unused,
            unplaced=unplaced,
            basis=instrument.basis("tiers", "max_subsidy_rate", "unused_places_cascade"),
            **ctx.fields(),
        )

    def raise_objection(self, ctx: Context, objection: str, applicant: str, grounds: str) -> None:
        self._require_not_finalised()
        notice.require_objection_allowed(
            ctx,
            self.notice if self.plan_current else None,
            objection,
            self.open_objections.keys() | self.resolved_objections,
            applicant,
            {a.applicant for a in self.plan},
            "CD-9",
        )
        self.trigger_event(
            self.ObjectionRaised,
            objection=objection,
            applicant=applicant,
            grounds=grounds,
            **ctx.fields(),
        )

    def resolve_objection(
        self, ctx: Context, instrument: Instrument, objection: str, upheld: bool, reason: str
    ) -> None:
        self._require_not_finalised()
        if objection not in self.open_objections:
            raise Rejected("unknown-objection", f"no open objection {objection}")
        applicant = self.open_objections[objection]
        before = self.review_set(instrument)
        self.trigger_event(
            self.ObjectionResolved,
            objection=objection,
            applicant=applicant,
            upheld=upheld,
            reason=reason,
            **ctx.fields(),
        )
        if upheld:
            self._draw_replacements(ctx, instrument, before, replaces=applicant)

    # ---- finalisation ------------------------------------------------------------------

    def _require_not_finalised(self) -> None:
        if self.finalised:
            raise Rejected("round-finalised", f"the {self.programme} special round is final")

    def require_finalisable(self, ctx: Context, now: datetime) -> list[Allocation]:
        """CD-9: paid only once the notice period has passed with no objection standing —
        passed by the command's business date and by ``now``, the ledger's clock."""
        self._require_not_finalised()
        notice.require_finalisable(
            ctx, now, self.notice if self.plan_current else None, self.open_objections, "CD-9"
        )
        return list(self.plan)

    def finalise(self, ctx: Context, vouchers: dict[str, str]) -> None:
        self.trigger_event(
            self.Finalised, plan_version=self.plan_version, vouchers=vouchers, **ctx.fields()
        )
