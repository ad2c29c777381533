"""The handler registry: which function handles which declared command."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ledger.events import Context, Events
from ledger.vocabulary import Command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

C = TypeVar("C", bound=Command)
Handler = Callable[["VoucherLedger", Context, Any], Events]

HANDLERS: dict[type[Command], Handler] = {}


def handles(
    declaration: type[C],
) -> Callable[[Callable[[VoucherLedger, Context, C], Events]], Handler]:
    """Register a function as the one handler of a declared command."""

    def register(handler: Callable[[VoucherLedger, Context, C], Events]) -> Handler:
        if declaration in HANDLERS:
            raise TypeError(f"{declaration.command_name} has two handlers")
        HANDLERS[declaration] = handler
        return handler

    return register
