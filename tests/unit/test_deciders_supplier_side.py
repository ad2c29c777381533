"""Decider tests for the supplier side: the one supplier-list check (CD-2) and which year-Y-1
business counts towards a supplier's subsidy base (CD-2, CD-3, CD-6, CD-10).

Given a programme and its published lists (built from their events, no ledger, no database),
when a supplier is checked or its base decided, then this decision or this named refusal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger.entities import Supplier
from ledger.errors import Rejected
from ledger.events import Context
from ledger.ids import make_credit_code
from ledger.policy import ONE_OFF_AWARD, bundled_policies
from ledger.programme import Programme, SupplierList, require_legal_person
from ledger.supplier_subsidy import (
    BillFacts,
    GreenAward,
    SpecialFacts,
    SubsidyBase,
    plan_line,
    subsidy_base,
    supported_part,
)

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
#
# 「每年根据上一年度支持"普惠算力券"和"特惠算力券"使用情况，为算力供给方发放"算力补贴券"，用于补贴
# 不超过20%的算力服务费用」 (CD-6) and 「根据"普惠算力券"和"特惠算力券"兑付情况，形成"算力补贴券"
# 分配方案」 (CD-10).

HALF = Decimal("0.50")
FIFTH = Decimal("0.20")


def bill(
    invoice: str,
    amount: str,
    deduction: str,
    holder: str = HOLDER,
    *,
    paid_out: bool = True,
    clawed_back: bool = False,
    counted_in: str | None = None,
) -> BillFacts:
    """An inclusive-voucher bill (deduction at most 50%), reimbursed and paid out unless said."""
    return BillFacts(
        invoice,
        holder,
        Decimal(amount),
        Decimal(deduction),
        HALF,
        paid_out,
        clawed_back,
        counted_in,
    )


def spend(
    holder: str,
    claimed: str,
    *,
    amount: str = "2000000.00",
    evidenced: str = "20000000.00",
    paid_out: bool = True,
    clawed_back: bool = False,
    counted: str = "0.00",
    holds: bool = True,
) -> SpecialFacts:
    """A special holder's spend claimed; its voucher (2,000,000 at 20%) paid out unless said."""
    if not holds:
        return SpecialFacts(holder, Decimal(claimed))
    return SpecialFacts(
        holder,
        Decimal(claimed),
        f"CD-2025-SPC-{holder}",
        Decimal(amount),
        FIFTH,
        Decimal(evidenced),
        paid_out,
        clawed_back,
        Decimal(counted),
    )


def base(
    *,
    bills: list[BillFacts] | None = None,
    special: list[SpecialFacts] | None = None,
    listed: bool = True,
    affiliated: frozenset[str] = frozenset({AFFILIATE}),
    counted_rule: str = "supported-part",
) -> SubsidyBase:
    """When supplier SUPPLIER applies on 2025's business (AFFILIATE is affiliated with it);
    ``listed``: on a 2024 list (the year of the special holders' spend)."""
    return subsidy_base(
        supplier=SUPPLIER,
        base_programme="CD-2025",
        spend_year=2024,
        bills=bills or [],
        special=special or [],
        affiliated=affiliated,
        listed_in_spend_year=listed,
        counted_rule=counted_rule,
    )


def test_a_bill_counts_at_most_the_part_the_voucher_supported() -> None:
    """A 10,000 voucher used on a 9,990,000 bill: the deduction of 10,000 at 50% supported
    20,000 of it; 20,000 counts, 9,970,000 is excluded (20% of it would be 1,994,000)."""
    decided = base(bills=[bill("INV-1", "9990000.00", "10000.00")])
    assert decided.bills == {"INV-1": Decimal("20000.00")}
    assert decided.excluded == [
        {
            "invoice": "INV-1",
            "amount": Decimal("9970000.00"),
            "reason": "beyond the part the voucher supported: 20000.00 of 9990000.00 (CD-6)",
        }
    ]


def test_a_bill_at_most_twice_its_deduction_counts_whole_and_bills_add_up() -> None:
    decided = base(bills=[bill("INV-2", "800.00", "400.00"), bill("INV-1", "300.00", "100.00")])
    assert decided.bills == {"INV-1": Decimal("200.00"), "INV-2": Decimal("800.00")}
    assert decided.inclusive == (2, Decimal("1000.00"))


