"""Supplier subsidy vouchers (CD-6, CD-10), the 2,000,000 cap, and the green award (CD-7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import Rejected
from ledger.handlers.inclusive import ClaimReimbursement, Reimburse
from ledger.handlers.registration import (
    OpenProgramme,
    PublishSupplierList,
    RecordAffiliation,
    RegisterSupplier,
)
from ledger.handlers.special import (
    ApplySpecial,
    FinaliseSpecial,
    PublishSpecialPlan,
    RaiseObjection,
    RankSpecial,
    ResolveObjection,
    ReviewSpecial,
)
from ledger.handlers.supplier_side import (
    ApplySupplierSubsidy,
    CertifyGreenDataCentre,
    FinaliseSupplierSubsidy,
    PlanSupplierSubsidy,
    PublishSupplierSubsidyPlan,
)
from ledger.ids import make_credit_code
from ledger.supplier_subsidy import SupplierYear
from tests.scenario import (
    World,
    at,
    event_names,
    in_memory_ledger,
    listed_the_year_before,
    pay_out,
    rejected,
)

M = Decimal(1_000_000)
EVIDENCE = {"contract": "HT", "payment-proof": "P", "invoice": "FP", "service-proof": "U"}
Y2 = "CD-2026"


def year_with_special_holders(spends: list[Decimal], suppliers: int = 3) -> World:
    """2024: the suppliers listed (the year of the spend the special vouchers rest on). 2025:
    special vouchers finalised for applicants 0… with these 2024 spends, and paid out (兑付);
    2026 opened."""
    app = in_memory_ledger()
    listed_the_year_before(app, suppliers)
    world = World(app, applicants=len(spends) + 2, suppliers=suppliers)
    for n, spend in enumerate(spends):
        world.app.execute(
            at(3, 1),
            ApplySpecial(
                programme="CD-2025",
                applicant=world.applicants[n],
                prior_year_spend=spend,
                evidence=EVIDENCE,
                other_public_funding={},
            ),
        )
    world.app.execute(at(4, 1), RankSpecial(programme="CD-2025"))
    for applicant in world.app.special_round("CD-2025").review_set(
        world.app.programme_terms("CD-2025").policy.instrument("special")
    ):
        world.app.execute(
            at(4, 2),
            ReviewSpecial(programme="CD-2025", applicant=applicant, outcome="pass", reason="ok"),
        )
    world.app.execute(
        at(4, 3),
        PublishSpecialPlan(
            programme="CD-2025", notice_from=date(2025, 4, 3), notice_to=date(2025, 4, 9)
        ),
    )
    finalised = world.app.execute(at(4, 10), FinaliseSpecial(programme="CD-2025"))
    pay_out(world.app, finalised, at(4, 15))
    world.app.execute(at(1, 2, 2026), OpenProgramme(policy="chengdu", year=2026))
    world.app.execute(
        at(1, 3, 2026),
        PublishSupplierList(programme=Y2, period="2026H1", suppliers=world.suppliers),
    )
    return world


def received(events: list[object]) -> Any:
    """The supplier's application as the round received it."""
    (found,) = [
        e for e in events if type(e).__qualname__ == "SupplierSubsidyRound.ApplicationReceived"
    ]
    return found


def run_round(
    world: World, round_name: str, supplier: int, holder_spend: dict[int, Decimal], day: int = 1
) -> Decimal:
    code = world.suppliers[supplier]
    lines = {world.applicants[h]: v for h, v in holder_spend.items()}
    world.app.execute(
        at(2, day, 2026),
        ApplySupplierSubsidy(
            programme=Y2, round=round_name, supplier=code, special_holder_spend=lines
        ),
    )
    world.app.execute(at(3, day, 2026), PlanSupplierSubsidy(programme=Y2, round=round_name))
    world.app.execute(
        at(3, day, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2,
            round=round_name,
            notice_from=date(2026, 3, day),
            notice_to=date(2026, 3, day + 6),
        ),
    )
    events = world.app.execute(
        at(3, day + 7, 2026), FinaliseSupplierSubsidy(programme=Y2, round=round_name)
    )
    (granted,) = [e for e in events if type(e).__qualname__ == "SupplierYear.SubsidyGranted"]
    return granted.granted  # type: ignore[attr-defined, no-any-return]


