"""Identifiers: unified social credit codes (GB 32100-2015) and deterministic aggregate ids.

Aggregate ids are uuid5 of natural keys, so "at most one" rules (one registration per credit
code, one redemption per supplier invoice) hold under races: a second writer collides on the
id and the event store refuses it.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from ledger.errors import InvalidInput

# GB 32100-2015: 31 characters — digits and capitals without I, O, Z, S, V.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
NAMESPACE = UUID("6f1c1b8e-3a57-5d8c-9c1e-2c7a9a0b4d11")


def credit_code_check_character(first17: str) -> str:
    total = sum(
        CREDIT_CODE_CHARSET.index(ch) * w
        for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def parse_credit_code(value: object, *, field: str = "credit_code") -> str:
    """Validate a unified social credit code; the message names the expected check character."""
    if not isinstance(value, str):
        raise InvalidInput("invalid-credit-code", f"{field}: expected a string", field=field)
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidInput(
            "invalid-credit-code",
            f"{field}: {value!r} has {len(code)} characters; a unified social credit code has 18",
            field=field,
        )
    bad = sorted({ch for ch in code if ch not in CREDIT_CODE_CHARSET})
    if bad:
        raise InvalidInput(
            "invalid-credit-code",
            f"{field}: {value!r} contains {', '.join(bad)}, which GB 32100-2015 does not use",
            field=field,
        )
    expected = credit_code_check_character(code[:17])
    if code[17] != expected:
        raise InvalidInput(
            "invalid-credit-code",
            f"{field}: {value!r} has check character {code[17]!r}; expected {expected!r}",
            field=field,
        )
    return code


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (demo and test data)."""
    return first17 + credit_code_check_character(first17)


def stable_id(*parts: object) -> UUID:
    """Deterministic aggregate id from a natural key."""
    return uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts))
