"""Notice periods (公示, CD-9, CD-10): a plan is on public notice for at least the policy's
``min_notice_days`` and is finalised only after the notice has ended — by the command's
business date *and* by the ledger's clock (recorded time), so neither a back-dated nor a
future-dated finalisation shortens it (issue 15, trust model)."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger.application import VoucherLedger
from ledger.clock import PROGRAMME_TZ, SimulatedClock, TimeRules
from ledger.events import Context
from ledger.handlers.registration import OpenProgramme
from ledger.handlers.special import (
    ApplySpecial,
    FinaliseSpecial,
    PublishSpecialPlan,
    RankSpecial,
    ReviewSpecial,
)
from ledger.handlers.supplier_side import (
    ApplySupplierSubsidy,
    FinaliseSupplierSubsidy,
    PlanSupplierSubsidy,
    PublishSupplierSubsidyPlan,
)
from ledger.policy import (
    DEFAULT_MIN_NOTICE_DAYS,
    Policy,
    PolicyFileError,
    bundled_policies,
    policy_from_mapping,
)
from tests.scenario import PROGRAMME, STORY_TIME, World, at, event_names, in_memory_ledger, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
Y2 = "CD-2026"
# The special plan's notice in these tests, as in the documented example: 7 days.
NOTICE = (date(2025, 4, 20), date(2025, 4, 26))


def moment(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PROGRAMME_TZ)


def when(instant: datetime) -> Context:
    return Context(at=instant, actor="test", command_id="t")


def pin_clock(app: VoucherLedger, instant: datetime) -> None:
    """From now on the ledger's clock says ``instant`` whatever the commands' business time."""
    assert isinstance(app.clock, SimulatedClock)
    app.clock.follows_business_time = False
    app.clock.set(instant)


def chengdu_with(**special: Any) -> dict[str, Policy]:
    """Chengdu's policy with the special instrument's parameters changed (None: left out)."""
    raw = copy.deepcopy(bundled_policies()["chengdu"].raw)
    for key, value in special.items():
        if value is None:
            raw["instruments"]["special"].pop(key)
        else:
            raw["instruments"]["special"][key] = value
    return {"chengdu": policy_from_mapping(raw)}


def special_round_reviewed(app: VoucherLedger | None = None) -> World:
    """Two applications for the special round, ranked and passed: ready to publish."""
    world = World(app or in_memory_ledger(), applicants=2, suppliers=1)
    for n, spend in enumerate(("12000000.00", "3000000.00")):
        world.app.execute(
            at(3, 1),
            ApplySpecial(
                programme=PROGRAMME,
                applicant=world.applicants[n],
                prior_year_spend=Decimal(spend),
                evidence=EVIDENCE,
            ),
        )
    world.app.execute(at(4, 1), RankSpecial(programme=PROGRAMME))
    for applicant in world.applicants:
        world.app.execute(
            at(4, 5),
            ReviewSpecial(programme=PROGRAMME, applicant=applicant, outcome="pass", reason="ok"),
        )
    return world


def publish_special(world: World, notice: tuple[date, date] = NOTICE) -> None:
    world.app.execute(
        at(notice[0].month, notice[0].day),
        PublishSpecialPlan(programme=PROGRAMME, notice_from=notice[0], notice_to=notice[1]),
    )


# ---- the parameter ------------------------------------------------------------------------


def test_chengdu_gives_seven_days_for_both_notices_citing_their_clauses() -> None:
    chengdu = bundled_policies()["chengdu"]
    assert DEFAULT_MIN_NOTICE_DAYS == 7
    for name, clause in (("special", "CD-9"), ("supplier_subsidy", "CD-10")):
        instrument = chengdu.instrument(name)
        assert instrument.value("min_notice_days") == 7
        assert instrument.clause("min_notice_days") == clause


def test_a_file_that_is_silent_gets_the_default_said_to_be_the_default() -> None:
    special = chengdu_with(min_notice_days=None)["chengdu"].instrument("special")
    assert special.value("min_notice_days") == DEFAULT_MIN_NOTICE_DAYS
    assert special.clause("min_notice_days") == "default"


@pytest.mark.parametrize(
    "value",
    [
        {"value": 0, "clause": "CD-9"},
        {"value": -7, "clause": "CD-9"},
        {"value": "7", "clause": "CD-9"},
        {"value": 7.5, "clause": "CD-9"},
        {"value": True, "clause": "CD-9"},
        7,
    ],
)
def test_the_minimum_must_be_a_whole_number_of_days_of_at_least_one(value: Any) -> None:
    with pytest.raises(PolicyFileError, match=r"instruments\.special\.min_notice_days"):
        chengdu_with(min_notice_days=value)


def test_only_the_plan_and_notice_instruments_know_the_parameter() -> None:
    raw = copy.deepcopy(bundled_policies()["chengdu"].raw)
    raw["instruments"]["inclusive"]["min_notice_days"] = {"value": 7, "clause": "CD-8"}
    with pytest.raises(PolicyFileError, match="not a parameter of a deduction-voucher"):
        policy_from_mapping(raw)


# ---- publishing: at least the minimum -----------------------------------------------------


def test_a_special_plan_on_notice_for_six_days_is_refused_seven_are_accepted() -> None:
    world = special_round_reviewed()
    refusal = rejected(
        "notice-period-too-short", publish_special, world, (date(2025, 4, 20), date(2025, 4, 25))
    )
    assert "6 days" in refusal.message and "at least 7 days" in refusal.message
    assert "CD-9" in refusal.message
    publish_special(world)
    assert world.app.special_round(PROGRAMME).notice == NOTICE


def test_a_one_day_notice_is_refused() -> None:
    world = special_round_reviewed()
    rejected("notice-period-too-short", publish_special, world, (NOTICE[0], NOTICE[0]))


def test_the_minimum_is_the_policys() -> None:
    world = special_round_reviewed(
        in_memory_ledger(chengdu_with(min_notice_days={"value": 10, "clause": "CD-9"}))
    )
    refusal = rejected("notice-period-too-short", publish_special, world)
    assert "at least 10 days" in refusal.message
    publish_special(world, (date(2025, 4, 20), date(2025, 4, 29)))


def test_a_notice_ending_before_it_starts_is_still_an_invalid_period() -> None:
    world = special_round_reviewed()
    rejected("invalid-notice-period", publish_special, world, (NOTICE[1], NOTICE[0]))


# ---- finalising: after the notice, in business time and in recorded time -----------------


def test_finalising_on_the_notice_periods_last_day_is_refused() -> None:
    world = special_round_reviewed()
    publish_special(world)
    refusal = rejected(
        "notice-period-running", world.app.execute, at(4, 26), FinaliseSpecial(programme=PROGRAMME)
    )
    assert "2025-04-26" in refusal.message and "CD-9" in refusal.message


def test_finalising_the_day_after_the_notice_is_accepted() -> None:
    world = special_round_reviewed()
    publish_special(world)
    events = world.app.execute(at(4, 27), FinaliseSpecial(programme=PROGRAMME))
    assert "SpecialRound.Finalised" in event_names(events)


def test_a_finalisation_dated_after_the_notice_but_entered_during_it_is_refused() -> None:
    """The ledger's clock is a minute before the end of the notice; the command says it is
    the first minute after (within the small tolerance for clock differences)."""
    world = special_round_reviewed()
    publish_special(world)
    pin_clock(world.app, moment(4, 26, 23, 59))
    refusal = rejected(
        "notice-period-running",
        world.app.execute,
        when(moment(4, 27, 0, 1)),
        FinaliseSpecial(programme=PROGRAMME),
    )
    assert "ledger's clock says 2025-04-26" in refusal.message
    # Once the clock has passed the notice, the same finalisation is accepted.
    pin_clock(world.app, moment(4, 27, 0, 2))
    events = world.app.execute(when(moment(4, 27, 0, 1)), FinaliseSpecial(programme=PROGRAMME))
    assert "SpecialRound.Finalised" in event_names(events)


def test_with_a_wide_clock_tolerance_a_future_dated_finalisation_is_still_refused() -> None:
    """However generous the tolerance for business time ahead of the clock, the notice
    is measured on the ledger's clock too."""
    rules = TimeRules(future_tolerance=timedelta(days=30), late_after=STORY_TIME.late_after)
    world = special_round_reviewed(in_memory_ledger(time_rules=rules))
    publish_special(world)
    pin_clock(world.app, moment(4, 21))
    rejected(
        "notice-period-running", world.app.execute, at(5, 10), FinaliseSpecial(programme=PROGRAMME)
    )


