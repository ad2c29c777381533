"""Decider tests for the supplier side: the one supplier-list check (CD-2) and which year-Y-1
business counts towards a supplier's subsidy base (CD-2, CD-3, CD-6, CD-10).

Given a programme and its published lists (built from their events, no ledger, no database),
when a supplier is checked or its base decided, then this decision or this named refusal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger.errors import Rejected
from ledger.events import Context
from ledger.policy import ONE_OFF_AWARD, bundled_policies
from ledger.programme import Programme, SupplierList
from ledger.supplier_subsidy import GreenAward, SubsidyBase, subsidy_base

CTX = Context(datetime(2025, 1, 5, 9, tzinfo=ZoneInfo("Asia/Shanghai")), "clerk", "cmd-1")
SUPPLIER = "S-LISTED"
OTHER = "S-OTHER"
HOLDER, SECOND, AFFILIATE, STRANGER = "H-1", "H-2", "H-AFF", "H-NONE"
POLICIES = bundled_policies()


def chengdu_2025() -> Programme:
    """Given the Chengdu programme for 2025: its policy publishes half-yearly lists (CD-2)."""
    return Programme.open(CTX, POLICIES["chengdu"], 2025)


def qingdao_2024() -> Programme:
    """Given the Qingdao programme for 2024: its policy publishes no supplier lists."""
    return Programme.open(CTX, POLICIES["qingdao"], 2024)


def listing(programme: Programme, period: str, *suppliers: str) -> SupplierList:
    return SupplierList.publish(CTX, programme, period, list(suppliers))


# ---- CD-2: the one supplier-list check --------------------------------------------------------


def test_the_list_that_decides_a_service_is_the_one_of_its_half_year() -> None:
    programme = chengdu_2025()
    assert programme.listing_periods(date(2025, 6, 30)) == ("2025H1",)
    assert programme.listing_periods(date(2025, 7, 1)) == ("2025H2",)
    # without a service date (a year's business): either half-year of the programme year
    assert programme.listing_periods() == ("2025H1", "2025H2")


def test_given_a_supplier_on_the_list_when_checked_then_it_is_listed() -> None:
    programme = chengdu_2025()
    h1 = listing(programme, "2025H1", SUPPLIER)
    assert programme.listing_refusal(SUPPLIER, {"2025H1": h1}) is None
    programme.require_listed(SUPPLIER, {"2025H1": h1})  # no refusal


def test_given_a_list_without_the_supplier_then_supplier_not_listed_naming_the_period() -> None:
    programme = chengdu_2025()
    h1 = listing(programme, "2025H1", OTHER)
    with pytest.raises(Rejected) as refused:
        programme.require_listed(SUPPLIER, {"2025H1": h1})
    assert refused.value.code == "supplier-not-listed"
    assert refused.value.details == {"supplier": SUPPLIER, "period": "2025H1"}
    assert "not on the 2025H1 list of CD-2025 (CD-2)" in refused.value.message


def test_given_no_list_published_for_the_period_then_supplier_not_listed() -> None:
    programme = chengdu_2025()
    refusal = programme.listing_refusal(SUPPLIER, {"2025H2": None})
    assert refusal is not None and refusal.code == "supplier-not-listed"
    assert "no supplier list for 2025H2 of CD-2025 has been published" in refusal.message


def test_given_either_half_years_list_names_the_supplier_then_its_year_is_listed() -> None:
    programme = chengdu_2025()
    lists = {"2025H1": listing(programme, "2025H1", OTHER), "2025H2": None}
    assert programme.listing_refusal(SUPPLIER, lists) is not None
    lists["2025H2"] = listing(programme, "2025H2", SUPPLIER)
    assert programme.listing_refusal(SUPPLIER, lists) is None


def test_given_a_policy_without_lists_then_every_supplier_is_listed() -> None:
    programme = qingdao_2024()
    assert programme.listing_periods(date(2024, 3, 1)) == ()
    assert programme.listing_refusal(SUPPLIER, {}) is None


def test_a_list_is_a_half_year_of_the_programmes_own_year() -> None:
    programme = chengdu_2025()
    programme.require_period_in_year("2025H2")
    with pytest.raises(Rejected) as refused:
        programme.require_period_in_year("2026H1")
    assert refused.value.code == "period-outside-programme-year"


def test_given_a_published_list_when_the_same_list_again_then_nothing_changes() -> None:
    published = listing(chengdu_2025(), "2025H1", SUPPLIER, OTHER)
    assert published.republishes([OTHER, SUPPLIER]) is True


def test_given_a_published_list_when_a_different_list_then_already_published() -> None:
    published = listing(chengdu_2025(), "2025H1", SUPPLIER)
    with pytest.raises(Rejected) as refused:
        published.republishes([SUPPLIER, OTHER])
    assert refused.value.code == "supplier-list-already-published"


# ---- CD-6, CD-10: what counts towards a supplier's subsidy base -------------------------------


def base(
    *,
    bills: dict[str, tuple[str, Decimal]] | None = None,
    spend: dict[str, Decimal] | None = None,
    listed: bool = True,
    affiliated: frozenset[str] = frozenset({AFFILIATE}),
    special_holders: frozenset[str] = frozenset({HOLDER, SECOND, AFFILIATE}),
) -> SubsidyBase:
    """When supplier SUPPLIER applies on 2025's business (AFFILIATE is affiliated with it)."""
    return subsidy_base(
        base_programme="CD-2025",
        base_year=2025,
        bills=bills or {},
        special_holder_spend=spend or {},
        affiliated=affiliated,
        listed=listed,
        special_holders=special_holders,
    )