def test_the_counted_part_is_a_parameter_whole_bill_or_deduction() -> None:
    nine_million = [bill("INV-1", "9990000.00", "10000.00")]
    assert base(bills=nine_million, counted_rule="whole-bill").bills == {
        "INV-1": Decimal("9990000.00")
    }
    assert base(bills=nine_million, counted_rule="deduction").bills == {
        "INV-1": Decimal("10000.00")
    }
    assert supported_part("supported-part", Decimal(100), Decimal(50), HALF) == Decimal(100)


def test_only_business_paid_out_counts_cd10() -> None:
    """「兑付情况」: a bill redeemed but never reimbursed, or reimbursed but not yet paid by
    the bank, is not paid out."""
    decided = base(bills=[bill("INV-1", "800.00", "400.00", paid_out=False)])
    assert decided.bills == {}
    assert decided.excluded == [
        {
            "invoice": "INV-1",
            "amount": Decimal("800.00"),
            "reason": "not paid out (兑付): the reimbursement's payment has not been settled "
            "(CD-10)",
        }
    ]


def test_clawed_back_business_is_excluded_cd11() -> None:
    decided = base(
        bills=[bill("INV-1", "800.00", "400.00", clawed_back=True)],
        special=[spend(HOLDER, "1000000.00", clawed_back=True)],
    )
    assert decided.bills == {} and decided.special == {}
    assert [e["reason"] for e in decided.excluded] == [
        "clawed back: the reimbursement's money was demanded back (CD-11)",
        "clawed back: the special voucher's money was demanded back (CD-11)",
    ]


def test_a_bill_counted_in_an_earlier_round_is_not_counted_again() -> None:
    """The 20% is of the year's business: a second round of the same year counts it once."""
    decided = base(bills=[bill("INV-1", "800.00", "400.00", counted_in="R1 of CD-2026")])
    assert decided.bills == {}
    assert decided.excluded[0]["reason"] == "counted in round R1 of CD-2026 already"


def test_a_bill_of_an_affiliated_holder_is_excluded_cd3() -> None:
    decided = base(
        bills=[bill("INV-1", "500.00", "250.00", AFFILIATE), bill("INV-2", "300.00", "150.00")]
    )
    assert decided.inclusive == (1, Decimal(300))
    assert decided.excluded == [
        {"invoice": "INV-1", "amount": Decimal(500), "reason": "affiliated-parties (CD-3)"}
    ]


def test_a_bill_the_supplier_served_to_itself_is_excluded_cd1() -> None:
    """「租用非关联方提供的算力服务」: renting from oneself is no voucher business."""
    decided = base(
        bills=[bill("INV-1", "500.00", "250.00", SUPPLIER)], special=[spend(SUPPLIER, "1000.00")]
    )
    assert decided.bills == {} and decided.special == {}
    assert {e["reason"] for e in decided.excluded} == {
        "affiliated-parties: the holder is the supplier itself (CD-1, CD-3)"
    }


def test_no_business_gives_an_empty_base() -> None:
    decided = base()
    assert decided.inclusive == (0, Decimal("0.00"))
    assert decided.special == {} and decided.excluded == []


def test_special_spend_of_a_holder_counts_up_to_what_its_voucher_supported() -> None:
    """A 2,000,000 special voucher at 20% supported 10,000,000 of its holder's spend."""
    decided = base(special=[spend(HOLDER, "7000000.00")])
    assert decided.special == {HOLDER: Decimal(7_000_000)} and decided.excluded == []
    decided = base(special=[spend(HOLDER, "7000000.00", counted="6000000.00")])
    assert decided.special == {HOLDER: Decimal(4_000_000)}
    assert decided.claimed == {HOLDER: Decimal(7_000_000)}
    assert decided.excluded[0]["amount"] == Decimal(3_000_000)


