"""CNY amounts: ``Decimal`` with exactly two places, never float.

Every amount in the ledger excludes tax (CD-14); the parsing rules here are the only place
where an amount enters the system.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

from ledger.errors import InvalidInput

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# A ceiling far above any programme's budget; larger inputs are typos or attacks.
MAX_AMOUNT = Decimal("1000000000000.00")
# Plain digits only: no exponents, underscores, thousands separators or NaN spellings.
_DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,30}(\.[0-9]{1,30})?$")


def parse_amount(value: object, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Parse an amount from a decimal string, an int or an exact Decimal.

    Refuses floats (binary parsing already lost exactness), NaN/Infinity, negatives, zero
    (unless ``allow_zero``), more than two decimal places and absurd magnitudes.
    """
    if isinstance(value, bool | float):
        raise InvalidInput(
            "invalid-amount",
            f"{field}: {value!r} is a binary float or boolean; give the amount as a decimal "
            'string such as "1234.50"',
            field=field,
        )
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.match(value.strip()):
            raise InvalidInput(
                "invalid-amount",
                f"{field}: {value!r} is not a plain decimal amount such as 1234.50",
                field=field,
            )
        amount = Decimal(value.strip())
    else:
        raise InvalidInput(
            "invalid-amount", f"{field}: expected a decimal amount, got {value!r}", field=field
        )
    if not amount.is_finite():
        raise InvalidInput("invalid-amount", f"{field}: {value!r} is not finite", field=field)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -2:
        raise InvalidInput(
            "invalid-amount",
            f"{field}: {value!r} has more than two decimal places (amounts are in yuan to the fen)",
            field=field,
        )
    if amount < 0:
        raise InvalidInput("invalid-amount", f"{field}: {value!r} is negative", field=field)
    if amount == 0 and not allow_zero:
        raise InvalidInput("invalid-amount", f"{field}: must be more than zero", field=field)
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            "invalid-amount", f"{field}: {value!r} exceeds {MAX_AMOUNT:,} CNY", field=field
        )
    return amount.quantize(FEN)


def share_of(amount: Decimal, rate: Decimal) -> Decimal:
    """``rate`` of ``amount``, rounded *down* to the fen so a cap expressed as a rate is
    never exceeded by rounding."""
    return (amount * rate).quantize(FEN, rounding=ROUND_DOWN)


def to_fen(amount: Decimal) -> int:
    """Integer fen, the read models' storage unit (exact on every database)."""
    return int(amount.quantize(FEN) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)
