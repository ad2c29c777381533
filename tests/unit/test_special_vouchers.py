"""Special vouchers (特惠算力券): CD-5, CD-9, CD-12, CD-13, with the policy's own numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger.clock import PROGRAMME_TZ
from ledger.explain import explain_special_application
from ledger.handlers.special import (
    ApplySpecial,
    FinaliseSpecial,
    PublishSpecialPlan,
    RaiseObjection,
    RankSpecial,
    ResolveObjection,
    ReviewSpecial,
)
from ledger.policy import bundled_policies
from ledger.special import Candidate, allocate, bracket_of, rank
from tests.scenario import PROGRAMME, World, at, event_names, in_memory_ledger, rejected

SPECIAL = bundled_policies()["chengdu"].instrument("special")
TIERS = SPECIAL.value("tiers")
RATE = SPECIAL.value("max_subsidy_rate")
EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
M = Decimal(1_000_000)
T0 = datetime(2025, 3, 1, 9, tzinfo=PROGRAMME_TZ)


def apply(world: World, n: int, spend: Decimal, day: int = 1, **kw: object) -> object:
    return world.app.execute(
        at(3, day),
        ApplySpecial(
            programme=PROGRAMME,
            applicant=world.applicants[n],
            prior_year_spend=spend,
            evidence=kw.get("evidence", EVIDENCE),
            other_public_funding=kw.get("funding", {}),
        ),
    )


def round_with(spends: list[Decimal]) -> World:
    world = World(in_memory_ledger(), applicants=len(spends), suppliers=1)
    for n, spend in enumerate(spends):
        apply(world, n, spend)
    world.app.execute(at(4, 1), RankSpecial(programme=PROGRAMME))
    return world


def pass_all(world: World) -> None:
    for applicant in world.app.special_round(PROGRAMME).review_set(SPECIAL):
        if applicant not in world.app.special_round(PROGRAMME).passed:
            world.app.execute(
                at(4, 5),
                ReviewSpecial(
                    programme=PROGRAMME, applicant=applicant, outcome="pass", reason="complete"
                ),
            )


def plan(world: World) -> dict[str, Decimal]:
    return {a.applicant: a.amount for a in world.app.special_round(PROGRAMME).plan}


# ---- tiers, brackets, ranking ------------------------------------------------------------


def test_exactly_5_10_20_50_50_places() -> None:
    candidates = [Candidate(f"A{n:03d}", 20 * M, n, T0 + timedelta(minutes=n)) for n in range(200)]
    allocations, unused, unplaced = allocate(candidates, TIERS, RATE, cascade=False)
    by_amount = [sum(1 for a in allocations if a.tier == t) for t in range(5)]
    assert by_amount == [5, 10, 20, 50, 50]
    assert [a.amount for a in allocations[:6]] == [2 * M] * 5 + [1 * M]
    assert unused == [0, 0, 0, 0, 0]
    assert len(unplaced) == 65


def test_the_sixth_above_ten_million_gets_one_million_even_with_the_largest_spend() -> None:
    spends = [Decimal(v) * M for v in ("10", "11", "12", "13", "14", "50")]
    world = round_with(spends)
    pass_all(world)
    world.app.execute(
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 20), notice_to=date(2025, 4, 26)
        ),
    )
    amounts = plan(world)
    assert [amounts[world.applicants[n]] for n in range(6)] == [2 * M] * 5 + [1 * M]
    story = explain_special_application(
        list(world.app.events.get(world.app.special_round(PROGRAMME).id)), world.applicants[5]
    )
    assert story is not None
    assert "ranked 6 of 6" in story and "had no place left" in story
    assert "1,000,000.00 CNY" in story


def test_within_a_bracket_earlier_submission_ranks_above_higher_spend() -> None:
    world = round_with([Decimal("3000000"), Decimal("4900000"), Decimal("5000000")])
    ranking = world.app.special_round(PROGRAMME).ranking
    # 5,000,000 is a higher bracket; 3,000,000 (first) beats 4,900,000 (second) in its bracket.
    assert ranking == [world.applicants[2], world.applicants[0], world.applicants[1]]


def test_brackets_are_the_tier_intervals() -> None:
    assert [
        bracket_of(Decimal(v), TIERS)
        for v in ("10000000", "9999999.99", "5000000", "2500000", "1500000", "500000")
    ] == [0, 1, 1, 2, 3, 4]
    assert bracket_of(Decimal("499999.99"), TIERS) is None


# ---- applications -------------------------------------------------------------------------


def test_application_rules() -> None:
    world = World(in_memory_ledger(), applicants=3, suppliers=1)
    rejected("spend-below-lowest-tier", apply, world, 0, Decimal("499999.99"))
    rejected("missing-evidence", apply, world, 0, 2 * M, evidence={"contract": "HT"})
    rejected("duplicate-funding", apply, world, 0, 2 * M, funding={"city": Decimal("1")})
    events = apply(world, 0, 2 * M, funding={"province": Decimal("300000.00")})
    assert event_names(events) == ["SpecialRound.Opened", "SpecialRound.ApplicationReceived"]
    rejected("already-applied", apply, world, 0, 3 * M)
    world.app.execute(at(4, 1), RankSpecial(programme=PROGRAMME))
    rejected("round-closed", apply, world, 1, 3 * M)


def test_inclusive_and_special_are_mutually_exclusive_both_ways() -> None:
    world = World(in_memory_ledger(), applicants=3, suppliers=1)
    world.issue(0)  # inclusive
    rejected("instruments-mutually-exclusive", apply, world, 0, 2 * M)
    apply(world, 1, 2 * M)
    world.app.execute(at(4, 1), RankSpecial(programme=PROGRAMME))
    pass_all(world)
    world.app.execute(
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 20), notice_to=date(2025, 4, 26)
        ),
    )
    world.app.execute(at(4, 28), FinaliseSpecial(programme=PROGRAMME))
    rejected("instruments-mutually-exclusive", world.issue, 1)


# ---- review, replacement, notice, objections, finalisation --------------------------------


def test_a_failed_review_pulls_in_the_136th() -> None:
    world = round_with([Decimal("600000")] * 140)
    round_ = world.app.special_round(PROGRAMME)
    assert len(round_.review_set(SPECIAL)) == 135
    first = round_.ranking[0]
    rejected(
        "not-in-review",
        world.app.execute,
        at(4, 5),
        ReviewSpecial(
            programme=PROGRAMME, applicant=round_.ranking[135], outcome="pass", reason="too early"
        ),
    )
    events = world.app.execute(
        at(4, 5),
        ReviewSpecial(
            programme=PROGRAMME, applicant=first, outcome="fail", reason="invoices missing"
        ),
    )
    assert event_names(events) == ["SpecialRound.Reviewed", "SpecialRound.ReplacementDrawn"]
    assert events[1].applicant == round_.ranking[135]
    assert events[1].rank == 136 and events[1].replaces == first


def test_publishing_needs_every_review_and_a_sane_notice_period() -> None:
    world = round_with([2 * M, 3 * M])
    rejected(
        "review-incomplete",
        world.app.execute,
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 20), notice_to=date(2025, 4, 26)
        ),
    )
    pass_all(world)
    rejected(
        "invalid-notice-period",
        world.app.execute,
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 26), notice_to=date(2025, 4, 20)
        ),
    )


def test_an_upheld_objection_changes_the_plan() -> None:
    # 136 applicants: one waits outside the reviewed 135 until the objection moves it up.
    spends = [20 * M] * 136  # every tier is open to them: 135 places for 136
    world = round_with(spends)
    pass_all(world)
    world.app.execute(
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 20), notice_to=date(2025, 4, 26)
        ),
    )
    top, waiting = world.applicants[0], world.app.special_round(PROGRAMME).ranking[135]
    assert plan(world)[top] == 2 * M and waiting not in plan(world)
    rejected(
        "outside-notice-period",
        world.app.execute,
        at(4, 27),
        RaiseObjection(programme=PROGRAMME, objection="OBJ-1", applicant=top, grounds="late"),
    )
    world.app.execute(
        at(4, 22),
        RaiseObjection(
            programme=PROGRAMME, objection="OBJ-1", applicant=top, grounds="invoices forged"
        ),
    )
    rejected("objection-open", world.app.execute, at(4, 28), FinaliseSpecial(programme=PROGRAMME))
    events = world.app.execute(
        at(4, 24),
        ResolveObjection(
            programme=PROGRAMME, objection="OBJ-1", outcome="upheld", reason="confirmed"
        ),
    )
    assert event_names(events) == [
        "SpecialRound.ObjectionResolved",
        "SpecialRound.ReplacementDrawn",
    ]
    rejected(
        "no-plan-in-notice", world.app.execute, at(4, 28), FinaliseSpecial(programme=PROGRAMME)
    )
    world.app.execute(
        at(4, 25),
        ReviewSpecial(programme=PROGRAMME, applicant=waiting, outcome="pass", reason="complete"),
    )
    world.app.execute(
        at(4, 27),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 27), notice_to=date(2025, 5, 3)
        ),
    )
    assert top not in plan(world) and plan(world)[waiting] == Decimal("100000.00")
    rejected(
        "notice-period-running", world.app.execute, at(5, 3), FinaliseSpecial(programme=PROGRAMME)
    )
    events = world.app.execute(at(5, 4), FinaliseSpecial(programme=PROGRAMME))
    (final,) = [e for e in events if type(e).__qualname__ == "SpecialRound.Finalised"]
    assert final.vouchers[waiting] == "CD-2025-SPC-0135"  # type: ignore[attr-defined]
    rejected("round-finalised", world.app.execute, at(5, 5), FinaliseSpecial(programme=PROGRAMME))


def test_finalising_issues_vouchers_paid_to_the_applicants() -> None:
    world = round_with([12 * M, 6 * M])
    pass_all(world)
    world.app.execute(
        at(4, 20),
        PublishSpecialPlan(
            programme=PROGRAMME, notice_from=date(2025, 4, 20), notice_to=date(2025, 4, 26)
        ),
    )
    rejected(
        "notice-period-running", world.app.execute, at(4, 26), FinaliseSpecial(programme=PROGRAMME)
    )
    events = world.app.execute(at(4, 27), FinaliseSpecial(programme=PROGRAMME))
    payments = [e for e in events if type(e).__qualname__ == "PaymentInstruction.Instructed"]
    assert [(p.payee, p.amount, p.purpose) for p in payments] == [
        (world.applicants[0], 2 * M, "special-voucher-payment"),
        (world.applicants[1], 1 * M, "special-voucher-payment"),
    ]
    voucher = world.app.voucher("CD-2025-SPC-0001")
    assert (voucher.holder, voucher.face_value, voucher.remaining) == (
        world.applicants[0],
        2 * M,
        Decimal("0.00"),
    )
    rejected("voucher-not-redeemable", world.redeem, "CD-2025-SPC-0001")


# ---- invariants ------------------------------------------------------------------------


@given(
    st.lists(st.tuples(st.integers(500_000, 30_000_000), st.booleans()), min_size=1, max_size=220),
    st.booleans(),
)
def test_no_tier_overfilled_no_amount_over_20_percent_and_rank_order_respected(
    entries: list[tuple[int, bool]], cascade: bool
) -> None:
    candidates = [
        Candidate(f"A{n:03d}", Decimal(s), n, T0 + timedelta(minutes=n))
        for n, (s, _) in enumerate(entries)
    ]
    passed = [c for c, (_, ok) in zip(candidates, entries, strict=True) if ok]
    allocations, unused, _ = allocate(passed, TIERS, RATE, cascade=cascade)
    filled = [sum(1 for a in allocations if a.tier == t) for t in range(len(TIERS))]
    if not cascade:
        assert all(f <= t.places for f, t in zip(filled, TIERS, strict=True))
        assert [f + u for f, u in zip(filled, unused, strict=True)] == [t.places for t in TIERS]
    assert sum(filled) <= sum(t.places for t in TIERS)
    for a in allocations:
        assert a.amount <= a.spend * RATE
        assert a.tier >= a.bracket  # never a tier whose threshold the spend misses
    ordered = [a.amount for a in sorted(allocations, key=lambda a: a.rank)]
    assert ordered == sorted(ordered, reverse=True)
    assert [c.applicant for c in rank(passed, TIERS)][: len(allocations)] == [
        a.applicant for a in sorted(allocations, key=lambda a: a.rank)
    ]


@given(st.permutations(list(range(6))))
def test_the_ranking_follows_the_platform_submission_time_whatever_the_arrival_order(
    arrival: list[int],
) -> None:
    """CD-9: 同一区间按平台提交时间排序. Six applications in one bracket, submitted one minute
    apart, received by the ledger in any order (a backfill, a shuffled batch): the ranking is
    the submission order."""
    world = World(in_memory_ledger(), applicants=6, suppliers=1)
    for n in arrival:
        world.app.execute(
            at(3, 20),
            ApplySpecial(
                programme=PROGRAMME,
                applicant=world.applicants[n],
                prior_year_spend=12 * M,
                evidence=EVIDENCE,
                submitted_at=T0 + timedelta(minutes=n),
            ),
        )
    world.app.execute(at(4, 1), RankSpecial(programme=PROGRAMME))
    assert world.app.special_round(PROGRAMME).ranking == world.applicants


def test_an_application_cannot_be_submitted_after_the_ledger_received_it() -> None:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    late = ApplySpecial(
        programme=PROGRAMME,
        applicant=world.applicants[0],
        prior_year_spend=12 * M,
        evidence=EVIDENCE,
        submitted_at=at(3, 21).at,
    )
    rejected("submitted-after-receipt", world.app.execute, at(3, 20), late)
