"""Decider tests for Qingdao claims (QD-2, QD-4, QD-5, QD-7, QD-8): given the programme's
parameters and the contracts claimed before, when an operator's detail lines are decided, then
each line counts (wholly or in part) or is excluded with its reason — never dropped; given
approved contract amounts, the pool is shared by them; given a claim blacklisted after the city
review, a re-review excludes it. No ledger, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from ledger.errors import Rejected
from ledger.events import Context
from ledger.ids import make_credit_code
from ledger.policy import PRO_RATA_CLAIM_SUBSIDY, Instrument, Param, Policy, bundled_policies
from ledger.pro_rata import (
    ClaimLine,
    ClaimRound,
    ContractLine,
    DecidedLine,
    EarlierClaim,
    InvoicePart,
    allocate_by_contract,
    customer_division,
    decide_claim_lines,
    pool_of,
)

QINGDAO: Policy = bundled_policies()["qingdao"]
SUBSIDY: Instrument = QINGDAO.instrument_of_type(PRO_RATA_CLAIM_SUBSIDY)
CUSTOMER = make_credit_code("91370212MA3D00001")  # 370212: Laoshan district, Qingdao
PROVINCIAL = make_credit_code("91370000MA3D00002")  # 370000: registered at province level
JINAN = make_credit_code("91370102MA3D00003")  # 370102: Lixia district, Jinan
INSTITUTE = make_credit_code("12370200MB0000004")  # 12: a public institution (事业单位), Qingdao
M = Decimal(1_000_000)


def line(contract: str = "HT-1", **changes: object) -> ClaimLine:
    """A line wholly inside the 2023-02-22 … 2023-12-31 window, for a customer in Qingdao."""
    fields: dict[str, object] = {
        "customer": CUSTOMER,
        "customer_in_area": True,
        "contract_number": contract,
        "amount": Decimal("100000.00"),
        "service_from": date(2023, 3, 1),
        "service_to": date(2023, 11, 30),
        "invoice": "FP-1",
        "bank_receipt": "BR-1",
        "funded_elsewhere": False,
    }
    return ClaimLine(**{**fields, **changes})  # type: ignore[arg-type]


def reasons(
    *lines: ClaimLine,
    earlier: dict[UUID, EarlierClaim] | None = None,
    instrument: Instrument = SUBSIDY,
) -> list[str]:
    return [d.excluded for d in decide(*lines, earlier=earlier, instrument=instrument)]


def decide(
    *lines: ClaimLine,
    earlier: dict[UUID, EarlierClaim] | None = None,
    instrument: Instrument = SUBSIDY,
) -> list[DecidedLine]:
    decided = decide_claim_lines(QINGDAO, instrument, lines, earlier or {})
    assert [d.line for d in decided] == list(lines)  # every line kept, in order
    return decided


def with_params(**values: object) -> Instrument:
    params = dict(SUBSIDY.params)
    for key, value in values.items():
        params[key] = Param(value, SUBSIDY.params[key].clause)
    return replace(SUBSIDY, params=params)


def without_duplicate_check() -> Instrument:
    return with_params(duplicate_funding_check=False)


def test_a_line_inside_the_window_for_a_customer_in_the_area_is_eligible() -> None:
    assert reasons(line()) == [""]


def test_a_customer_declared_outside_qingdao_is_excluded_qd2() -> None:
    """Where the credit code names no city (370000: province level), the declaration decides."""
    assert reasons(line(customer=PROVINCIAL, customer_in_area=False)) == [
        "customer not in Qingdao (QD-2)"
    ]
    assert reasons(line(customer=PROVINCIAL, customer_in_area=True)) == [""]


def test_service_wholly_before_the_window_is_excluded_qd5() -> None:
    assert reasons(line(service_from=date(2023, 1, 1), service_to=date(2023, 2, 21))) == [
        "service 2023-01-01–2023-02-21 outside 2023-02-22–2023-12-31 (QD-5)"
    ]


def test_service_wholly_after_the_window_is_excluded_qd5() -> None:
    assert reasons(line(service_from=date(2024, 1, 1), service_to=date(2024, 3, 1)))[0].endswith(
        "outside 2023-02-22–2023-12-31 (QD-5)"
    )


def test_the_windows_first_and_last_days_count() -> None:
    edges = line(service_from=date(2023, 2, 22), service_to=date(2023, 12, 31))
    assert reasons(edges) == [""]


def test_a_line_declared_funded_elsewhere_is_excluded_qd8() -> None:
    assert reasons(line(funded_elsewhere=True)) == ["declared funded elsewhere (QD-8)"]


def test_the_same_contract_twice_in_one_claim_counts_once_qd8() -> None:
    assert reasons(line("HT-1"), line(" ht-1 ")) == ["", "listed twice in this claim (QD-8)"]


def test_a_contract_claimed_before_is_excluded_naming_who_claimed_it_qd8() -> None:
    earlier = {ContractLine.id_for(CUSTOMER, "HT-1"): EarlierClaim("OP-EARLIER", "QD-2023")}
    assert reasons(line("HT-1"), line("HT-2"), earlier=earlier) == [
        "claimed by OP-EARLIER in QD-2023 (QD-8)",
        "",
    ]


def test_given_a_contract_line_claimed_in_an_earlier_programme_it_names_its_claimant() -> None:
    ctx = Context(datetime(2023, 3, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")), "clerk", "cmd-0")
    registered = ContractLine.claim(ctx, CUSTOMER, "HT-1", "QD-2023", "OP-EARLIER")
    earlier = {registered.id: registered.earlier_claim}
    assert reasons(line(" ht-1"), earlier=earlier) == ["claimed by OP-EARLIER in QD-2023 (QD-8)"]


def test_an_excluded_line_still_makes_a_later_copy_listed_twice() -> None:
    assert reasons(line("HT-1", customer=JINAN), line("HT-1", customer=JINAN)) == [
        "customer not in Qingdao: credit code division 370102 (QD-2)",
        "customer not in Qingdao: credit code division 370102 (QD-2)",
    ]
    assert reasons(line("HT-1", service_to=date(2022, 12, 31)), line("HT-1")) == [
        "service ends 2022-12-31 before it starts (QD-5)",
        "listed twice in this claim (QD-8)",
    ]


def test_the_first_reason_wins_area_then_window_then_funding() -> None:
    everything_wrong = line(customer=JINAN, service_from=date(2022, 1, 1), funded_elsewhere=True)
    assert reasons(everything_wrong)[0].startswith("customer not in Qingdao")
    late_and_funded = line(
        service_from=date(2024, 1, 2), service_to=date(2024, 6, 1), funded_elsewhere=True
    )
    assert reasons(late_and_funded)[0].startswith("service ")


def test_without_the_duplicate_check_repeats_and_earlier_claims_pass() -> None:
    earlier = {ContractLine.id_for(CUSTOMER, "HT-1"): EarlierClaim("OP-EARLIER", "QD-2023")}
    unchecked = without_duplicate_check()
    assert reasons(line("HT-1"), line("HT-1"), earlier=earlier, instrument=unchecked) == ["", ""]
    # a declaration of other funding is still honoured
    assert reasons(line(funded_elsewhere=True), instrument=unchecked) == [
        "declared funded elsewhere (QD-8)"
    ]


# ---- QD-2: Qingdao customers, from the credit code where it says (item 15) ------------------


def test_the_customers_place_is_read_from_its_credit_code_division_3702_qd2() -> None:
    """「为青岛市企业、科研机构、创新平台提供…服务」: characters 3–8 of a credit code are its
    administrative division; Qingdao's begin 3702. The code decides over a declaration."""
    assert customer_division(CUSTOMER) == "370212"
    assert customer_division(PROVINCIAL) is None  # 370000 names no city: declared instead
    (decided,) = decide(line(customer=CUSTOMER, customer_in_area=False))
    assert decided.excluded == ""
    assert decided.notes == (
        "place from credit code: division 370212",
        "declared not in Qingdao; the credit code decides",
        "kind from credit code: enterprise",
    )
    assert reasons(line(customer=JINAN, customer_in_area=True)) == [
        "customer not in Qingdao: credit code division 370102 (QD-2)"
    ]