def test_special_spend_counts_only_once_the_voucher_was_paid_out_cd10() -> None:
    decided = base(special=[spend(HOLDER, "1000.00", paid_out=False)])
    assert decided.special == {}
    assert decided.excluded[0]["reason"].startswith("not paid out (兑付)")


def test_special_spend_served_while_on_no_list_of_the_spend_year_is_excluded_cd2() -> None:
    """The special vouchers of 2025 rest on the holders' 2024 spend (上年度算力支出): the
    supplier must have been on a 2024 list."""
    decided = base(special=[spend(HOLDER, "700000.00")], listed=False)
    assert decided.special == {}
    assert decided.excluded == [
        {
            "holder": HOLDER,
            "amount": Decimal(700_000),
            "reason": "supplier-not-listed in 2024 (CD-2)",
        }
    ]


def test_unlisted_supplier_keeps_its_inclusive_bills_checked_when_redeemed() -> None:
    decided = base(bills=[bill("INV-1", "100.00", "50.00")], listed=False)
    assert decided.inclusive == (1, Decimal(100))


def test_spend_of_a_unit_holding_no_special_voucher_is_excluded() -> None:
    decided = base(special=[spend(STRANGER, "1000.00", holds=False)])
    assert decided.excluded == [
        {
            "holder": STRANGER,
            "amount": Decimal(1000),
            "reason": "not a special-voucher holder of CD-2025",
        }
    ]


def test_special_spend_of_an_affiliated_holder_is_excluded_cd3() -> None:
    decided = base(special=[spend(AFFILIATE, "1000.00"), spend(HOLDER, "10.00")])
    assert decided.special == {HOLDER: Decimal(10)}
    assert decided.excluded == [
        {"holder": AFFILIATE, "amount": Decimal(1000), "reason": "affiliated-parties (CD-3)"}
    ]


def test_reasons_are_tried_listing_then_holding_then_affiliation() -> None:
    unlisted = base(special=[spend(AFFILIATE, "1.00", holds=False)], listed=False)
    assert unlisted.excluded[0]["reason"] == "supplier-not-listed in 2024 (CD-2)"
    not_holder = base(special=[spend(AFFILIATE, "1.00", holds=False)])
    assert not_holder.excluded[0]["reason"] == "not a special-voucher holder of CD-2025"


def test_exclusions_list_bills_by_invoice_then_holders_by_code() -> None:
    decided = base(
        bills=[bill("INV-9", "1.00", "0.50", AFFILIATE), bill("INV-1", "2.00", "1.00", AFFILIATE)],
        special=[spend(STRANGER, "3.00", holds=False), spend(AFFILIATE, "4.00")],
    )
    assert [e.get("invoice", e.get("holder")) for e in decided.excluded] == [
        "INV-1",
        "INV-9",
        AFFILIATE,
        STRANGER,
    ]


def test_the_twenty_percent_is_of_the_years_business_across_rounds() -> None:
    """「补贴不超过20%的算力服务费用」 per supplier per year: two rounds on 0.08 each. 20% of
    each alone rounds down to 0.01 (0.02 in all); of the year's 0.16 it is 0.03 — so the second
    round, planned on the 0.08 granted on already, gets 0.02."""
    first = plan_line(SUPPLIER, Decimal("0.08"), FIFTH, Decimal(2_000_000))
    second = plan_line(SUPPLIER, Decimal("0.08"), FIFTH, Decimal(2_000_000), Decimal("0.08"))
    assert (first.computed, second.computed) == (Decimal("0.01"), Decimal("0.02"))


def test_the_yearly_cap_takes_what_earlier_rounds_were_granted() -> None:
    """「每家单位每年度最高可获取200万元」: 1,500,000 granted already leaves 500,000."""
    line = plan_line(SUPPLIER, Decimal(5_000_000), FIFTH, Decimal(500_000), Decimal(7_500_000))
    assert (line.computed, line.planned, line.capped_off) == (
        Decimal(1_000_000),
        Decimal(500_000),
        Decimal(500_000),
    )


# ---- CD-7: the green award goes to data centres ----------------------------------------------


def test_a_data_centre_may_receive_the_green_award() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    GreenAward.require_eligible(green, SUPPLIER, "data-centre")  # no refusal


