"""Amounts without tax (CD-14: 「本政策措施认定的金额不含税」).

Every amount a Chengdu rule is computed on — the bill a voucher deducts at most 50% of, the
business a supplier's 20% is of — is tax-exclusive. A bill is entered with its tax-exclusive
amount (the 金额 of a VAT invoice) and, where known, its tax (税额). An input that gives only
the tax-inclusive total (价税合计) is refused, or converted with the tax rate it declares, as
the policy's ``validity.tax_inclusive_input`` says (ADR 0014)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ledger.errors import InvalidInput, Rejected
from ledger.money import FEN


@dataclass(frozen=True)
class TaxExclusive:
    """The tax-exclusive amount a rule is computed on, the tax where known, and the rate it was
    converted with (None: entered tax-exclusive)."""

    amount: Decimal
    tax: Decimal | None = None
    converted_at: Decimal | None = None


def tax_exclusive(
    *,
    field: str,
    amount: Decimal | None,
    tax: Decimal | None,
    inclusive: Decimal | None,
    rate: Decimal | None,
    mode: str | None,
) -> TaxExclusive:
    """CD-14: ``amount`` (tax excluded) with its ``tax``; or, given only the tax-inclusive
    total ``inclusive``, refused (``mode`` "refuse" or unset: tax-inclusive-amount-refused) or
    converted at the declared ``rate`` ("convert": inclusive ÷ (1 + rate), to the fen, half up,
    as a VAT invoice rounds)."""
    if amount is not None:
        if inclusive is not None and (tax is None or amount + tax != inclusive):
            raise InvalidInput(
                "invalid-value",
                f"{field}: give the amount without tax, or the total with tax, not both "
                "(unless the tax is given and they add up)",
                field=f"{field}_incl_tax",
            )
        return TaxExclusive(amount, tax)
    if inclusive is None:
        raise InvalidInput("missing-field", f"{field}: the amount without tax", field=field)
    if mode != "convert":
        raise Rejected(
            "tax-inclusive-amount-refused",
            f"{field}: only the tax-inclusive total {inclusive} was given; the policy's amounts "
            "exclude tax (CD-14: 金额不含税) — give the invoice's amount without tax",
            inclusive=str(inclusive),
        )
    if rate is None:
        raise InvalidInput(
            "missing-field",
            f"tax_rate: converting the tax-inclusive {field} needs the invoice's tax rate",
            field="tax_rate",
        )
    excluded = (inclusive / (1 + rate)).quantize(FEN, rounding=ROUND_HALF_UP)
    return TaxExclusive(excluded, inclusive - excluded, rate)
