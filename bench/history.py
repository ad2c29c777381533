"""The benchmark's history: many programme years played through the ledger's own commands.

A *site* is one programme year of the demo's story (inclusive vouchers first come first
served, a ranked special round, reimbursements, settlements, a fraud case and clawback, the
next year's supplier subsidy round and a green award). Site 0 is the demo's Chengdu 2025;
site 1 adds the Qingdao year; the others run copies of the Chengdu parameter file under their
own codes and cities (``B01`` … in ``City 01`` …), in 2024, 2025 or 2026 — a new programme
is a data file, so the benchmark makes its policies the way a new city would.

Sites are independent, so two worker processes play them on the library's in-memory store,
and the parent appends each site's stored events, in site order, to every target database
through the library's recorder (the same rows the ledger would have written itself). Every
run with the same seed produces the same commands and therefore the same events.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from commands.batch import run_batch
from commands.demo import DEMO, Site, play_year
from commands.demo_qingdao import qingdao_commands
from commands.envelope import execute, parse_command
from commands.wiring import CACHE, Ledger, policies
from ledger.application import VoucherLedger
from ledger.clock import PROGRAMME_TZ
from ledger.errors import Rejected
from projections.registry import all_read_models
from projections.runner import ProjectionRunner
from projections.store import ReadModelStore

POLICY_DIR = "VOUCHER_LEDGER_POLICY_DIR"
Row = tuple[Any, int, str, bytes]  # originator id, version, topic, state: one stored event


# The characters of an organisation code (GB 32100: no I, O, S, V or Z).
CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def serial(number: int) -> str:
    """Two characters unique to a site, never the demo's "MA"."""
    base = len(CODE_CHARACTERS)
    if not 0 < number < base * base:
        raise ValueError(f"no benchmark site {number}")
    code = CODE_CHARACTERS[number // base] + CODE_CHARACTERS[number % base]
    if code == DEMO.serial:
        raise ValueError(f"benchmark site {number} would share the demo's units")
    return code


def site(number: int) -> Site:
    if number == 0:
        return DEMO
    return Site(
        policy=f"bench-{number:02d}",
        code=f"B{number:02d}",
        city=f"City {number:02d}",
        year=2024 + number % 3,
        serial=serial(number),
        seed=2025 + number,
    )


def write_policies(folder: Path, numbers: Iterable[int]) -> None:
    """One parameter file per benchmark site: the Chengdu file, renamed and moved."""
    template = (Path(__file__).parent.parent / "ledger" / "policy" / "chengdu.toml").read_text(
        encoding="utf-8"
    )
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        if number == 0:
            continue  # the demo's site runs the Chengdu file itself
        s = site(number)
        text = (
            template.replace('id = "chengdu"', f'id = "{s.policy}"', 1)
            .replace('code = "CD"', f'code = "{s.code}"', 1)
            .replace('value = ["Chengdu"]', f'value = ["{s.city}"]')
        )
        (folder / f"{s.policy}.toml").write_text(text, encoding="utf-8")


def in_memory_ledger() -> Ledger:
    """The ledger on the library's in-memory store, read models in an in-memory SQLite."""
    app = VoucherLedger(policies(), env={"PERSISTENCE_MODULE": "eventsourcing.popo", **CACHE})
    store = ReadModelStore.scratch(all_read_models())
    return Ledger(
        app, store, ProjectionRunner(app.recorder, app.mapper, store, page_size=5000), "memory"
    )


def run_story(app: VoucherLedger, commands: Iterable[dict[str, Any]], batch: str) -> None:
    """Run a story's commands one by one, each with a batch line's command id; the story's
    own refusals (an unlisted supplier, a blacklisted operator …) store nothing."""
    now = lambda: datetime(2025, 1, 1, tzinfo=PROGRAMME_TZ)  # noqa: E731 — commands carry `at`
    for number, raw in enumerate(commands, start=1):
        command = parse_command(
            raw, identity="bench", now=now, default_command_id=f"{batch}-{number}"
        )
        with suppress(Rejected):
            execute(app, command)


def play_site(number: int) -> list[Row]:
    """Every stored event of one site's programme year(s), in the order stored."""
    ledger = in_memory_ledger()
    play_year(ledger, site(number))
    if number == 1:
        run_story(ledger.app, qingdao_commands(), "qingdao")
    rows: list[Row] = []
    start = 0
    while page := ledger.app.recorder.select_notifications(
        start=start, limit=10_000, inclusive_of_start=False
    ):
        rows += [(n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in page]
        start = page[-1].id
    return rows


def _worker_init(policy_dir: str) -> None:
    os.environ[POLICY_DIR] = policy_dir


def sites_needed(events: int, per_site: int = 10_000) -> int:
    return max(2, -(-events // per_site) + 1)


def generate(
    events: int, policy_dir: Path, workers: int = 2, progress: Callable[[int], None] | None = None
) -> Iterator[list[Row]]:
    """Sites' events in site order until ``events`` have been produced (the last site cut)."""
    write_policies(policy_dir, range(sites_needed(events)))
    produced = 0
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(str(policy_dir),)) as pool:
        for played in pool.imap(play_site, range(sites_needed(events))):
            rows = played[: events - produced]
            produced += len(rows)
            yield rows
            if progress is not None:
                progress(produced)
            if produced >= events:
                pool.terminate()
                return
    raise RuntimeError(f"the sites produced only {produced} events, not {events}")


def append(recorder: ApplicationRecorder, rows: Sequence[Row], chunk: int = 5000) -> None:
    for i in range(0, len(rows), chunk):
        recorder.insert_events([StoredEvent(*row) for row in rows[i : i + chunk]])


def batch_commands(number: int) -> list[dict[str, Any]]:
    """A site's first months as a JSON Lines batch (for timing ``run``)."""
    from commands.demo import generate_year

    s = site(number)
    return [c for c in generate_year(s) if c["at"] < f"{s.year}-06-01"]


def run_commands_file(ledger: Ledger, path: Path, year: int) -> int:
    return run_batch(
        ledger,
        path,
        io.StringIO(),
        identity="bench",
        now=lambda: datetime(year, 1, 1, tzinfo=PROGRAMME_TZ),
    )