def test_a_customer_whose_code_names_no_city_and_who_declares_nothing_is_excluded() -> None:
    assert reasons(line(customer=PROVINCIAL, customer_in_area=None)) == [
        "customer's place not in its credit code and not declared (QD-2)"
    ]


def test_the_kinds_are_the_notices_enterprises_institutes_and_innovation_platforms_qd2() -> None:
    """「企业、科研机构、创新平台」: the parameter file lists these three, not universities."""
    assert QINGDAO.value("applicants.kinds") == [
        "enterprise",
        "research-institute",
        "innovation-platform",
    ]
    assert reasons(line(customer=INSTITUTE, customer_kind="innovation-platform")) == [""]
    assert reasons(line(customer=INSTITUTE, customer_kind="research-institute")) == [""]
    assert reasons(line(customer=INSTITUTE, customer_kind="university")) == [
        "customer kind university is not one of enterprise, research-institute, "
        "innovation-platform (QD-2)"
    ]
    # Category 12 (a public institution) does not say which kind: it must be declared.
    assert reasons(line(customer=INSTITUTE)) == [
        "customer kind not declared, and credit code category 12 is not an enterprise's (QD-2)"
    ]


# ---- QD-2: the notice is silent on tax (item 12) ---------------------------------------------


def test_the_contract_amount_counts_as_the_contract_states_it_by_default_qd2() -> None:
    """「按其提供的算力服务合同金额给予不超过50%的补助」 says nothing of tax: by default a line's
    1,060,000.00 contract amount (tax 60,000.00 stated) counts as 1,060,000.00."""
    assert SUBSIDY.value("contract_amount_tax") == "as-contracted"
    assert QINGDAO.value("validity.amounts_exclude_tax") is False  # no claim the notice lacks
    (decided,) = decide(line(amount=Decimal("1060000.00"), tax=Decimal("60000.00")))
    assert decided.counted == Decimal("1060000.00")


