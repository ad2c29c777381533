"""The base of the ledger's aggregates, and the frozen values they hold.

The library deep-copies an aggregate each time a command takes it from the aggregate cache, so
that a refused command cannot leave the cached one half-changed. ``copy.deepcopy`` is general
and slow (a programme with 300 holders took 0.3 ms, more than a durable commit); aggregates are
plain trees of dicts, lists and sets over immutable values, so they copy themselves with a
walk that knows those shapes, and share what never changes.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate


class Value:
    """A value that never changes once made (use with ``@dataclass(frozen=True)``): copies of
    an aggregate share it (a programme's whole policy, a special round's candidates)."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


# By convention, tuples and frozensets in aggregate state hold only immutable values.
IMMUTABLE = (
    str,
    int,
    bool,
    float,
    Decimal,
    UUID,
    datetime,
    date,
    type(None),
    tuple,
    frozenset,
    Value,
)


def copy_state(value: Any) -> Any:
    """A deep copy of aggregate state; what is not a known shape is left to ``deepcopy``."""
    if isinstance(value, IMMUTABLE):
        return value
    kind = type(value)
    if kind is dict:
        return {k: copy_state(v) for k, v in value.items()}  # keys are immutable
    if kind is list:
        return [copy_state(v) for v in value]
    if kind is set:
        return {copy_state(v) for v in value}
    return deepcopy(value)


class LedgerAggregate(Aggregate):
    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied = object.__new__(type(self))
        copied.__dict__.update(copy_state(self.__dict__))
        return copied
