"""``voucher-ledger audit …``: what auditors use — replay and compare, the hash chain, the
history of one subject, and a self-checking audit pack. Nothing here writes to the ledger."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from commands.render import csv_rows, describe_event, dumps
from commands.wiring import Ledger
from ledger.clock import parse_business_time
from ledger.errors import InvalidInput
from projections.chain import GENESIS, link, log_pages
from projections.registry import all_read_models
from projections.reports import Report
from projections.runner import Progress
from projections.store import ReadModelStore

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"


# ---- as it stood ------------------------------------------------------------------------


@dataclass(frozen=True)
class AsOf:
    """A point in the log: a position, or the last event recorded at or before a time."""

    position: int | None = None
    recorded: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> AsOf:
        if text.strip().isdigit():
            return cls(position=int(text))
        try:
            return cls(recorded=parse_business_time(text, field="as_of"))
        except InvalidInput:
            raise InvalidInput(
                "invalid-value",
                f"--as-of: {text!r} is neither a log position nor an ISO time with zone",
                field="as_of",
            ) from None


def replay(
    ledger: Ledger,
    as_of: AsOf | None = None,
    progress: Progress | None = None,
    business_day: date | None = None,
) -> ReadModelStore:
    """Every read model rebuilt in a scratch store, never touching the live ones."""
    scratch = ReadModelStore.scratch(all_read_models())
    runner = ledger.runner.into(scratch, page_size=5000)
    runner.catch_up(
        stop=as_of.position if as_of else None,
        until=as_of.recorded if as_of else None,
        progress=progress,
        business_day=business_day,
    )
    return scratch


# ---- rebuild --check ----------------------------------------------------------------------


def rebuild_check(ledger: Ledger, progress: Progress | None) -> list[str]:
    """Replay the log up to where the live read models stand and diff them row by row."""
    positions = ledger.store.positions()
    upto = min(positions.values(), default=0)
    scratch = replay(ledger, AsOf(position=upto), progress)
    live, replayed = ledger.store.dump(), scratch.dump()
    differences = []
    for table in sorted(set(live) | set(replayed)):
        a, b = set(live.get(table, [])), set(replayed.get(table, []))
        for row in sorted(a - b, key=repr)[:20]:
            differences.append(f"{table}: live only:     {row}")
        for row in sorted(b - a, key=repr)[:20]:
            differences.append(f"{table}: replayed only: {row}")
    if len(set(positions.values())) > 1:
        differences.append(f"read models stand at different positions: {positions}")
    return differences


# ---- history ------------------------------------------------------------------------------

HISTORY_COLUMNS = [
    "position",
    "recorded_at",
    "at",
    "actor",
    "command_id",
    "event",
    "clauses",
    "amounts",
    "aggregate",
]


def history(ledger: Ledger, subject: str, progress: Progress | None = None) -> Report:
    """Every event that touched a voucher, an entity or a payment, in log order.

    An event touches the subject if it names it, or belongs to an aggregate created about it
    (a redemption of the voucher, a payment to the entity, a case against it …)."""
    keys = {subject.strip().upper()}
    touched: set[Any] = set()
    n: Any
    rows = []
    seen = 0
    for page in log_pages(ledger.app.recorder):
        for n in page:
            text = bytes(n.state).decode("utf-8", errors="replace").upper()
            mentions = any(k in text for k in keys)
            if n.originator_id not in touched and not mentions:
                continue
            event: Any = ledger.app.mapper.to_domain_event(n)
            if mentions and n.originator_version == 1:
                touched.add(n.originator_id)
                keys.update({str(n.originator_id).upper(), n.originator_id.hex.upper()})
                for name in ("number", "reference"):
                    value = getattr(event, name, None)
                    if isinstance(value, str):
                        keys.add(value.upper())
            described = describe_event(event)
            basis = getattr(event, "basis", None) or {}
            amounts = {k: str(v) for k, v in vars(event).items() if type(v).__name__ == "Decimal"}
            rows.append(
                {
                    "position": n.id,
                    "recorded_at": event.timestamp.isoformat(timespec="seconds"),
                    "at": event.at.isoformat() if hasattr(event, "at") else "",
                    "actor": getattr(event, "actor", ""),
                    "command_id": getattr(event, "command_id", ""),
                    "event": described["event"],
                    "clauses": ", ".join(basis.get("clauses", [])),
                    "amounts": " ".join(f"{k}={v}" for k, v in amounts.items()),
                    "aggregate": n.originator_id.hex[:12],
                }
            )
        seen += len(page)
        if progress is not None:
            progress(seen, page[-1].id)
    return Report(
        f"History of {subject}", HISTORY_COLUMNS, rows, {"position": f"{len(rows)} events"}
    )


# ---- the audit pack -----------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_pack(
    ledger: Ledger, directory: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Decoded events (with their stored bytes, so the chain can be re-checked offline), every
    read model as CSV rebuilt from exactly those events, and a manifest of checksums."""
    directory.mkdir(parents=True, exist_ok=True)
    previous, position, count = GENESIS, 0, 0
    with (directory / EVENTS).open("w", encoding="utf-8", newline="\n") as out:
        for page in log_pages(ledger.app.recorder):
            for n in page:
                originator = str(getattr(n.originator_id, "hex", n.originator_id))
                state = bytes(n.state)
                previous = link(previous, n.id, originator, n.originator_version, n.topic, state)
                position, count = n.id, count + 1
                out.write(
                    dumps(
                        {
                            "position": n.id,
                            "originator_id": originator,
                            "version": n.originator_version,
                            "topic": n.topic,
                            "stored_state": state.decode("utf-8"),
                            "event": describe_event(ledger.app.mapper.to_domain_event(n)),
                        }
                    )
                    + "\n"
                )
            if progress is not None:
                progress(count, position)
    scratch = replay(ledger, AsOf(position=position))
    files: dict[str, dict[str, Any]] = {EVENTS: {"rows": count}}
    for table, rows in scratch.dump().items():
        name = f"{table}.csv"
        columns = [c.name for c in next(t for t in scratch.tables if t.name == table).columns]
        # Cells safe to open in a spreadsheet (render.csv_cell: formula text gets a ').
        (directory / name).write_text("\ufeff" + csv_rows(columns, rows), encoding="utf-8")
        files[name] = {"rows": len(rows)}
    for name, info in files.items():
        info["sha256"] = _sha256(directory / name)
        info["bytes"] = (directory / name).stat().st_size
    manifest = {
        "events": count,
        "head": {"position": position, "hash": previous.hex()},
        "files": files,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def verify_pack(directory: Path) -> list[str]:
    """Offline, with no database: checksums, row counts and the hash chain of the events."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"{MANIFEST}: unreadable ({e})"]
    problems = []
    for name, info in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(path) != info["sha256"] or path.stat().st_size != info["bytes"]:
            problems.append(f"{name}: checksum differs from the manifest")
    extra = {p.name for p in directory.iterdir()} - set(manifest["files"]) - {MANIFEST}
    problems += [f"{name}: not listed in the manifest" for name in sorted(extra)]
    previous, count = GENESIS, 0
    try:
        with (directory / EVENTS).open(encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                previous = link(
                    previous,
                    row["position"],
                    row["originator_id"],
                    row["version"],
                    row["topic"],
                    row["stored_state"].encode("utf-8"),
                )
                count += 1
    except (OSError, ValueError, KeyError) as error:
        return [*problems, f"{EVENTS}: unreadable ({error})"]
    if count != manifest["events"] or previous.hex() != manifest["head"]["hash"]:
        problems.append(
            f"{EVENTS}: the hash chain of the events does not reach the manifest's head"
        )
    return problems
