"""Decider tests for CD-14 「本政策措施认定的金额不含税」: the amounts rules are computed on
exclude tax; a tax-inclusive total alone is refused or converted, per the policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.errors import InvalidInput, Rejected
from ledger.policy import bundled_policies
from ledger.tax import TaxExclusive, tax_exclusive
from ledger.voucher import Voucher
from tests.scenario import at

D = Decimal


def decide(**given: Decimal | str | None) -> TaxExclusive:
    fields: dict[str, object] = {
        "amount": None,
        "tax": None,
        "inclusive": None,
        "rate": None,
        "mode": "refuse",
    }
    fields.update(given)
    return tax_exclusive(field="bill_amount", **fields)  # type: ignore[arg-type]


def test_chengdu_refuses_tax_inclusive_input_by_default() -> None:
    assert bundled_policies()["chengdu"].get("validity.tax_inclusive_input") == "refuse"


def test_a_tax_exclusive_amount_and_its_tax_are_taken_as_given() -> None:
    assert decide(amount=D("8000.00"), tax=D("480.00")) == TaxExclusive(D("8000.00"), D("480.00"))
    # the total may be given too when the three add up
    assert decide(amount=D("8000.00"), tax=D("480.00"), inclusive=D("8480.00")).amount == D(
        "8000.00"
    )


def test_a_tax_inclusive_total_alone_is_refused_by_default() -> None:
    with pytest.raises(Rejected) as refused:
        decide(inclusive=D("8480.00"), rate=D("0.06"))
    assert refused.value.code == "tax-inclusive-amount-refused"
    assert "金额不含税" in refused.value.message


def test_converted_at_the_declared_rate_when_the_policy_says_convert() -> None:
    """8,480 with VAT at 6% is 8,000 without it and 480 of tax; 10,000 at 6% is 9,433.96."""
    assert decide(inclusive=D("8480.00"), rate=D("0.06"), mode="convert") == TaxExclusive(
        D("8000.00"), D("480.00"), D("0.06")
    )
    assert decide(inclusive=D("10000.00"), rate=D("0.06"), mode="convert").amount == D("9433.96")
    with pytest.raises(InvalidInput) as missing:
        decide(inclusive=D("8480.00"), mode="convert")
    assert missing.value.field == "tax_rate"


def test_inconsistent_or_missing_amounts_are_malformed_input() -> None:
    with pytest.raises(InvalidInput):
        decide(amount=D("8000.00"), inclusive=D("9000.00"), tax=D("480.00"))
    with pytest.raises(InvalidInput):
        decide()


def test_the_fifty_percent_is_of_the_tax_exclusive_bill() -> None:
    """「按不超过算力支出金额的50%直接抵扣」 on the bill without tax: 8,480 with tax is 8,000
    without, so at most 4,000 is deducted (not 4,240)."""
    chengdu = bundled_policies()["chengdu"]
    voucher = Voucher.issue(
        at(2, 1), "CD-2025-INC-0001", "CD-2025", 2025, chengdu.instruments["inclusive"], "H"
    )
    bill = decide(inclusive=D("8480.00"), rate=D("0.06"), mode="convert")
    assert voucher.deduction_for(bill.amount, None) == D("4000.00")
