"""Aggregates taken from the cache are copied for each command: the copy must be as deep as
``copy.deepcopy`` made it, sharing only values that never change."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregate import copy_state
from tests.scenario import PROGRAMME, World, at, in_memory_ledger

leaves = st.one_of(
    st.text(max_size=5), st.integers(), st.decimals(allow_nan=False), st.dates(), st.none()
)
states = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=4),
        st.sets(st.text(max_size=3), max_size=4),
        st.tuples(leaves, leaves),
    ),
    max_leaves=20,
)


def containers(value: Any) -> list[Any]:
    """Every mutable container in a state tree."""
    found: list[Any] = []
    if isinstance(value, dict | list | set):
        found.append(value)
        inner = value.values() if isinstance(value, dict) else value
        for v in inner:
            found += containers(v)
    return found


@given(states)
def test_copy_state_equals_deepcopy_and_shares_no_mutable_container(state: Any) -> None:
    copied = copy_state(state)
    assert copied == copy.deepcopy(state)
    shared = {id(c) for c in containers(state)} & {id(c) for c in containers(copied)}
    assert not shared


def test_a_copied_programme_changes_independently_and_shares_its_policy() -> None:
    world = World(in_memory_ledger(), applicants=2)
    programme = world.app.programme(PROGRAMME)
    programme.allot_voucher(at(2, 1), programme.policy.instrument("inclusive"), world.applicants[0])
    copied = copy.deepcopy(programme)
    assert copied.__dict__.keys() == programme.__dict__.keys()
    assert copied.policy is programme.policy  # frozen: shared, not copied
    copied.allot_voucher(at(2, 2), copied.policy.instrument("inclusive"), world.applicants[1])
    assert programme.drawn == {"inclusive": 1} and copied.drawn == {"inclusive": 2}
    assert list(programme.holdings) == [world.applicants[0]]
    assert programme.voucher_numbers() == ["CD-2025-INC-0001"]
    assert copied.version == programme.version + 1
    assert isinstance(Decimal("1.00"), type(copy_state(Decimal("1.00"))))
    assert copy_state(date(2025, 1, 1)) == date(2025, 1, 1)
