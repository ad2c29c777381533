"""A bounded load test of ``voucher-ledger serve`` on loopback (issue 18): N concurrent
clients send commands for a fixed time, then stop. Reports commands/s, p50/p99 latency and the
error count (must be 0), checks the invariants afterwards (every accepted command's event is
in the log exactly once, the hash chain verifies, the read models caught up), and beside it
the raw database limit with the same concurrency: one INSERT + COMMIT per row.

    python -m bench.service_load                          # 16 clients, 60 s, SQLite and PostgreSQL
    python -m bench.service_load --clients 2 --seconds 2 --databases sqlite   # the smoke run

Only ever on 127.0.0.1, and bounded by ``--seconds``."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("voucher-ledger"))


def log(message: str) -> None:
    print(f"[service-load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _summary(samples: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(samples) or [0.0]
    return {
        "count": len(samples),
        "seconds": round(seconds, 2),
        "per_second": round(len(samples) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def _code(client: int, n: int) -> str:
    from ledger.ids import make_credit_code

    return make_credit_code(f"9151{client:04d}MA{n:07d}")


def load(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """Each client registers applicants of its own, back to back, until the time is up."""
    import httpx

    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    accepted: list[list[str]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                code = _code(index, n)
                body = {"credit_code": code, "name": f"负载测试 {index}-{n}", "kind": "enterprise"}
                body["city"] = "Chengdu"
                started = time.perf_counter()
                try:
                    answer = http.post("/v1/commands/register-applicant", json=body)
                except httpx.HTTPError as e:
                    errors[index].append(type(e).__name__)
                    continue
                latencies[index].append(time.perf_counter() - started)
                if answer.status_code == 200:
                    accepted[index].append(code)
                else:
                    errors[index].append(f"{answer.status_code} {answer.text[:80]}")

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "commands": _summary([x for xs in latencies for x in xs], elapsed),
        "errors": sum(len(e) for e in errors),
        "error_samples": [e for es in errors for e in es][:5],
        "accepted": [c for cs in accepted for c in cs],
    }


def invariants(db: str, accepted: list[str]) -> dict[str, Any]:
    """After the load: each accepted command's event in the log exactly once, nothing else
    registered, the chain verifies, the read models at the head."""
    from commands.wiring import open_ledger
    from ledger.entities import Applicant
    from projections.chain import verify

    ledger = open_ledger(db)
    try:
        ledger.runner.catch_up()
        registered = [e.credit_code for e in ledger.app.events_of(Applicant.Registered)]
        verdict = verify(ledger.app.recorder, ledger.store.engine, None)
        head = int(ledger.app.recorder.max_notification_id() or 0)
        positions = ledger.store.positions()
    finally:
        ledger.close()
    checks = {
        "each_accepted_once": sorted(registered) == sorted(accepted),
        "chain_verifies": verdict.ok,
        "read_models_at_head": min(positions.values(), default=0) == head,
    }
    return {**checks, "ok": all(checks.values())}


def raw_limit(db: str, clients: int, seconds: float) -> dict[str, Any]:
    """The database alone, same concurrency: each client one INSERT + COMMIT per row."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    postgres = db.startswith("postgresql://")
    path = Path(db).with_name("raw-load.db") if not postgres else None
    if postgres:
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS raw_load")
            conn.execute(
                "CREATE TABLE raw_load (originator_id uuid, originator_version bigint, "
                "topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))"
            )
    else:
        assert path is not None
        conn0 = sqlite3.connect(path)
        conn0.execute("PRAGMA journal_mode=WAL")
        conn0.execute(
            "CREATE TABLE raw_load (originator_id TEXT, originator_version INTEGER, topic TEXT, "
            "state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        conn0.close()
    state = json.dumps({"name": "负载测试", "kind": "enterprise", "city": "Chengdu"}).encode()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        conn: Any
        if postgres:
            import psycopg

            conn = psycopg.connect(db, autocommit=True)
            insert = "INSERT INTO raw_load (originator_id, originator_version, topic, state) "
            insert += "VALUES (%s, 1, 'x', %s)"
        else:
            conn = sqlite3.connect(path or "", timeout=30, isolation_level=None)
            insert = "INSERT INTO raw_load VALUES (?, 1, 'x', ?)"
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                key: Any = uuid.uuid4() if postgres else uuid.uuid4().hex
                conn.execute(insert, (key, state))  # autocommit: one durable commit each
                latencies[index].append(time.perf_counter() - started)
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if path is not None:
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
    return _summary([x for xs in latencies for x in xs], elapsed)


def run_one(db: str, clients: int, seconds: float, workers: int, folder: Path) -> dict[str, Any]:
    from commands.service.server import issue_token

    out = io.StringIO()
    issue_token(db, "bench", for_identity="bench", token_id=None, label="load test", out=out)
    token = out.getvalue().splitlines()[1]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = (folder / f"server-{port}.log").open("w")
    args = [CLI, "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*args, "--workers", str(workers)],
        stdout=server_log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "VOUCHER_LEDGER_POLL_SECONDS": "0.2"},
    )
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("the server stopped; see " + server_log.name)
            time.sleep(0.1)
        log(f"{clients} clients for {seconds:.0f}s against {base} ({workers} workers)")
        result = load(base, token, clients, seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        server_log.close()
    accepted = result.pop("accepted")
    result["invariants"] = invariants(db, accepted)
    log(f"raw INSERT + COMMIT, {clients} clients for {seconds:.0f}s")
    result["raw_insert_commit"] = raw_limit(db, clients, seconds)
    raw = result["raw_insert_commit"]["per_second"]
    result["ratio_to_raw"] = round(result["commands"]["per_second"] / raw, 3) if raw else None
    result["clients"], result["workers"] = clients, workers
    return result


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| database | clients | workers | commands/s | p50 ms | p99 ms | errors | raw "
        "INSERT+COMMIT/s | ratio | invariants |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, r in results.items():
        c, raw = r["commands"], r["raw_insert_commit"]
        lines.append(
            f"| {kind} | {r['clients']} | {r['workers']} | {c['per_second']} | {c['p50_ms']} | "
            f"{c['p99_ms']} | {r['errors']} | {raw['per_second']} | {r['ratio_to_raw']} | "
            f"{'hold' if r['invariants']['ok'] else 'BROKEN'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-admin", help="an admin URL (default: start a throwaway one)")
    parser.add_argument("--workers", type=int, default=2, help="server workers on PostgreSQL")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    server = None
    with tempfile.TemporaryDirectory(prefix="service-load-") as tmp:
        folder = Path(tmp)
        try:
            for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
                if kind == "sqlite":
                    db, workers = str(folder / "load.db"), 1
                else:
                    admin = args.postgres_admin
                    if admin is None:
                        from tests.pgserver import PostgresServer

                        server = PostgresServer(durable=True).start()
                        admin = server.admin_url()
                    from bench.__main__ import create_database

                    db, workers = create_database(admin, "service_load"), args.workers
                results[kind] = run_one(db, args.clients, args.seconds, workers, folder)
        finally:
            if server is not None:
                server.stop()
    print(markdown(results), end="")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = any(r["errors"] or not r["invariants"]["ok"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