def test_with_tax_excluded_a_line_counts_its_amount_less_its_stated_tax() -> None:
    tax_exclusive = with_params(contract_amount_tax="tax-exclusive")
    (decided,) = decide(
        line(amount=Decimal("1060000.00"), tax=Decimal("60000.00")), instrument=tax_exclusive
    )
    assert decided.counted == Decimal("1000000.00")
    assert reasons(line(), instrument=tax_exclusive) == [
        "no tax stated; contract amounts count tax excluded (QD-2)"
    ]


# ---- QD-5: the part inside the window counts (item 13) ---------------------------------------


def test_the_part_of_a_contract_inside_the_window_counts_by_service_days_qd5() -> None:
    """「相关证明材料时间限定为2023年2月22日至12月31日期间内」: a 3,340,000.00 contract served
    2023-02-01 … 12-31 (334 days) has 313 days inside: 3,130,000.00 counts."""
    (decided,) = decide(
        line(
            amount=Decimal("3340000.00"),
            service_from=date(2023, 2, 1),
            service_to=date(2023, 12, 31),
        )
    )
    assert decided.excluded == ""
    assert decided.counted == Decimal("3130000.00")
    assert decided.notes[-1] == "313 of 334 service days inside 2023-02-22–2023-12-31 (QD-5)"


def test_by_invoice_dates_the_invoices_dated_inside_the_window_count_qd5() -> None:
    by_invoices = with_params(service_window_basis="invoice-dates")
    invoices = (
        InvoicePart("FP-1", date(2023, 2, 10), Decimal("400000.00")),  # before 2023-02-22
        InvoicePart("FP-2", date(2023, 6, 30), Decimal("600000.00")),
    )
    (decided,) = decide(
        line(amount=Decimal("1000000.00"), invoices=invoices), instrument=by_invoices
    )
    assert decided.counted == Decimal("600000.00")
    assert (
        decided.notes[-1] == "invoiced 600000.00 of 1000000.00 inside 2023-02-22–2023-12-31 (QD-5)"
    )
    assert reasons(line(), instrument=by_invoices) == [
        "no dated invoices to place in 2023-02-22–2023-12-31 (QD-5)"
    ]
    assert reasons(line(invoices=invoices[:1]), instrument=by_invoices) == [
        "invoices dated outside 2023-02-22–2023-12-31 (QD-5)"
    ]


# ---- QD-3, QD-4: the pool shared by contract amounts (item 11) -------------------------------

SPLIT = SUBSIDY.value("funding_split")
POOL = pool_of(SUBSIDY)


def test_the_pool_is_shared_by_contract_amounts_not_by_rounded_entitlements_qd4() -> None:
    """「按照算力服务合同金额比例予以分配补助」 and 「市、区两级按照1:1比例负担」:
    approved contracts of 12,800,808.20, 17,944,726.58 and 29,669,765.06 (50% =
    30,207,649.92 > the 20,000,000 pool).
    The city's 10,000,000 by contract amounts is exactly 2,118,802.395…, 2,970,228.837…,
    4,910,968.767…: to the fen by largest remainder .39, .84, .77. Sharing by the entitlements
    rounded to the fen first gave .40 and .83 — a fen moved from B to A."""
    a, b, c = (make_credit_code(f"91370200MA3C0000{n}") for n in (1, 2, 3))
    contracts = {
        a: Decimal("12800808.20"),
        b: Decimal("17944726.58"),
        c: Decimal("29669765.06"),
    }
    allocation = allocate_by_contract(contracts, Decimal("0.50"), SPLIT, POOL)
    halves = {a: Decimal("2118802.39"), b: Decimal("2970228.84"), c: Decimal("4910968.77")}
    for k, half in halves.items():
        assert allocation.shares[k] == {"city": half, "district": half}
    assert sum(halves.values()) == 10 * M
    assert sum(allocation.allocations.values()) == 20 * M
    assert allocation.contract_amounts == contracts


