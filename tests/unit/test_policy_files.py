"""Policies are data: the bundled files load, every value cites a clause, and invalid files are
refused with a message naming the field."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from ledger.policy import PolicyFileError, bundled_policies, parse_policy, policy_from_mapping


def chengdu_raw() -> dict[str, Any]:
    text = resources.files("ledger.policy").joinpath("chengdu.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_chengdu_numbers_are_the_policys() -> None:
    policy = bundled_policies()["chengdu"]
    inclusive = policy.instrument("inclusive")
    assert inclusive.value("quota_per_year") == 300
    assert str(inclusive.value("face_value")) == "10000.00"
    assert str(inclusive.value("max_deduction_rate")) == "0.50"
    assert inclusive.clause("quota_per_year") == "CD-4"
    assert inclusive.exclusive_with == ["special"]
    assert inclusive.clause("exclusive_with") == "CD-13"
    special = policy.instrument("special")
    assert [(str(t.amount), t.places) for t in special.value("tiers")] == [
        ("2000000.00", 5),
        ("1000000.00", 10),
        ("500000.00", 20),
        ("300000.00", 50),
        ("100000.00", 50),
    ]
    assert sum(t.places for t in special.value("tiers")) == special.value("quota_per_year") == 135
    assert (policy.value("validity.first_year"), policy.value("validity.last_year")) == (2024, 2027)


def test_every_parameter_cites_a_clause() -> None:
    for policy in bundled_policies().values():
        params = [*policy.params.values()] + [
            p for i in policy.instruments.values() for p in i.params.values()
        ]
        assert params
        for p in params:
            assert p.clause.startswith((policy.code + "-",)), p


def _broken(mutate: Any) -> str:
    raw = chengdu_raw()
    mutate(raw)
    with pytest.raises(PolicyFileError) as caught:
        policy_from_mapping(copy.deepcopy(raw))
    return str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (
            lambda r: r["instruments"]["inclusive"]["quota_per_year"].pop("clause"),
            "instruments.inclusive.quota_per_year",
        ),
        (
            lambda r: r["instruments"]["inclusive"].update(
                max_deduction_rate={"value": "1.5", "clause": "CD-4"}
            ),
            "instruments.inclusive.max_deduction_rate",
        ),
        (
            lambda r: r["instruments"]["inclusive"].update(
                face_value={"value": 10000.0, "clause": "CD-4"}
            ),
            "instruments.inclusive.face_value",
        ),
        (
            lambda r: r["instruments"]["inclusive"].update(
                exclusive_with={"value": ["gold"], "clause": "CD-13"}
            ),
            "instruments.inclusive.exclusive_with",
        ),
        (
            lambda r: r["instruments"]["special"]["tiers"]["value"].reverse(),
            "instruments.special.tiers",
        ),
        (
            lambda r: r["validity"].update(last_year={"value": 2020, "clause": "CD-15"}),
            "validity.last_year",
        ),
        (
            lambda r: r["applicants"].update(kinds={"value": ["pirate"], "clause": "CD-1"}),
            "applicants.kinds",
        ),
        (
            lambda r: r["instruments"]["inclusive"].update(
                colour={"value": "red", "clause": "CD-4"}
            ),
            "instruments.inclusive.colour",
        ),
        (lambda r: r.pop("suppliers"), "suppliers"),
    ],
)
def test_an_invalid_file_is_refused_naming_the_field(mutate: Any, named: str) -> None:
    assert named in _broken(mutate)


def test_a_file_that_is_not_toml_is_refused_with_its_name() -> None:
    with pytest.raises(PolicyFileError, match=r"mine\.toml: not valid TOML"):
        parse_policy("id = ", origin="mine.toml")
