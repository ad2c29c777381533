"""The trust model (issue 15), rule by rule, on the in-memory ledger: given these facts, when
this command, then these events or this named refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from ledger.clock import PROGRAMME_TZ, SimulatedClock, TimeRules
from ledger.events import LateEntry, RefusedCommand
from ledger.handlers.administration import GrantRole, RevokeRole
from ledger.handlers.enforcement import OpenCase, RecordFraudFinding
from ledger.handlers.inclusive import ApplyInclusive, ClaimReimbursement, Reimburse
from ledger.handlers.periods import ClosePeriod, ReopenPeriod
from ledger.handlers.registration import RegisterApplicant
from ledger.ids import stable_id
from tests.scenario import PROGRAMME, World, applicant_code, at, in_memory_ledger, rejected

EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}


# ---- when: business time against recorded time --------------------------------------------


def test_business_time_ahead_of_the_clock_is_refused_and_the_refusal_recorded() -> None:
    world = World(in_memory_ledger())
    world.app.clock = SimulatedClock(at(3, 1).at, follows_business_time=False)
    tomorrow = at(3, 2)
    apply = ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[0])
    rejected("business-time-in-future", world.app.execute, tomorrow, apply)
    refused = world.app.events_of(RefusedCommand.Refused)
    assert [(e.command, e.code) for e in refused] == [
        ("apply-inclusive", "business-time-in-future")
    ]


def test_a_late_entry_needs_a_reason_and_is_recorded_with_it() -> None:
    world = World(in_memory_ledger())
    world.app.clock = SimulatedClock(at(3, 20).at, follows_business_time=False)
    world.app.time_rules = TimeRules(late_after=timedelta(days=7))
    apply = ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[0])
    rejected("late-entry-needs-reason", world.app.execute, at(3, 1), apply)
    late = replace(at(3, 1), late_reason="from the platform's outage log", command_id="c-9")
    assert world.app.execute(late, apply)
    entry = world.app.repository.get(stable_id("late-entry", "c-9"))
    assert isinstance(entry, LateEntry)
    assert (entry.command, entry.reason) == ("apply-inclusive", "from the platform's outage log")


# ---- what is known binds ---------------------------------------------------------------------


def test_a_back_dated_reimbursement_to_a_barred_supplier_is_refused() -> None:
    """The demo's old bypass: a bar is recorded, then a payment dated before it is entered."""
    world = World(in_memory_ledger())
    voucher = world.issue(0)
    world.redeem(voucher, invoice="I-1", ctx=at(3, 12))
    world.app.execute(
        at(4, 1),
        ClaimReimbursement(supplier=world.suppliers[0], invoice_number="I-1", evidence=EVIDENCE),
    )
    world.app.execute(
        at(5, 1),
        OpenCase(case="C-1", programme=PROGRAMME, entity=world.suppliers[0], description="x"),
    )
    world.app.execute(
        at(5, 10),
        RecordFraudFinding(
            case="C-1", finding_date=date(2025, 5, 10), finding="forged", evidence=["A-1"]
        ),
    )
    before_the_finding = replace(at(5, 9), late_reason="catching up")
    reimburse = Reimburse(supplier=world.suppliers[0], invoice_number="I-1")
    rejected("entity-debarred", world.app.execute, before_the_finding, reimburse)


# ---- who: the role table ---------------------------------------------------------------------


def test_roles_decide_and_acting_on_behalf_is_for_administrators_only() -> None:
    world = World(in_memory_ledger())
    admin, clerk = at(1, 3), replace(at(1, 3), actor="li.clerk")
    rejected(
        "first-grant-must-be-administrator",
        world.app.execute,
        admin,
        GrantRole(identity="li.clerk", role="clerk"),
    )
    world.app.execute(admin, GrantRole(identity="test", role="administrator"))
    world.app.execute(admin, GrantRole(identity="li.clerk", role="clerk", scope="QD"))
    register = RegisterApplicant(
        credit_code=applicant_code(50), name="新公司", kind="enterprise", city="Chengdu"
    )
    assert world.app.execute(clerk, register)  # no programme named: any scope will do
    apply = ApplyInclusive(programme=PROGRAMME, applicant=applicant_code(50))
    error = rejected("not-permitted", world.app.execute, replace(at(2, 1), actor="li.clerk"), apply)
    assert "in CD-2025" in error.message  # a Qingdao clerk, not a Chengdu one
    # The clerk cannot borrow the administrator's name ...
    borrowed = replace(at(2, 1), actor="test", entered_by="li.clerk")
    error = rejected("not-permitted", world.app.execute, borrowed, apply)
    assert "may not act on behalf of test" in error.message
    # ... while the administrator may enter a command for someone, both names recorded.
    for_wang = replace(at(2, 1), actor="wang", entered_by="test")
    rejected("not-permitted", world.app.execute, for_wang, apply)  # wang holds no role
    world.app.execute(admin, GrantRole(identity="wang", role="clerk"))
    events = world.app.execute(for_wang, apply)
    assert {e.actor for e in events} == {"wang (entered by test)"}  # type: ignore[attr-defined]
    rejected(
        "last-administrator",
        world.app.execute,
        admin,
        RevokeRole(identity="test", role="administrator", reason="leaving"),
    )


# ---- closed periods --------------------------------------------------------------------------


def test_a_closed_month_refuses_entries_until_an_administrator_reopens_it() -> None:
    world = World(in_memory_ledger())
    rejected("period-not-ended", world.app.execute, at(3, 20), ClosePeriod(period="2025-03"))
    world.app.execute(at(4, 2), ClosePeriod(period="2025-02"))
    apply = ApplyInclusive(programme=PROGRAMME, applicant=world.applicants[0])
    rejected("period-closed", world.app.execute, at(2, 20), apply)
    world.app.execute(at(4, 3), ReopenPeriod(period="2025-02", reason="bank correction"))
    assert world.app.execute(at(2, 20), apply)


def test_every_refusal_is_one_outcome_of_its_command_id() -> None:
    world = World(in_memory_ledger())
    ctx = replace(at(2, 1), command_id="line-7", idempotent=True)
    apply = ApplyInclusive(programme=PROGRAMME, applicant=applicant_code(99))
    rejected("applicant-not-registered", world.app.execute, ctx, apply)
    world.app.execute(
        at(1, 3),
        RegisterApplicant(
            credit_code=applicant_code(99), name="后来者", kind="enterprise", city="Chengdu"
        ),
    )
    # The same id again replays the refusal; it is not decided a second time.
    rejected("applicant-not-registered", world.app.execute, ctx, apply)
    assert [e.command_id for e in world.app.events_of(RefusedCommand.Refused)] == ["line-7"]


def test_the_simulated_clock_follows_the_story_and_never_runs_backwards() -> None:
    clock = SimulatedClock(datetime(2025, 1, 1, tzinfo=PROGRAMME_TZ))
    clock.observe(datetime(2025, 3, 1, tzinfo=PROGRAMME_TZ))
    clock.observe(datetime(2025, 2, 1, tzinfo=PROGRAMME_TZ))
    assert clock.now() == datetime(2025, 3, 1, tzinfo=PROGRAMME_TZ)