def test_twenty_percent_of_fifteen_million_supported_is_capped_at_two_million() -> None:
    """「补贴不超过20%的算力服务费用，每家单位每年度最高可获取200万元」: 20% of 15,000,000 is
    3,000,000; the supplier gets 2,000,000 and the 1,000,000 capped off is recorded."""
    world = year_with_special_holders([20 * M, 20 * M])
    events = world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=world.suppliers[0],
            special_holder_spend={world.applicants[0]: 8 * M, world.applicants[1]: 7 * M},
        ),
    )
    assert received(events).special_base == 15 * M
    world.app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme=Y2, round="R1"))
    world.app.execute(
        at(3, 1, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2, round="R1", notice_from=date(2026, 3, 1), notice_to=date(2026, 3, 7)
        ),
    )
    world.app.execute(at(3, 8, 2026), FinaliseSupplierSubsidy(programme=Y2, round="R1"))
    year = world.app.repository.get(SupplierYear.id_for("chengdu", world.suppliers[0], 2026))
    assert year.granted == 2 * M
    (grant,) = [
        e
        for e in world.app.events.get(year.id)
        if type(e).__qualname__ == "SupplierYear.SubsidyGranted"
    ]
    assert (grant.computed, grant.granted, grant.capped_off) == (  # type: ignore[attr-defined]
        3 * M,
        2 * M,
        1 * M,
    )


def test_a_special_holders_spend_counts_at_most_the_part_its_voucher_supported() -> None:
    """A 2,000,000 special voucher at 20% supported 10,000,000 of the holder's 20,000,000: a
    supplier claiming 13,000,000 of it counts 10,000,000; the other 3,000,000 is excluded."""
    world = year_with_special_holders([20 * M])
    events = world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=world.suppliers[0],
            special_holder_spend={world.applicants[0]: 13 * M},
        ),
    )
    assert received(events).special_lines == {world.applicants[0]: 10 * M}
    assert received(events).excluded == [
        {
            "holder": world.applicants[0],
            "amount": 3 * M,
            "reason": "beyond the part the voucher supported: 10000000.00 of the holder's "
            "20000000, 0.00 counted before (CD-6)",
        }
    ]


def test_a_second_round_the_same_year_gets_only_the_headroom() -> None:
    world = year_with_special_holders([20 * M, 20 * M])
    assert run_round(world, "R1", 0, {0: 5 * M}, day=1) == 1 * M
    assert run_round(world, "R2", 0, {1: 10 * M}, day=12) == 1 * M  # 20% is 2M; 1M left
    assert run_round(world, "R3", 0, {1: 5 * M}, day=20) == 0


def test_the_plan_uses_headroom_and_finalisation_caps_again() -> None:
    """Two rounds planned before either is paid: the second payment gets only what is left."""
    world = year_with_special_holders([20 * M, 20 * M])
    code = world.suppliers[0]
    for name, holder in (("R1", 0), ("R2", 1)):
        world.app.execute(
            at(2, 1, 2026),
            ApplySupplierSubsidy(
                programme=Y2,
                round=name,
                supplier=code,
                special_holder_spend={world.applicants[holder]: Decimal("7500000")},
            ),
        )
        world.app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme=Y2, round=name))
        world.app.execute(
            at(3, 1, 2026),
            PublishSupplierSubsidyPlan(
                programme=Y2, round=name, notice_from=date(2026, 3, 1), notice_to=date(2026, 3, 7)
            ),
        )
    amounts = []
    for name in ("R1", "R2"):
        events = world.app.execute(
            at(3, 8, 2026), FinaliseSupplierSubsidy(programme=Y2, round=name)
        )
        amounts += [
            e.granted
            for e in events  # type: ignore[attr-defined]
            if type(e).__qualname__ == "SupplierYear.SubsidyGranted"
        ]
    assert amounts == [Decimal("1500000.00"), Decimal("500000.00")]


def reimburse_and_pay(world: World, supplier: int, *invoices: str) -> None:
    """The supplier claims the bills, is reimbursed and the bank pays (兑付)."""
    code = world.suppliers[supplier]
    for invoice in invoices:
        world.app.execute(
            at(4, 1), ClaimReimbursement(supplier=code, invoice_number=invoice, evidence=EVIDENCE)
        )
        events = world.app.execute(at(4, 2), Reimburse(supplier=code, invoice_number=invoice))
        pay_out(world.app, events, at(4, 10))


