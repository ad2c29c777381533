"""``docs/performance.md``: the machine, the versions, every figure with its ratio to the raw
database limit of the same run, and where each target stands."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib.metadata import version
from pathlib import Path
from typing import Any

Results = dict[tuple[str, int], dict[str, Any]]
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
COMMANDS = ("issue", "redeem", "claim", "reimburse")
REPLAYS = ("bare", "catch_up", "rebuild", "verify", "as_of")


def _machine(server_version: str | None) -> list[str]:
    cpu = "?"
    memory = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    except OSError:
        pass
    packages = ", ".join(f"{p} {version(p)}" for p in ("eventsourcing", "SQLAlchemy", "psycopg"))
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {memory} memory; "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- SQLite {sqlite3.sqlite_version}"
        + (f"; PostgreSQL {server_version}" if server_version else ""),
    ]


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _cell(rate: float, ratio: float | None = None, rss: float | None = None) -> str:
    parts = [f"{_n(rate)}/s"]
    if ratio is not None:
        parts.append(f"{ratio:.2f}×")
    if rss is not None:
        parts.append(f"{rss:.0f} MB")
    return " · ".join(parts)


def _rows(results: Results, kind: str, sizes: list[int]) -> list[str]:
    def each(make: Any) -> str:
        return " | ".join(make(results[(kind, s)]) for s in sizes)

    def raw(r: dict[str, Any], what: str) -> float:
        return float(r["raw"][what]["per_second"])

    def replay(name: str, base: str) -> Any:
        def make(r: dict[str, Any]) -> str:
            m = r[name]
            basis = raw(r, "ordered_read") if base == "raw" else float(r["bare"]["per_second"])
            return _cell(m["per_second"], m["per_second"] / basis, m["peak_rss_mb"])

        return make

    def command(name: str, part: str) -> Any:
        def make(r: dict[str, Any]) -> str:
            m = r["commands"][part][name]
            ratio = m["per_second"] / raw(r, "single_commit")
            return f"{_cell(m['per_second'], ratio)} · p50 {m['p50_ms']} / p99 {m['p99_ms']} ms"

        return make

    lines = [
        "| measurement | " + " | ".join(f"{s:,} events" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        "| **raw** bulk insert (rows/s) | " + each(lambda r: _cell(raw(r, "bulk_insert"))) + " |",
        "| **raw** ordered read (rows/s) | " + each(lambda r: _cell(raw(r, "ordered_read"))) + " |",
        "| **raw** single-row INSERT+COMMIT | "
        + each(
            lambda r: (
                f"{_cell(raw(r, 'single_commit'))} · p50 {r['raw']['single_commit']['p50_ms']}"
                f" / p99 {r['raw']['single_commit']['p99_ms']} ms"
            )
        )
        + " |",
        "| **library** read + decode (events/s · × raw read · RSS) | "
        + each(replay("bare", "raw"))
        + " |",
        "| first catch-up: read models + hash chain (× library) | "
        + each(replay("catch_up", "bare"))
        + " |",
        "| `audit rebuild` (× library) | " + each(replay("rebuild", "bare")) + " |",
        "| `audit rebuild` (× raw read) | " + each(replay("rebuild", "raw")) + " |",
        "| `audit verify` (× raw read) | " + each(replay("verify", "raw")) + " |",
        "| `reports balances --as-of` half-way (events replayed/s · × library) | "
        + each(replay("as_of", "bare"))
        + " |",
    ]
    for name in COMMANDS:
        lines.append(
            f"| `{name}` command (× raw commit) | " + each(command(name, "commands")) + " |"
        )
    for name in COMMANDS:
        lines.append(
            f"| `{name}` + read-model catch-up, as the CLI does (× raw commit) | "
            + each(command(name, "with_catch_up"))
            + " |"
        )
    lines.append(
        "| `run` batch (lines/s · events/s) | "
        + each(
            lambda r: (
                f"{_n(r['batch']['lines']['per_second'])} lines/s · "
                f"{_n(r['batch']['events']['per_second'])} events/s · "
                f"{r['batch']['peak_rss_mb']:.0f} MB"
            )
        )
        + " |"
    )
    return lines


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _targets(results: Results, sizes: list[int], kinds: list[str]) -> list[str]:
    big = max(sizes)
    lines = ["| target | where it stands |", "|---|---|"]
    for kind in kinds:
        r = results[(kind, big)]
        ratio = r["rebuild"]["per_second"] / r["bare"]["per_second"]
        lines.append(
            f"| {NAMES[kind]}: full rebuild ≥ 0.5 × library read-and-decode | "
            f"{_verdict(ratio >= 0.5)}: {ratio:.2f}× at {big:,} events"
            + ("" if ratio >= 0.5 else f" ({(0.5 - ratio) / 0.5:.0%} short)")
            + " |"
        )
    if ("sqlite", big) in results:
        seconds = results[("sqlite", big)]["rebuild"]["seconds"]
        scaled = seconds * 1_000_000 / big
        lines.append(
            "| SQLite: 1,000,000 events rebuilt in under 40 s | "
            + (
                f"{_verdict(seconds < 40)}: {seconds:.1f} s"
                if big == 1_000_000
                else f"not run at 1,000,000 (at {big:,}: {seconds:.1f} s, ~{scaled:.0f} s scaled)"
            )
            + " |"
        )
    for kind in kinds:
        r = results[(kind, big)]
        ratio = r["verify"]["per_second"] / r["raw"]["ordered_read"]["per_second"]
        lines.append(
            f"| {NAMES[kind]}: `audit verify` ≥ 0.5 × raw ordered read | "
            f"{_verdict(ratio >= 0.5)}: {ratio:.2f}×"
            + ("" if ratio >= 0.5 else f" ({(0.5 - ratio) / 0.5:.0%} short)")
            + " |"
        )
    for kind in kinds:
        r = results[(kind, big)]
        limit = r["raw"]["single_commit"]["per_second"]
        parts = []
        ok = True
        for name in ("issue", "redeem", "reimburse"):
            ratio = r["commands"]["commands"][name]["per_second"] / limit
            ok = ok and ratio >= 0.5
            parts.append(f"{name} {ratio:.2f}×")
        lines.append(
            f"| {NAMES[kind]}: single commands ≥ 0.5 × raw single-row commit | "
            f"{_verdict(ok)}: {', '.join(parts)} |"
        )
    if ("sqlite", big) in results:
        worst = max(
            results[("sqlite", s)]["commands"]["commands"][n]["p99_ms"]
            for s in sizes
            for n in ("issue", "redeem", "reimburse")
        )
        lines.append(
            f"| SQLite: command p99 under 10 ms | {_verdict(worst < 10)}: worst p99 {worst} ms |"
        )
    peak = max(results[key][name]["peak_rss_mb"] for key in results for name in REPLAYS)
    lines.append(
        f"| any replay's peak memory under 300 MB | {_verdict(peak < 300)}: {peak:.0f} MB |"
    )
    if len(sizes) > 1:
        for kind in kinds:
            small = [s for s in sizes if s < big][-1]
            a = results[(kind, small)]["rebuild"]["peak_rss_mb"]
            b = results[(kind, big)]["rebuild"]["peak_rss_mb"]
            lines.append(
                f"| {NAMES[kind]}: rebuild memory flat ({big:,} within 20% of {small:,}) | "
                f"{_verdict(b <= a * 1.2)}: {b:.0f} MB vs {a:.0f} MB ({b / a - 1:+.0%}) |"
            )
    return lines


def write_report(
    out: Path,
    results: Results,
    sizes: list[int],
    elapsed: float,
    server_version: str | None,
    day: str,
) -> None:
    kinds = [k for k in NAMES if any(key[0] == k for key in results)]
    notes = Path(__file__).with_name("NOTES.md")
    lines = [
        "# Performance",
        "",
        f"Written by `make bench` (`python -m bench`) on {day}; the run took "
        f"{elapsed / 60:.1f} minutes. Do not edit: run `make bench` again (the figures are kept "
        "in `performance.json`; `python -m bench --render` rewrites this page from them after "
        "an edit to `bench/NOTES.md`). Every figure below comes from the same run, so ratios "
        "compare like with like.",
        "",
        "## Machine and versions",
        "",
        *_machine(server_version),
        "",
        "## How it is measured",
        "",
        "- **History.** A fixed-seed history played through the ledger's own commands "
        "(`bench/history.py`): the demo's Chengdu 2025 year, the Qingdao year, and copies of "
        "the Chengdu parameter file as other cities' programmes in 2024–2027 — vouchers issued, "
        "redeemed, claimed, reimbursed and settled, special rounds ranked and paid, fraud found "
        "and clawed back, supplier subsidy rounds, and each batch line's command record. The "
        "10,000 and 100,000 histories are the first events of the 1,000,000 one.",
        "- **Raw limits** use the database driver alone on a table shaped like the event table "
        "(same columns, keys and row sizes: real topics and states): bulk insert in one "
        "transaction (PostgreSQL: `COPY`), one ordered scan, and single-row INSERT+COMMIT with "
        "the durability the ledger runs with.",
        "- **Library**: the notification log read in pages of 5,000 and every event decoded by "
        "the library's mapper — the floor under any replay.",
        "- Each figure runs in its own process; *RSS* is that process's peak resident memory "
        "(Python and the libraries included). Commands are timed in-process as the CLI runs "
        "them (parse, authorise, run, store), with and without the read-model catch-up the "
        "CLI does after each.",
        "",
    ]
    for kind in kinds:
        lines += [f"## {NAMES[kind]}", "", *_rows(results, kind, sizes), ""]
    lines += ["## Targets", "", *_targets(results, sizes, kinds), ""]
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    out.write_text("\n".join(lines), encoding="utf-8")
