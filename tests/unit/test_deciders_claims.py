"""Decider tests for Qingdao claim lines (QD-2, QD-5, QD-8): given the programme's parameters
and the contracts claimed before, when an operator's detail lines are decided, then each line is
eligible or excluded with its reason — never dropped. No ledger, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from ledger.events import Context
from ledger.policy import PRO_RATA_CLAIM_SUBSIDY, Instrument, Param, Policy, bundled_policies
from ledger.pro_rata import ClaimLine, ContractLine, EarlierClaim, decide_claim_lines

QINGDAO: Policy = bundled_policies()["qingdao"]
SUBSIDY: Instrument = QINGDAO.instrument_of_type(PRO_RATA_CLAIM_SUBSIDY)
CUSTOMER = "C-QINGDAO"


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
    decided = decide_claim_lines(QINGDAO, instrument, lines, earlier or {})
    assert [claimed for claimed, _ in decided] == list(lines)  # every line kept, in order
    return [why for _, why in decided]


def without_duplicate_check() -> Instrument:
    params = dict(SUBSIDY.params)
    params["duplicate_funding_check"] = Param(False, "QD-8")
    return replace(SUBSIDY, params=params)


def test_a_line_inside_the_window_for_a_customer_in_the_area_is_eligible() -> None:
    assert reasons(line()) == [""]


def test_a_customer_outside_qingdao_is_excluded_qd2() -> None:
    assert reasons(line(customer_in_area=False)) == ["customer not in Qingdao (QD-2)"]


def test_service_starting_before_the_window_is_excluded_qd5() -> None:
    assert reasons(line(service_from=date(2023, 2, 21))) == [
        "service 2023-02-21–2023-11-30 outside 2023-02-22–2023-12-31 (QD-5)"
    ]


def test_service_running_past_the_window_is_excluded_qd5() -> None:
    assert reasons(line(service_to=date(2024, 1, 1)))[0].endswith(
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
    assert reasons(line("HT-1", customer_in_area=False), line("HT-1")) == [
        "customer not in Qingdao (QD-2)",
        "listed twice in this claim (QD-8)",
    ]


def test_the_first_reason_wins_area_then_window_then_funding() -> None:
    everything_wrong = line(
        customer_in_area=False, service_from=date(2022, 1, 1), funded_elsewhere=True
    )
    assert reasons(everything_wrong) == ["customer not in Qingdao (QD-2)"]
    late_and_funded = line(service_to=date(2024, 6, 1), funded_elsewhere=True)
    assert reasons(late_and_funded)[0].startswith("service ")


def test_without_the_duplicate_check_repeats_and_earlier_claims_pass() -> None:
    earlier = {ContractLine.id_for(CUSTOMER, "HT-1"): EarlierClaim("OP-EARLIER", "QD-2023")}
    unchecked = without_duplicate_check()
    assert reasons(line("HT-1"), line("HT-1"), earlier=earlier, instrument=unchecked) == ["", ""]
    # a declaration of other funding is still honoured
    assert reasons(line(funded_elsewhere=True), instrument=unchecked) == [
        "declared funded elsewhere (QD-8)"
    ]
