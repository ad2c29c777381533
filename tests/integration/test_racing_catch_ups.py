"""Attack (issue 21, item 6): many processes store commands and bring the read models up to date
at once. Catch-ups serialise — each page takes the catch-up lock (PostgreSQL: an advisory
lock; SQLite: the write lock, ``BEGIN IMMEDIATE``) and continues from wherever another
catch-up left the read models — so none fails after its command was stored, and the read
models equal a replay of the log."""

from __future__ import annotations

import multiprocessing
import os

from commands.audit import rebuild_check
from commands.wiring import open_ledger
from ledger.handlers.inclusive import ApplyInclusive
from projections.chain import verify
from tests.scenario import PROGRAMME, World, at

PROCESSES = 8
COMMANDS = 4  # per process: an application (a voucher) and its redemption, twice
PAGE_SIZE = "3"  # small pages: many page transactions to interleave


def _work(db_url: str, applicants: list[str], supplier: str, index: int) -> None:
    os.environ["VOUCHER_LEDGER_PAGE_SIZE"] = PAGE_SIZE
    ledger = open_ledger(db_url)
    try:
        world = World.__new__(World)
        world.app, world.applicants, world.suppliers = ledger.app, applicants, [supplier]
        for n in range(len(applicants)):
            events = ledger.app.execute(
                at(2, 1), ApplyInclusive(programme=PROGRAMME, applicant=applicants[n])
            )
            ledger.runner.catch_up()
            (issued,) = [e for e in events if type(e).__qualname__ == "Voucher.Issued"]
            world.redeem(str(issued.number), invoice=f"INV-{index}-{n}")  # type: ignore[attr-defined]
            for _ in range(3):
                ledger.runner.catch_up()
    finally:
        ledger.close()


def test_racing_catch_ups_all_exit_cleanly_and_equal_a_replay(db_url: str) -> None:
    ledger = open_ledger(db_url)
    try:
        world = World(ledger.app, applicants=PROCESSES * COMMANDS // 2, suppliers=1)
        ledger.runner.catch_up()
    finally:
        ledger.close()
    context = multiprocessing.get_context("spawn")
    share = COMMANDS // 2
    processes = [
        context.Process(
            target=_work,
            args=(db_url, world.applicants[i * share : (i + 1) * share], world.suppliers[0], i),
        )
        for i in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * PROCESSES

    after = open_ledger(db_url)
    try:
        last = after.app.recorder.max_notification_id()
        assert set(after.store.positions().values()) == {last}  # the last catch-up saw it all
        assert rebuild_check(after, None) == []
        verdict = verify(after.app.recorder, after.store.engine, None)
        assert verdict.ok and verdict.head[0] == last, verdict.problems
        assert len(after.app.programme(PROGRAMME).voucher_numbers()) == PROCESSES * share
    finally:
        after.close()