def test_inclusive_bills_of_the_previous_year_are_the_base_and_affiliated_ones_excluded() -> None:
    world = year_with_special_holders([20 * M])
    voucher = world.issue(1, at(2, 1))
    world.redeem(voucher, bill="6000.00", invoice="A", supplier=1)
    world.redeem(voucher, bill="4000.00", invoice="B", supplier=1, service=date(2025, 3, 11))
    other = world.issue(2, at(2, 1))
    world.redeem(other, bill="5000.00", invoice="C", supplier=1)
    reimburse_and_pay(world, 1, "A", "B", "C")
    # Found affiliated after the redemptions: that business does not count (CD-3).
    world.app.execute(
        at(12, 1),
        RecordAffiliation(
            applicant=world.applicants[2], supplier=world.suppliers[1], evidence="registry"
        ),
    )
    events = world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2, round="R1", supplier=world.suppliers[1], special_holder_spend={}
        ),
    )
    assert (received(events).inclusive_bills, received(events).inclusive_base) == (
        2,
        Decimal("10000.00"),
    )
    assert [x["reason"] for x in received(events).excluded] == ["affiliated-parties (CD-3)"]


def test_unlisted_suppliers_get_nothing_from_special_business() -> None:
    world = year_with_special_holders([20 * M])
    outsider = make_credit_code("91510100MA7000099")
    world.app.execute(
        at(1, 3),
        RegisterSupplier(
            credit_code=outsider, name="未列入名单中心", kind="data-centre", city="Chengdu"
        ),
    )
    events = world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=outsider,
            special_holder_spend={world.applicants[0]: 5 * M},
        ),
    )
    # The special vouchers of 2025 rest on the holders' 2024 spend: not listed in 2024 (CD-2).
    assert received(events).special_base == 0
    assert received(events).excluded[0]["reason"] == "supplier-not-listed in 2024 (CD-2)"


def test_attributed_spend_never_exceeds_what_the_holder_evidenced() -> None:
    world = year_with_special_holders([20 * M])
    holder = world.applicants[0]
    world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=world.suppliers[0],
            special_holder_spend={holder: 15 * M},
        ),
    )
    rejected(
        "exceeds-evidenced-spend",
        world.app.execute,
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=world.suppliers[1],
            special_holder_spend={holder: 5 * M + Decimal("0.01")},
        ),
    )
    world.app.execute(
        at(2, 1, 2026),
        ApplySupplierSubsidy(
            programme=Y2,
            round="R1",
            supplier=world.suppliers[1],
            special_holder_spend={holder: 5 * M},
        ),
    )


def test_an_upheld_objection_removes_the_supplier_and_the_plan_is_drawn_again() -> None:
    world = year_with_special_holders([20 * M, 20 * M])
    for n in (0, 1):
        world.app.execute(
            at(2, 1, 2026),
            ApplySupplierSubsidy(
                programme=Y2,
                round="R1",
                supplier=world.suppliers[n],
                special_holder_spend={world.applicants[n]: 1 * M},
            ),
        )
    world.app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme=Y2, round="R1"))
    world.app.execute(
        at(3, 1, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2, round="R1", notice_from=date(2026, 3, 1), notice_to=date(2026, 3, 7)
        ),
    )
    world.app.execute(
        at(3, 2, 2026),
        RaiseObjection(
            programme=Y2, objection="O-1", applicant=world.suppliers[0], grounds="fake", round="R1"
        ),
    )
    rejected(
        "objection-open",
        world.app.execute,
        at(3, 8, 2026),
        FinaliseSupplierSubsidy(programme=Y2, round="R1"),
    )
    world.app.execute(
        at(3, 3, 2026),
        ResolveObjection(
            programme=Y2, objection="O-1", outcome="upheld", reason="confirmed", round="R1"
        ),
    )
    rejected(
        "no-plan-in-notice",
        world.app.execute,
        at(3, 8, 2026),
        FinaliseSupplierSubsidy(programme=Y2, round="R1"),
    )
    world.app.execute(at(3, 4, 2026), PlanSupplierSubsidy(programme=Y2, round="R1"))
    world.app.execute(
        at(3, 4, 2026),
        PublishSupplierSubsidyPlan(
            programme=Y2, round="R1", notice_from=date(2026, 3, 4), notice_to=date(2026, 3, 10)
        ),
    )
    rejected(
        "notice-period-running",
        world.app.execute,
        at(3, 10, 2026),
        FinaliseSupplierSubsidy(programme=Y2, round="R1"),
    )
    events = world.app.execute(at(3, 11, 2026), FinaliseSupplierSubsidy(programme=Y2, round="R1"))
    (final,) = [e for e in events if type(e).__qualname__ == "SupplierSubsidyRound.Finalised"]
    assert final.granted == {world.suppliers[1]: Decimal("200000.00")}  # type: ignore[attr-defined]


