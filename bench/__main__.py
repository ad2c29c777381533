"""``make bench`` — ``python -m bench``: generate a history, load it into SQLite and a
PostgreSQL this run starts, measure, and write ``docs/performance.md``.

    python -m bench                               # 10k, 100k and 1M events, both databases
    python -m bench --sizes 1000 --out /tmp/p.md  # the smoke run ``make test`` does

Progress goes to standard error; the report names every figure and its ratio to the raw
database limit measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.history import POLICY_DIR, append, generate, write_policies
from bench.report import write_report
from commands.wiring import open_ledger

# Sites far beyond any history's: the new programme years that commands and batches run on.
COMMAND_SITE, BATCH_SITE = 900, 901
SINGLE_COMMITS = 2000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(name: str, env: dict[str, str], **arguments: Any) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", name, json.dumps(arguments)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement {name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def load(targets: dict[tuple[str, int], str], events: int, policy_dir: Path) -> None:
    """Append the generated history to every target, each up to its size."""
    recorders = {key: open_ledger(url) for key, url in targets.items()}
    try:
        written = 0
        started = time.perf_counter()
        for rows in generate(events, policy_dir):
            for (_, size), ledger in recorders.items():
                if written < size:
                    append(ledger.app.recorder, rows[: size - written])
            written += len(rows)
            rate = written / (time.perf_counter() - started)
            log(f"history: {written:,} of {events:,} events generated and loaded ({rate:,.0f}/s)")
    finally:
        for ledger in recorders.values():
            ledger.close()


def run_database(
    kind: str, size: int, url: str, env: dict[str, str], commits: int, holders: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("raw", {"db": url, "rows": size, "commits": commits}),
        ("bare", {"db": url}),
        ("catch_up", {"db": url}),
        ("rebuild", {"db": url}),
        ("verify", {"db": url}),
        ("as_of", {"db": url, "position": size // 2}),
        ("commands", {"db": url, "site_number": COMMAND_SITE, "holders": holders}),
        ("batch", {"db": url, "site_number": BATCH_SITE}),
    ]
    for name, arguments in steps:
        log(f"{kind} {size:,}: {name} …")
        results[name] = measure(name, env, **arguments)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=Path("docs/performance.md"))
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite the report from the figures the last run kept beside it "
        "(performance.json), e.g. after editing bench/NOTES.md",
    )
    parser.add_argument(
        "--postgres-admin",
        help="an existing server's admin URL (the smoke test's); by default the bench starts "
        "its own PostgreSQL with production durability and stops it at the end",
    )
    parser.add_argument(
        "--commits", type=int, default=SINGLE_COMMITS, help="raw single-row commits timed"
    )
    parser.add_argument(
        "--holders",
        type=int,
        default=300,
        help="vouchers issued, redeemed, claimed and reimbursed one command at a time",
    )
    args = parser.parse_args(argv)
    figures = args.out.with_suffix(".json")
    if args.render:
        kept = json.loads(figures.read_text(encoding="utf-8"))
        results = {(k.split()[0], int(k.split()[1])): v for k, v in kept["results"].items()}
        write_report(
            args.out, results, kept["sizes"], kept["elapsed"], kept["postgres"], kept["date"]
        )
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    kinds = [k.strip() for k in args.databases.split(",")]
    started = time.perf_counter()
    server = None
    with tempfile.TemporaryDirectory(prefix="voucher-ledger-bench-") as folder:
        work = Path(folder)
        policy_dir = work / "policies"
        write_policies(policy_dir, [COMMAND_SITE, BATCH_SITE])
        env = {**os.environ, POLICY_DIR: str(policy_dir)}
        os.environ[POLICY_DIR] = str(policy_dir)
        try:
            admin = args.postgres_admin
            if "postgres" in kinds and admin is None:
                from tests.pgserver import PostgresServer

                server = PostgresServer(durable=True).start()
                admin = server.admin_url()
                log(f"PostgreSQL started on port {server.port} (fsync and synchronous commit on)")
            targets: dict[tuple[str, int], str] = {}
            for size in sizes:
                if "sqlite" in kinds:
                    targets[("sqlite", size)] = str(work / f"ledger-{size}.db")
                if "postgres" in kinds:
                    assert admin is not None
                    targets[("postgres", size)] = create_database(admin, f"bench_{size}")
            load(targets, max(sizes), policy_dir)
            settle(targets)
            results = {
                key: run_database(key[0], key[1], url, env, args.commits, args.holders)
                for key, url in targets.items()
            }
            server_version = postgres_version(admin) if admin else None
        finally:
            if server is not None:
                server.stop()
    elapsed = time.perf_counter() - started
    today = time.strftime("%Y-%m-%d")
    kept = {
        "date": today,
        "sizes": sizes,
        "elapsed": elapsed,
        "postgres": server_version,
        "results": {f"{kind} {size}": value for (kind, size), value in results.items()},
    }
    figures.write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
    write_report(args.out, results, sizes, elapsed, server_version, today)
    log(f"wrote {args.out} in {elapsed:.0f}s")
    return 0


def settle(targets: dict[tuple[str, int], str]) -> None:
    """Let PostgreSQL finish with the load (statistics, a checkpoint) before anything is
    timed: otherwise its background work after a million inserts competes with the first
    measurements for the same two cores."""
    import psycopg

    for (kind, _), url in targets.items():
        if kind == "postgres":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")
                conn.execute("CHECKPOINT")
    log("loaded and settled")


def create_database(admin: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def postgres_version(admin: str) -> str:
    import psycopg

    with psycopg.connect(admin) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


if __name__ == "__main__":
    sys.exit(main())