def test_a_scheduling_platform_is_not_a_data_centre_cd7() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    with pytest.raises(Rejected) as refused:
        GreenAward.require_eligible(green, SUPPLIER, "scheduling-platform")
    assert refused.value.code == "not-a-data-centre"


# ---- CD-7 with §六(一): "newly approved" is a window -----------------------------------------
#
# 「对新获批的国家绿色数据中心一次性给予100万元的"绿色算力券"奖励」; newly_approved_within_days
# is 365 by default, and never before the policy's first year (2024).


def test_a_certification_within_365_days_of_the_award_is_newly_approved() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    assert green.value("newly_approved_within_days") == 365
    GreenAward.require_newly_approved(green, date(2026, 3, 15), date(2026, 3, 16), 2024)
    GreenAward.require_newly_approved(green, date(2025, 3, 16), date(2026, 3, 16), 2024)


def test_a_certification_from_2016_or_older_than_the_window_is_not_newly_approved() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    for certified in (date(2016, 6, 1), date(2025, 3, 15)):
        with pytest.raises(Rejected) as refused:
            GreenAward.require_newly_approved(green, certified, date(2026, 3, 16), 2024)
        assert refused.value.code == "not-newly-approved"
        assert "新获批" in refused.value.message


def test_a_certification_before_the_policys_first_year_is_not_newly_approved() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    with pytest.raises(Rejected) as refused:
        GreenAward.require_newly_approved(green, date(2023, 12, 31), date(2024, 3, 1), 2024)
    assert refused.value.code == "not-newly-approved"
    assert refused.value.details == {"earliest": "2024-01-01"}


def test_a_certification_dated_after_the_award_is_refused() -> None:
    green = POLICIES["chengdu"].instrument_of_type(ONE_OFF_AWARD)
    with pytest.raises(Rejected) as refused:
        GreenAward.require_newly_approved(green, date(2026, 3, 17), date(2026, 3, 16), 2024)
    assert refused.value.code == "certification-in-future"


# ---- CD-3: 「申领主体具备独立法人资格」 -------------------------------------------------------


def test_accepted_registration_categories_are_policy_data() -> None:
    chengdu = POLICIES["chengdu"]
    assert chengdu.get("applicants.legal_person_categories") == [
        "11",
        "12",
        "51",
        "52",
        "53",
        "91",
        "93",
    ]
    assert chengdu.get("suppliers.legal_person_categories") == chengdu.get(
        "applicants.legal_person_categories"
    )
    assert POLICIES["qingdao"].get("applicants.legal_person_categories") is None


def test_an_individual_business_category_92_is_not_a_legal_person() -> None:
    categories = POLICIES["chengdu"].get("applicants.legal_person_categories")
    individual = make_credit_code("92510100MA6000001")
    with pytest.raises(Rejected) as refused:
        require_legal_person(individual, categories)
    assert refused.value.code == "not-a-legal-person"
    assert refused.value.details == {"credit_code": individual, "category": "92"}
    assert "个体工商户" in refused.value.message and "具备独立法人资格" in refused.value.message
    for legal in ("91510100MA6000001", "12510100MA6000001", "52510100MA6000001"):
        require_legal_person(make_credit_code(legal), categories)  # no refusal
    require_legal_person(individual, None)  # a policy without the rule


# ---- CD-1, CD-3: renting from oneself ----------------------------------------------------------


def test_a_supplier_renting_to_itself_is_refused_like_an_affiliation() -> None:
    """「租用非关联方提供的算力服务」: holder and supplier the same entity is affiliated."""
    code = make_credit_code("91510100MA7000001")
    supplier = Supplier.register(CTX, code, "智算中心", "data-centre", "Chengdu")
    assert supplier.is_affiliated_with(code)
    assert not supplier.is_affiliated_with(HOLDER)
    with pytest.raises(Rejected) as refused:
        supplier.require_not_affiliated_with(code)
    assert refused.value.code == "affiliated-parties"
    assert "is the holder itself" in refused.value.message
    supplier.record_affiliation(CTX, HOLDER, "registry")
    assert supplier.is_affiliated_with(HOLDER)