def test_inclusive_bills_count_in_full_and_add_up() -> None:
    decided = base(bills={"INV-2": (HOLDER, Decimal("800.00")), "INV-1": (SECOND, Decimal(200))})
    assert decided.bills == {"INV-1": Decimal(200), "INV-2": Decimal("800.00")}
    assert decided.inclusive == (2, Decimal("1000.00"))
    assert decided.excluded == []


def test_a_bill_of_an_affiliated_holder_is_excluded_cd3() -> None:
    decided = base(bills={"INV-1": (AFFILIATE, Decimal(500)), "INV-2": (HOLDER, Decimal(300))})
    assert decided.inclusive == (1, Decimal(300))
    assert decided.excluded == [
        {"invoice": "INV-1", "amount": Decimal(500), "reason": "affiliated-parties (CD-3)"}
    ]


def test_no_business_gives_an_empty_base() -> None:
    decided = base()
    assert decided.inclusive == (0, Decimal("0.00"))
    assert decided.special == {} and decided.excluded == []


def test_special_spend_of_a_holder_counts() -> None:
    decided = base(spend={HOLDER: Decimal(700_000)})
    assert decided.special == {HOLDER: Decimal(700_000)}
    assert decided.excluded == []


def test_special_spend_served_while_on_no_list_is_excluded_cd2() -> None:
    decided = base(spend={HOLDER: Decimal(700_000)}, listed=False)
    assert decided.special == {}
    assert decided.excluded == [
        {
            "holder": HOLDER,
            "amount": Decimal(700_000),
            "reason": "supplier-not-listed in 2025 (CD-2)",
        }
    ]


def test_unlisted_supplier_keeps_its_inclusive_bills_checked_when_redeemed() -> None:
    decided = base(bills={"INV-1": (HOLDER, Decimal(100))}, listed=False)
    assert decided.inclusive == (1, Decimal(100))


def test_spend_of_a_unit_holding_no_special_voucher_is_excluded() -> None:
    decided = base(spend={STRANGER: Decimal(1000)})
    assert decided.excluded == [
        {
            "holder": STRANGER,
            "amount": Decimal(1000),
            "reason": "not a special-voucher holder of CD-2025",
        }
    ]


def test_special_spend_of_an_affiliated_holder_is_excluded_cd3() -> None:
    decided = base(spend={AFFILIATE: Decimal(1000), HOLDER: Decimal(10)})
    assert decided.special == {HOLDER: Decimal(10)}
    assert decided.excluded == [
        {"holder": AFFILIATE, "amount": Decimal(1000), "reason": "affiliated-parties (CD-3)"}
    ]


def test_reasons_are_tried_listing_then_holding_then_affiliation() -> None:
    unlisted = base(spend={AFFILIATE: Decimal(1)}, listed=False, special_holders=frozenset())
    assert unlisted.excluded[0]["reason"] == "supplier-not-listed in 2025 (CD-2)"
    not_holder = base(spend={AFFILIATE: Decimal(1)}, special_holders=frozenset())
    assert not_holder.excluded[0]["reason"] == "not a special-voucher holder of CD-2025"


def test_exclusions_list_bills_by_invoice_then_holders_by_code() -> None:
    decided = base(
        bills={"INV-9": (AFFILIATE, Decimal(1)), "INV-1": (AFFILIATE, Decimal(2))},
        spend={STRANGER: Decimal(3), AFFILIATE: Decimal(4)},
    )
    assert [e.get("invoice", e.get("holder")) for e in decided.excluded] == [
        "INV-1",
        "INV-9",
        AFFILIATE,
        STRANGER,
    ]


# ---- CD-7: the green award goes to data centres ----------------------------------------------


def test_a_data_centre_may_receive_the_green_award() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    GreenAward.require_eligible(green, SUPPLIER, "data-centre")  # no refusal


def test_a_scheduling_platform_is_not_a_data_centre_cd7() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    with pytest.raises(Rejected) as refused:
        GreenAward.require_eligible(green, SUPPLIER, "scheduling-platform")
    assert refused.value.code == "not-a-data-centre"
