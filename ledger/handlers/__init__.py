"""Command handlers, grouped by policy area. Each area module declares its commands (see
``ledger.vocabulary``) next to the functions that handle them; importing this package
registers every one of them."""

from ledger.handlers import (  # noqa: F401  (imported to register the declarations)
    administration,
    claims,
    enforcement,
    finance,
    inclusive,
    periods,
    registration,
    special,
    supplier_side,
    tokens,
)
from ledger.handlers.base import HANDLERS

__all__ = ["HANDLERS"]