# ---- the green award (CD-7) ---------------------------------------------------------------


def test_the_green_award_is_granted_on_certification_once_ever() -> None:
    world = year_with_special_holders([20 * M])
    supplier = world.suppliers[0]
    events = world.app.execute(
        at(3, 16, 2026),
        CertifyGreenDataCentre(
            programme=Y2,
            supplier=supplier,
            certification_date=date(2026, 3, 15),
            reference="GDC-12",
        ),
    )
    assert event_names(events) == [
        "Supplier.CertifiedGreen",
        "GreenAward.Granted",
        "PaymentInstruction.Instructed",
        "EntityRecord.Started",
        "EntityRecord.PaymentDue",
    ]
    assert events[2].amount == M  # type: ignore[attr-defined]
    # The same certification recorded twice changes nothing ...
    assert (
        world.app.execute(
            at(3, 17, 2026),
            CertifyGreenDataCentre(
                programme=Y2,
                supplier=supplier,
                certification_date=date(2026, 3, 15),
                reference="GDC-12",
            ),
        )
        == []
    )
    # ... and a later certification is recorded, but the award is once, ever.
    again = world.app.execute(
        at(6, 1, 2026),
        CertifyGreenDataCentre(
            programme=Y2,
            supplier=supplier,
            certification_date=date(2026, 5, 30),
            reference="GDC-44",
        ),
    )
    assert event_names(again) == ["Supplier.CertifiedGreen"]


def test_only_data_centres_get_the_green_award() -> None:
    world = year_with_special_holders([20 * M])
    platform = make_credit_code("91510100MA7000077")
    world.app.execute(
        at(1, 3),
        RegisterSupplier(
            credit_code=platform, name="调度平台", kind="scheduling-platform", city="Chengdu"
        ),
    )
    rejected(
        "not-a-data-centre",
        world.app.execute,
        at(3, 16, 2026),
        CertifyGreenDataCentre(
            programme=Y2, supplier=platform, certification_date=date(2026, 3, 15), reference="GDC-1"
        ),
    )


# ---- the invariant ------------------------------------------------------------------------


@settings(max_examples=25)
@given(st.lists(st.tuples(st.integers(1, 12_000_000), st.booleans()), min_size=1, max_size=6))
def test_no_supplier_is_paid_more_than_two_million_a_year_nor_twenty_percent_of_its_base(
    rounds: list[tuple[int, bool]],
) -> None:
    world = year_with_special_holders([Decimal(13_000_000)] * 6, suppliers=1)
    supplier = world.suppliers[0]
    for n, (spend, object_first) in enumerate(rounds):
        name = f"R{n}"
        line = {world.applicants[n]: Decimal(spend)}
        try:
            world.app.execute(
                at(2, 1, 2026),
                ApplySupplierSubsidy(
                    programme=Y2, round=name, supplier=supplier, special_holder_spend=line
                ),
            )
        except Rejected as e:
            assert e.code == "exceeds-evidenced-spend"
            continue
        world.app.execute(at(3, 1, 2026), PlanSupplierSubsidy(programme=Y2, round=name))
        world.app.execute(
            at(3, 1, 2026),
            PublishSupplierSubsidyPlan(
                programme=Y2, round=name, notice_from=date(2026, 3, 1), notice_to=date(2026, 3, 7)
            ),
        )
        if object_first:  # a correction: objected, dismissed
            world.app.execute(
                at(3, 2, 2026),
                RaiseObjection(
                    programme=Y2, objection=f"O{n}", applicant=supplier, grounds="check", round=name
                ),
            )
            world.app.execute(
                at(3, 2, 2026),
                ResolveObjection(
                    programme=Y2, objection=f"O{n}", outcome="dismissed", reason="fine", round=name
                ),
            )
        world.app.execute(at(3, 8, 2026), FinaliseSupplierSubsidy(programme=Y2, round=name))
    year = world.app.repository.get(SupplierYear.id_for("chengdu", supplier, 2026))
    grants = [
        e
        for e in world.app.events.get(year.id)
        if type(e).__qualname__ == "SupplierYear.SubsidyGranted"
    ]
    assert year.granted == sum((g.granted for g in grants), start=Decimal(0))  # type: ignore[attr-defined]
    assert year.granted <= 2 * M
    for g in grants:
        assert g.granted <= g.base * Decimal("0.20")  # type: ignore[attr-defined]
