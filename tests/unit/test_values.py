"""Value types: amounts (CD-14), credit codes (GB 32100-2015), business time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.clock import business_year, half_year, parse_business_time, parse_period
from ledger.errors import InvalidInput
from ledger.ids import CREDIT_CODE_CHARSET, make_credit_code, parse_credit_code
from ledger.money import parse_amount, share_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1234.5", "1234.50"), ("0.01", "0.01"), (Decimal("7"), "7.00"), (12, "12.00")],
)
def test_amounts_are_exact_two_place_decimals(text: object, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)
    assert str(parse_amount(text)) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.005", "more than two decimal places"),
        (1.5, "binary float"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("1e3", "plain decimal"),
        ("1_000", "plain decimal"),
        ("-5.00", "negative"),
        ("0", "more than zero"),
        ("10000000000000", "exceeds"),
        (True, "binary float or boolean"),
        (None, "expected a decimal amount"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(value: object, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(value, field="bill_amount")
    assert caught.value.code == "invalid-amount"
    assert why in caught.value.message
    assert caught.value.message.startswith("bill_amount")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e11"), places=2))
def test_any_two_place_amount_round_trips(amount: Decimal) -> None:
    assert parse_amount(str(amount)) == amount


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e11"), places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1"), places=2),
)
def test_a_share_never_exceeds_its_rate(amount: Decimal, rate: Decimal) -> None:
    share = share_of(amount, rate)
    assert share <= amount * rate
    assert amount * rate - share < Decimal("0.01")
    assert share.as_tuple().exponent == -2


def test_a_valid_credit_code_is_accepted() -> None:
    # A published example code with its check character.
    assert parse_credit_code("91350100M000100Y43") == "91350100M000100Y43"


def test_a_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_credit_code("91350100M000100Y44")
    assert caught.value.code == "invalid-credit-code"
    assert "expected '3'" in caught.value.message


@pytest.mark.parametrize("bad", ["9135010", "91350100M000100Y4I", "91350100M000100Y4O", 42])
def test_malformed_credit_codes_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        parse_credit_code(bad)


@given(st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17), st.data())
def test_every_single_character_change_is_detected(first17: str, data: st.DataObject) -> None:
    code = make_credit_code(first17)
    assert parse_credit_code(code) == code
    position = data.draw(st.integers(0, 17))
    replacement = data.draw(
        st.sampled_from(CREDIT_CODE_CHARSET).filter(lambda c: c != code[position])
    )
    altered = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidInput):
        parse_credit_code(altered)


def test_calendar_years_are_those_of_shanghai() -> None:
    # 2025-12-31 17:00 UTC is already 2026-01-01 01:00 in Chengdu.
    assert business_year(datetime(2025, 12, 31, 17, tzinfo=UTC)) == 2026
    assert business_year(datetime(2025, 12, 31, 15, tzinfo=UTC)) == 2025


def test_business_time_needs_a_time_zone() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_business_time("2025-03-01T09:00:00")
    assert caught.value.code == "invalid-time"
    assert "time zone" in caught.value.message


def test_half_year_periods() -> None:
    assert half_year(date(2025, 6, 30)) == "2025H1"
    assert half_year(date(2025, 7, 1)) == "2025H2"
    assert parse_period("2025h2") == "2025H2"
    with pytest.raises(InvalidInput):
        parse_period("2025Q3")