def test_no_operator_is_raised_above_fifty_percent_of_its_contract_by_a_remainder() -> None:
    """「不超过50%」: a 1.19 contract's quarter (city's part) is 0.2975. Its share of a short
    13.10 is 0.2952…, whose remainder is the largest — but a fen more (0.30) would pass 25%,
    so the fen goes to the next in line."""
    contracts = {"A": Decimal("29.74"), "B": Decimal("1.19"), "C": Decimal("21.62")}
    allocation = allocate_by_contract(contracts, Decimal("0.50"), SPLIT, Decimal("26.20"))
    assert {k: s["city"] for k, s in allocation.shares.items()} == {
        "A": Decimal("7.42"),
        "B": Decimal("0.29"),
        "C": Decimal("5.39"),
    }
    assert allocation.entitlements["B"] == Decimal("0.58")  # 0.29 from each level


def test_when_the_pool_suffices_each_level_pays_its_half_of_fifty_percent() -> None:
    allocation = allocate_by_contract({"A": Decimal("1000000.02")}, Decimal("0.50"), SPLIT, POOL)
    assert allocation.shares == {
        "A": {"city": Decimal("250000.00"), "district": Decimal("250000.00")}
    }
    assert allocation.scale == 1


# ---- QD-7: blacklisted after the city review (item 14) ----------------------------------------


def _ctx(month: int, day: int) -> Context:
    return Context(datetime(2024, month, day, 10, tzinfo=ZoneInfo("Asia/Shanghai")), "t", "c")


def _reviewed_round(*contracts: tuple[str, Decimal]) -> ClaimRound:
    round_ = ClaimRound.open(_ctx(1, 22), "QD-2024", SUBSIDY.name)
    for n, (operator, amount) in enumerate(contracts):
        decided = decide(line(f"HT-{n}", amount=amount))
        round_.submit(_ctx(1, 22), SUBSIDY, operator, "audit", decided)
        round_.pre_review(_ctx(2, 1), SUBSIDY, operator, True, True, "ok")
        round_.city_review(_ctx(3, 5), operator, True, None, "expert panel", "verified")
    return round_


def test_a_re_review_excludes_a_late_blacklisted_operator_and_the_others_share_the_pool() -> None:
    """「对列入…黑名单…的，取消政策性资金扶持」: B (20,000,000 approved) is listed after the city
    review; the re-review excludes it, and A and C (24,000,000 and 16,000,000: 50% = 20,000,000)
    share the 20,000,000 pool, 12,000,000 and 8,000,000 — none of it to B."""
    round_ = _reviewed_round(("A", 24 * M), ("B", 20 * M), ("C", 16 * M))
    round_.re_review(_ctx(3, 18), SUBSIDY, "B", "blacklist", "ENV-1", "复核", "listed")
    assert round_.approved_amounts() == {"A": 24 * M, "C": 16 * M}
    allocation = allocate_by_contract(round_.approved_amounts(), Decimal("0.50"), SPLIT, POOL)
    assert allocation.allocations == {"A": 12 * M, "C": 8 * M}
    with pytest.raises(Rejected) as twice:
        round_.re_review(_ctx(3, 19), SUBSIDY, "B", "blacklist", "ENV-1", "复核", "again")
    assert twice.value.code == "already-reviewed"


def test_only_a_city_reviewed_claim_can_be_re_reviewed_and_only_before_allocation() -> None:
    round_ = ClaimRound.open(_ctx(1, 22), "QD-2024", SUBSIDY.name)
    round_.submit(_ctx(1, 22), SUBSIDY, "A", "audit", decide(line()))
    with pytest.raises(Rejected) as early:
        round_.re_review(_ctx(3, 18), SUBSIDY, "A", "green-threshold", "", "复核", "r")
    assert early.value.code == "not-city-reviewed"