def test_by_default_a_future_dated_finalisation_is_business_time_in_the_future() -> None:
    world = special_round_reviewed()
    publish_special(world)
    pin_clock(world.app, moment(4, 21))
    rejected(
        "business-time-in-future",
        world.app.execute,
        at(4, 28),
        FinaliseSpecial(programme=PROGRAMME),
    )


def test_a_back_dated_finalisation_entered_after_the_notice_is_refused() -> None:
    world = special_round_reviewed()
    publish_special(world)
    pin_clock(world.app, moment(4, 28))
    rejected(
        "notice-period-running", world.app.execute, at(4, 25), FinaliseSpecial(programme=PROGRAMME)
    )


# ---- the supplier subsidy round (CD-10) ---------------------------------------------------


def supplier_round_planned() -> World:
    world = World(in_memory_ledger(), applicants=1, suppliers=1)
    world.app.execute(at(1, 2, 2026), OpenProgramme(policy="chengdu", year=2026))
    world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(programme=Y2, round="R1", supplier=world.suppliers[0]),
    )
    world.app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme=Y2, round="R1"))
    return world


def publish_supplier(world: World, notice_from: date, notice_to: date) -> None:
    world.app.execute(
        at(notice_from.month, notice_from.day, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2, round="R1", notice_from=notice_from, notice_to=notice_to
        ),
    )


def test_a_supplier_subsidy_plan_on_notice_for_two_days_is_refused() -> None:
    world = supplier_round_planned()
    refusal = rejected(
        "notice-period-too-short", publish_supplier, world, date(2026, 3, 2), date(2026, 3, 3)
    )
    assert "CD-10" in refusal.message
    publish_supplier(world, date(2026, 3, 2), date(2026, 3, 8))


def test_a_supplier_subsidy_round_is_finalised_only_after_its_notice_in_both_times() -> None:
    world = supplier_round_planned()
    publish_supplier(world, date(2026, 3, 2), date(2026, 3, 8))
    finalise = FinaliseSupplierSubsidy(programme=Y2, round="R1")
    rejected("notice-period-running", world.app.execute, at(3, 8, 2026), finalise)
    pin_clock(world.app, moment(3, 8, 23, 59, year=2026))
    refusal = rejected(
        "notice-period-running", world.app.execute, when(moment(3, 9, 0, 1, year=2026)), finalise
    )
    assert "ledger's clock says 2026-03-08" in refusal.message and "CD-10" in refusal.message
    pin_clock(world.app, moment(3, 9, 9, 0, year=2026))
    events = world.app.execute(at(3, 9, 2026), finalise)
    assert "SupplierSubsidyRound.Finalised" in event_names(events)
