"""Decider tests for inclusive-voucher rules moved out of the handlers: an invoice is redeemed
once (a retry changes nothing), and vouchers lapse only after their year (CD-8). Aggregates are
built from their events; no ledger, no database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger.errors import Rejected
from ledger.events import Context
from ledger.policy import DEDUCTION_VOUCHER, bundled_policies
from ledger.programme import Programme
from ledger.voucher import Redemption, Voucher

SHANGHAI = ZoneInfo("Asia/Shanghai")
CTX = Context(datetime(2025, 3, 12, 10, tzinfo=SHANGHAI), "clerk", "cmd-1")
CHENGDU = bundled_policies()["chengdu"]


def redeemed() -> Redemption:
    """Given voucher CD-2025-INC-0001 redeemed with invoice INV-1: a bill of 8000 on 10 March."""
    instrument = CHENGDU.instrument_of_type(DEDUCTION_VOUCHER)
    voucher = Voucher.issue(CTX, "CD-2025-INC-0001", "CD-2025", 2025, instrument, "H-1")
    return Redemption.record(
        CTX,
        voucher,
        "S-1",
        "INV-1",
        Decimal("8000.00"),
        "compute",
        date(2025, 3, 10),
        Decimal(4000),
    )


def test_the_same_bill_presented_again_is_a_retry() -> None:
    redeemed().require_retry_of(
        "CD-2025-INC-0001", Decimal("8000.00"), "compute", date(2025, 3, 10)
    )  # no refusal: the handler stores nothing


@pytest.mark.parametrize(
    ("voucher", "bill", "kind", "day"),
    [
        ("CD-2025-INC-0002", "8000.00", "compute", date(2025, 3, 10)),
        ("CD-2025-INC-0001", "8000.01", "compute", date(2025, 3, 10)),
        ("CD-2025-INC-0001", "8000.00", "storage", date(2025, 3, 10)),
        ("CD-2025-INC-0001", "8000.00", "compute", date(2025, 3, 11)),
    ],
)
def test_the_invoice_number_with_another_bill_is_a_duplicate_reference(
    voucher: str, bill: str, kind: str, day: date
) -> None:
    with pytest.raises(Rejected) as refused:
        redeemed().require_retry_of(voucher, Decimal(bill), kind, day)
    assert refused.value.code == "duplicate-reference"
    assert "invoice INV-1 of supplier S-1 was already redeemed" in refused.value.message


def test_vouchers_lapse_only_after_their_year_has_ended_cd8() -> None:
    programme = Programme.open(CTX, CHENGDU, 2025)
    new_years_eve = Context(datetime(2025, 12, 31, 23, 59, tzinfo=SHANGHAI), "clerk", "cmd-2")
    with pytest.raises(Rejected) as refused:
        programme.require_year_ended(new_years_eve)
    assert refused.value.code == "programme-year-not-ended"
    new_year = Context(datetime(2026, 1, 1, tzinfo=SHANGHAI), "clerk", "cmd-3")
    programme.require_year_ended(new_year)  # no refusal
