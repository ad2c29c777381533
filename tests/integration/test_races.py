"""Several processes racing: never voucher 301, never two vouchers for one unit in a year."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from commands.catalogue import BY_NAME
from commands.handlers import Command, execute
from commands.wiring import open_ledger
from ledger.errors import Rejected
from tests.scenario import PROGRAMME, World, at

PROCESSES = 8


def _apply_all(db_url: str, applicants: list[str]) -> list[str]:
    ledger = open_ledger(db_url)
    outcomes = []
    try:
        for code in applicants:
            command = Command(
                BY_NAME["apply-inclusive"], {"programme": PROGRAMME, "applicant": code}, at(2, 1)
            )
            try:
                events = execute(ledger.app, command)
                outcomes.append(events[1].number)  # type: ignore[attr-defined]
            except Rejected as e:
                outcomes.append(e.code)
    finally:
        ledger.close()
    return outcomes


def _race(db_url: str, shares: list[list[str]]) -> list[str]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(shares)) as pool:
        results = pool.starmap(_apply_all, [(db_url, share) for share in shares])
    return [outcome for share in results for outcome in share]


def test_racing_clerks_never_issue_voucher_301(db_url: str) -> None:
    ledger = open_ledger(db_url)
    world = World(ledger.app, applicants=340, suppliers=1)
    ledger.close()
    shares = [world.applicants[i::PROCESSES] for i in range(PROCESSES)]
    outcomes = Counter(_race(db_url, shares))
    issued = sorted(o for o in outcomes if o.startswith("CD-"))
    assert len(issued) == 300
    assert issued == [f"{PROGRAMME}-INC-{n:04d}" for n in range(1, 301)]
    assert outcomes["quota-exhausted"] == 40
    assert set(outcomes) - set(issued) == {"quota-exhausted"}, outcomes


def test_one_unit_applying_from_many_processes_gets_one_voucher(db_url: str) -> None:
    ledger = open_ledger(db_url)
    world = World(ledger.app, applicants=1, suppliers=1)
    ledger.close()
    outcomes = Counter(_race(db_url, [[world.applicants[0]]] * PROCESSES))
    assert outcomes[f"{PROGRAMME}-INC-0001"] == 1
    assert outcomes["already-holds-voucher-this-year"] == PROCESSES - 1
