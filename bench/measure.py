"""One measurement per process: ``python -m bench.measure NAME '{json args}'`` prints one JSON
object — the figures, and the process's peak resident memory — so that each figure's memory
is its own and no measurement warms the next one's caches in Python.

Every rate is taken over the work named and nothing else: opening the ledger and preparing
inputs happen before the clock starts.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.history import run_commands_file, run_story, site
from commands.audit import AsOf, replay
from commands.demo import generate_year
from commands.envelope import execute, parse_command
from commands.wiring import Ledger, open_ledger
from ledger.errors import Rejected
from projections import reports
from projections.chain import verify as verify_chain

PAGE = 5000  # notifications per page, as the runner reads them


def peak_rss_mb() -> float:
    """This process's resident high-water mark. (``getrusage``'s maxrss survives exec on
    Linux, so a child would report its parent's peak if that was higher.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clock() -> float:
    return time.perf_counter()


def _rate(count: int, seconds: float) -> dict[str, Any]:
    return {"count": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1)}


def _latencies(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    total = sum(samples)
    return {
        **_rate(len(samples), total),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
    }


# ---- the raw database ---------------------------------------------------------------------


def _sample_rows(db: str, count: int) -> list[tuple[str, int, str, bytes]]:
    """Rows shaped like the ledger's stored events: their real topics and states, new ids."""
    ledger = open_ledger(db, read_only=True)
    try:
        page = ledger.app.recorder.select_notifications(start=0, limit=2000)
    finally:
        ledger.close()
    return [
        (str(uuid.uuid4()), 1, n.topic, bytes(n.state))
        for n in (page[i % len(page)] for i in range(count))
    ]


def raw(db: str, rows: int, commits: int) -> dict[str, Any]:
    data = _sample_rows(db, rows)
    single = _sample_rows(db, commits)
    if db.startswith("postgresql://"):
        result = _raw_postgres(db, data, single)
    else:
        result = _raw_sqlite(Path(db).with_name("raw-limit.db"), data, single)
    result["row_bytes"] = round(sum(len(r[0]) + len(r[2]) + len(r[3]) for r in data) / len(data))
    return result


SQLITE_TABLE = (
    "CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
    "state BLOB, PRIMARY KEY (originator_id, originator_version))"
)


def _raw_sqlite(path: Path, data: list[Any], single: list[Any]) -> dict[str, Any]:
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    # The ledger's settings: WAL, and SQLite's default synchronous level (FULL), which the
    # library leaves alone.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute(SQLITE_TABLE)
    insert = "INSERT INTO raw_events VALUES (?, ?, ?, ?)"
    started = _clock()
    conn.execute("BEGIN")
    conn.executemany(insert, data)
    conn.execute("COMMIT")
    bulk = _rate(len(data), _clock() - started)
    started, count = _clock(), 0
    for _ in conn.execute("SELECT rowid, * FROM raw_events ORDER BY rowid"):
        count += 1
    read = _rate(count, _clock() - started)
    samples = []
    for row in single:
        started = _clock()
        conn.execute("BEGIN")
        conn.execute(insert, (row[0] + "-1", *row[1:]))
        conn.execute("COMMIT")
        samples.append(_clock() - started)
    conn.close()
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    return {
        "bulk_insert": bulk,
        "ordered_read": read,
        "single_commit": _latencies(samples),
        "durability": f"WAL, synchronous={synchronous}",
    }


def _raw_postgres(url: str, data: list[Any], single: list[Any]) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(
            "CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint "
            "NOT NULL, topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute("CREATE UNIQUE INDEX raw_events_nid ON raw_events (notification_id)")
        synchronous = conn.execute("SHOW synchronous_commit").fetchone()
        started = _clock()
        with conn.transaction(), conn.cursor() as cur:
            copy_in = "COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN"
            with cur.copy(copy_in) as copy:
                for row in data:
                    copy.write_row(row)
        bulk = _rate(len(data), _clock() - started)
        started, count = _clock(), 0
        with conn.transaction(), conn.cursor(name="ordered") as cur:
            cur.itersize = PAGE
            cur.execute("SELECT * FROM raw_events ORDER BY notification_id")
            for _ in cur:
                count += 1
        read = _rate(count, _clock() - started)
        samples = []
        insert = (
            "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)"
        )
        for row in single:
            started = _clock()
            conn.execute(insert, row)  # autocommit: one durable commit per row
            samples.append(_clock() - started)
        conn.execute("DROP TABLE raw_events")
    return {
        "bulk_insert": bulk,
        "ordered_read": read,
        "single_commit": _latencies(samples),
        "durability": f"synchronous_commit={synchronous[0] if synchronous else '?'}",
    }


# ---- the library and the ledger -----------------------------------------------------------


def _timed(db: str, work: Callable[[Ledger], int], read_only: bool = False) -> dict[str, Any]:
    ledger = open_ledger(db, read_only=read_only)
    try:
        started = _clock()
        count = work(ledger)
        return _rate(count, _clock() - started)
    finally:
        ledger.close()


def _pages(ledger: Ledger) -> Iterator[Any]:
    start = 0
    while page := ledger.app.recorder.select_notifications(
        start=start, limit=PAGE, inclusive_of_start=False
    ):
        yield page
        start = page[-1].id


def bare(db: str) -> dict[str, Any]:
    """The library alone: read the notification log in pages and decode every event."""

    def work(ledger: Ledger) -> int:
        decode = ledger.app.mapper.to_domain_event
        count = 0
        for page in _pages(ledger):
            for n in page:
                decode(n)
            count += len(page)
        return count

    return _timed(db, work, read_only=True)


def catch_up(db: str) -> dict[str, Any]:
    """The first catch-up of a loaded log: every read model and the hash chain from empty."""
    return _timed(db, lambda ledger: ledger.runner.catch_up())


def rebuild(db: str) -> dict[str, Any]:
    """``voucher-ledger audit rebuild``: drop every read model, replay the whole log."""
    return _timed(db, lambda ledger: ledger.runner.rebuild())


def verify(db: str) -> dict[str, Any]:
    """``voucher-ledger audit verify``: recompute the hash chain, compare with the stored."""

    def work(ledger: Ledger) -> int:
        verdict = verify_chain(ledger.app.recorder, ledger.store.engine, None)
        if not verdict.ok:
            raise RuntimeError(f"the benchmark ledger does not verify: {verdict.problems}")
        return verdict.events

    return _timed(db, work, read_only=True)


def as_of(db: str, position: int) -> dict[str, Any]:
    """``voucher-ledger reports balances --as-of POSITION``: a scratch replay, then the report."""

    def work(ledger: Ledger) -> int:
        store = replay(ledger, AsOf(position=position))
        reports.balances(store)
        return position

    return _timed(db, work, read_only=True)


# ---- commands -----------------------------------------------------------------------------

EVIDENCE = {k: f"{k.upper()}-1" for k in ("contract", "payment-proof", "invoice", "service-proof")}


def commands(db: str, site_number: int, holders: int = 300) -> dict[str, Any]:
    """Single commands as ``voucher-ledger <command>`` runs them (the command, then the read
    models' catch-up), on a new programme year in the loaded ledger: every place of its
    inclusive quota issued, each voucher redeemed once, claimed and reimbursed."""
    s = site(site_number)
    setup = [c for c in generate_year(s) if c["command"] in SETUP]
    codes = [c["credit_code"] for c in setup if c["command"] == "register-applicant"]
    local = [code for code in codes if code[2:8] == "510100"][:holders]
    supplier = next(c["credit_code"] for c in setup if c["command"] == "register-supplier")
    now = lambda: None  # noqa: E731 — every command below carries its own time
    ledger = open_ledger(db)
    timings: dict[str, list[float]] = {}
    with_catch_up: dict[str, list[float]] = {}
    try:

        def run(kind: str, raw: dict[str, Any], catch_up: bool = True) -> None:
            command = parse_command(raw, identity="bench", now=now)  # type: ignore[arg-type]
            started = _clock()
            try:
                execute(ledger.app, command)
            except Rejected as e:
                raise RuntimeError(f"{kind}: {e.code}: {e.message}") from None
            done = _clock()
            if catch_up:
                ledger.runner.catch_up()
            timings.setdefault(kind, []).append(done - started)
            with_catch_up.setdefault(kind, []).append(_clock() - started)

        run_story(ledger.app, setup, f"setup-{site_number}")
        ledger.runner.catch_up()
        year = s.year
        at = f"{year}-03-01T10:00:00+08:00"
        numbers = []
        for holder in local:
            raw = {"command": "apply-inclusive", "programme": s.programme, "applicant": holder}
            run("issue", {**raw, "at": at})
            numbers.append(ledger.app.programme(s.programme).voucher_numbers()[-1])
        for n, number in enumerate(numbers):
            run(
                "redeem",
                {
                    "command": "redeem",
                    "voucher": number,
                    "supplier": supplier,
                    "bill_amount": "8000.00",
                    "invoice_number": f"BENCH-{n:06d}",
                    "service_kind": "compute",
                    "service_date": f"{year}-03-02",
                    "at": f"{year}-03-03T10:00:00+08:00",
                },
            )
        for n in range(len(numbers)):
            claim = {"supplier": supplier, "invoice_number": f"BENCH-{n:06d}"}
            run(
                "claim",
                {
                    "command": "claim-reimbursement",
                    **claim,
                    "evidence": EVIDENCE,
                    "at": f"{year}-03-10T10:00:00+08:00",
                },
            )
            run(
                "reimburse", {"command": "reimburse", **claim, "at": f"{year}-03-20T10:00:00+08:00"}
            )
    finally:
        ledger.close()
    return {
        "commands": {k: _latencies(v) for k, v in timings.items()},
        "with_catch_up": {k: _latencies(v) for k, v in with_catch_up.items()},
    }


SETUP = {"open-programme", "register-supplier", "register-applicant", "publish-supplier-list"}


def batch(db: str, site_number: int) -> dict[str, Any]:
    """``voucher-ledger run FILE``: a new site's first five months as one JSON Lines file."""
    from bench.history import batch_commands

    s = site(site_number)
    lines = batch_commands(site_number)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "batch.jsonl"
        path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in lines), "utf-8")
        ledger = open_ledger(db)
        try:
            before = ledger.app.recorder.max_notification_id() or 0
            started = _clock()
            run_commands_file(ledger, path, s.year)
            seconds = _clock() - started
            events = (ledger.app.recorder.max_notification_id() or 0) - before
        finally:
            ledger.close()
    return {"lines": _rate(len(lines), seconds), "events": _rate(events, seconds)}


MEASUREMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "raw": raw,
    "bare": bare,
    "catch_up": catch_up,
    "rebuild": rebuild,
    "verify": verify,
    "as_of": as_of,
    "commands": commands,
    "batch": batch,
}


def main() -> None:
    name, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = MEASUREMENTS[name](**arguments)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["pid"] = os.getpid()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
