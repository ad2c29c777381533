"""Stored history stays readable (issue 14): a ledger written by the code of 9e7514f, before the
typed-command move, is replayed by today's code — read models rebuilt from zero give the reports
that code printed, every aggregate in the log loads, and every stored topic resolves.

The fixture and how it was made: tests/fixtures/README.md. On PostgreSQL the fixture's stored
events are copied, in log order, into a fresh PostgreSQL ledger first."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from commands.cli import main
from commands.wiring import _postgres, open_ledger, policies
from ledger.application import VoucherLedger

FIXTURES = Path(__file__).parents[1] / "fixtures"
FIXTURE = FIXTURES / "ledger-before-typed-commands.sqlite"
EXPECTED: dict[str, Any] = json.loads(
    (FIXTURES / "ledger-before-typed-commands.expected.json").read_text(encoding="utf-8")
)


def stored_events(path: Path) -> list[StoredEvent]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            StoredEvent(UUID(i), v, t, s)
            for i, v, t, s in conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM stored_events "
                "ORDER BY rowid"
            )
        ]


@pytest.fixture
def old_ledger(db_url: str, tmp_path: Path) -> str:
    """The fixture ledger on the database under test: a copy of the file on SQLite, its events
    copied in log order on PostgreSQL."""
    if not db_url.startswith("postgresql"):
        copy = tmp_path / FIXTURE.name
        shutil.copyfile(FIXTURE, copy)
        return str(copy)
    # Straight into the event store, before the ledger is ever opened (opening an empty
    # ledger records its clock: the old log would no longer be the whole log).
    env, engine, _ = _postgres(db_url)
    app = VoucherLedger(policies(), env=env)
    try:
        app.recorder.insert_events(stored_events(FIXTURE))
    finally:
        app.close()
        engine.dispose()
    return db_url


def test_the_fixture_is_the_one_described() -> None:
    events = stored_events(FIXTURE)
    assert len(events) == EXPECTED["event_count"]
    assert Counter(e.topic for e in events) == EXPECTED["topics"]
    assert EXPECTED["commit"] == "9e7514f59ffb169798bcc5fff346706677544de2"


def test_every_stored_topic_resolves() -> None:
    for topic in EXPECTED["topics"]:
        resolved = resolve_topic(topic)
        assert isinstance(resolved, type), topic


def test_read_models_rebuilt_from_zero_print_the_old_reports(
    old_ledger: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = open_ledger(old_ledger)
    try:
        assert ledger.runner.rebuild() == EXPECTED["event_count"]
    finally:
        ledger.close()
    for name, figures in EXPECTED["reports"].items():
        capsys.readouterr()
        code = main([*figures["argv"], "--db", old_ledger, "--format", "json"])
        printed = capsys.readouterr().out
        assert code == 0, (name, printed)
        assert json.loads(printed) == figures["output"], name


def test_every_aggregate_in_the_log_loads(old_ledger: str) -> None:
    versions: dict[UUID, int] = {}
    for event in stored_events(FIXTURE):
        assert isinstance(event.originator_id, UUID)
        versions[event.originator_id] = max(
            versions.get(event.originator_id, 0), event.originator_version
        )
    ledger = open_ledger(old_ledger)
    try:
        for aggregate_id, version in versions.items():
            aggregate = ledger.app.repository.get(aggregate_id)
            assert aggregate.version == version, aggregate_id
    finally:
        ledger.close()
