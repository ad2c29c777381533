"""Attack (issue 21, item 1): an event stored at a position the chain never reads.

Aggregates read their events by originator id; the hash chain, the read models and history read
the log from position 1. A row slipped in at position -1 — here a forged ``DebarmentLifted``
for a barred entity — would lift the bar for the aggregate while every report still said
barred. The database refuses the row; an owner who removes that protection first is caught by
``audit verify``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date
from typing import Any

import psycopg
import pytest

from commands.wiring import Ledger, create_writer_role, events_table, open_ledger
from ledger.enforcement import EntityRecord
from ledger.handlers.enforcement import OpenCase, RecordFraudFinding
from projections.chain import audit_chain, digest_of, verify
from tests.scenario import PROGRAMME, World, at

HIDDEN = -1


def barred_entity(ledger: Ledger) -> tuple[str, Any]:
    """An applicant barred under case C-9, the read models caught up; its credit code and the
    forged lifting of its bar as the event store would hold it (not stored)."""
    app = ledger.app
    world = World(app, applicants=2, suppliers=1)
    code = world.applicants[0]
    app.execute(
        at(3, 1),
        OpenCase(case="C-9", programme=PROGRAMME, entity=code, description="fake spend"),
    )
    app.execute(
        at(3, 10),
        RecordFraudFinding(
            case="C-9", finding_date=date(2025, 3, 10), finding="forged", evidence=["E-1"]
        ),
    )
    ledger.runner.catch_up()
    record = app.entity_record(code)
    assert record is not None and record.bars["C-9"].lifted_on is None
    record.lift(at(3, 11), "C-9", date(2025, 3, 11), "forged", "nobody")
    (lifted,) = record.collect_events()
    assert isinstance(lifted, EntityRecord.DebarmentLifted)
    return code, app.mapper.to_stored_event(lifted)


def insert_at(url: str, table: str, position: int, stored: Any) -> None:
    """The forged row, written with SQL straight into the event table at ``position``."""
    if url.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            conn.execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state, "
                "notification_id) VALUES (%s, %s, %s, %s, %s)",
                (
                    stored.originator_id,
                    stored.originator_version,
                    stored.topic,
                    stored.state,
                    position,
                ),
            )
    else:
        with closing(sqlite3.connect(url)) as db, db:
            db.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, "
                "state) VALUES (?, ?, ?, ?, ?)",
                (
                    position,
                    stored.originator_id.hex,
                    stored.originator_version,
                    stored.topic,
                    stored.state,
                ),
            )


def remove_protection(url: str, table: str) -> None:
    """What an owner who bypassed the database's refusal would have done first."""
    if url.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT voucher_ledger_positive_position")
    else:
        with closing(sqlite3.connect(url)) as db, db:
            db.execute("DROP TRIGGER voucher_ledger_positive_position")


def refused(url: str) -> type[Exception]:
    return psycopg.errors.CheckViolation if url.startswith("postgresql") else sqlite3.IntegrityError


@pytest.mark.parametrize("position", [HIDDEN, 0])
def test_the_database_refuses_an_event_at_position_zero_or_below(
    ledger: Ledger, db_url: str, position: int
) -> None:
    code, forged = barred_entity(ledger)
    table = events_table(ledger.app)
    before = ledger.app.recorder.max_notification_id()
    with pytest.raises(refused(db_url), match="positive"):
        insert_at(db_url, table, position, forged)
    # Moving a stored event there is refused too (SQLite: the trigger on update; PostgreSQL:
    # the append-only trigger refuses every update, the constraint would refuse this one).
    if not db_url.startswith("postgresql"):
        with (
            pytest.raises(sqlite3.IntegrityError, match="positive"),
            closing(sqlite3.connect(db_url)) as db,
            db,
        ):
            db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (position, before))
    assert ledger.app.recorder.max_notification_id() == before
    record = open_ledger(db_url)
    try:
        barred = record.app.entity_record(code)
        assert barred is not None and barred.bars["C-9"].lifted_on is None
        assert verify(record.app.recorder, record.store.engine, None).ok
    finally:
        record.close()


def test_the_writer_role_cannot_store_an_event_at_position_minus_one(pg_server: Any) -> None:
    url = pg_server.create_database()
    ledger = open_ledger(url)
    try:
        _, forged = barred_entity(ledger)
        create_writer_role(ledger, "clerk_hidden")
        table = events_table(ledger.app)
    finally:
        ledger.close()
    writer_url = url.replace("postgresql://postgres@", "postgresql://clerk_hidden@")
    with pytest.raises(psycopg.errors.CheckViolation, match="positive"):
        insert_at(writer_url, table, HIDDEN, forged)
    # … and cannot remove the constraint (it is not the table's owner).
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        remove_protection(writer_url, table)


def test_verify_names_a_hidden_event_that_the_database_was_made_to_accept(
    ledger: Ledger, db_url: str
) -> None:
    code, forged = barred_entity(ledger)
    kept = digest_of(ledger.app.recorder)
    assert verify(ledger.app.recorder, ledger.store.engine, kept).ok
    table = events_table(ledger.app)
    remove_protection(db_url, table)
    insert_at(db_url, table, HIDDEN, forged)

    # The danger: the aggregate reads the forged event, the chain and the read models do not.
    reopened = open_ledger(db_url)  # reopening restores the protection; the row stays
    try:
        record = reopened.app.entity_record(code)
        assert record is not None and record.bars["C-9"].lifted_on == date(2025, 3, 11)
        assert digest_of(reopened.app.recorder) == kept  # the log read from position 1: unchanged
        for digest in (None, kept):
            verdict = verify(reopened.app.recorder, reopened.store.engine, digest)
            assert not verdict.ok
            assert verdict.first_bad_position == HIDDEN
            assert any(
                f"position {HIDDEN}:" in p and "DebarmentLifted" in p and "outside" in p
                for p in verdict.problems
            ), verdict.problems
        # The protection is back: a second hidden row is refused.
        again = replace(forged, originator_version=forged.originator_version + 1)
        with pytest.raises(refused(db_url), match="positive"):
            insert_at(db_url, table, HIDDEN - 1, again)
    finally:
        reopened.close()


def test_an_event_slipped_into_a_gap_inside_the_chain_is_reported_as_inserted(
    ledger: Ledger, db_url: str
) -> None:
    _, forged = barred_entity(ledger)
    table = events_table(ledger.app)
    last = ledger.app.recorder.max_notification_id()
    assert last is not None
    insert_at(db_url, table, last + 2, forged)  # leaving position last + 1 free
    ledger.runner.catch_up()
    assert verify(ledger.app.recorder, ledger.store.engine, None).ok
    later = replace(forged, originator_version=forged.originator_version + 1)
    insert_at(db_url, table, last + 1, later)
    verdict = verify(ledger.app.recorder, ledger.store.engine, None)
    assert not verdict.ok and verdict.first_bad_position == last + 1
    assert any("never chained (inserted)" in p for p in verdict.problems), verdict.problems


def test_events_the_read_models_applied_but_the_chain_lacks_fail_verify(
    ledger: Ledger, db_url: str
) -> None:
    barred_entity(ledger)
    last = ledger.app.recorder.max_notification_id()
    assert last is not None and set(ledger.store.positions().values()) == {last}
    with ledger.store.engine.begin() as conn:  # the chain's last three links removed
        conn.execute(audit_chain.delete().where(audit_chain.c.position > last - 3))
    verdict = verify(ledger.app.recorder, ledger.store.engine, None)
    assert not verdict.ok and verdict.first_bad_position == last - 2
    assert "applied to the read models" in verdict.problems[0], verdict.problems
