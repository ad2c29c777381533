"""Reliability on the in-memory store: idempotent command ids, roles, schema evolution."""

from __future__ import annotations

from datetime import datetime

from commands.envelope import ENVELOPE, Command, Given, execute, parse_command
from ledger.clock import PROGRAMME_TZ
from ledger.handlers.registration import RegisterApplicant, RegisterSupplier
from ledger.ids import stable_id
from tests.scenario import World, applicant_code, at, in_memory_ledger, rejected


def apply_line(world: World, command_id: str | None, applicant: int = 0) -> Command:
    raw = {
        "command": "apply-inclusive",
        "programme": "CD-2025",
        "applicant": world.applicants[applicant],
        "at": "2025-02-01T09:00:00+08:00",
    }
    if command_id:
        raw["command_id"] = command_id
    return parse_command(raw, identity="clerk", now=lambda: datetime.now(PROGRAMME_TZ))


def stored(world: World) -> int:
    return int(world.app.recorder.max_notification_id() or 0)


def test_repeating_a_command_id_returns_the_original_result_and_stores_nothing() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    first = execute(world.app, apply_line(world, "clerk-7/0001"))
    before = stored(world)
    again = execute(world.app, apply_line(world, "clerk-7/0001"))
    assert [(e.originator_id, e.originator_version) for e in again] == [
        (e.originator_id, e.originator_version) for e in first
    ]
    assert stored(world) == before


def test_the_same_command_id_for_other_content_is_refused() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    execute(world.app, apply_line(world, "clerk-7/0001"))
    rejected("command-id-reused", execute, world.app, apply_line(world, "clerk-7/0001", 1))


def test_commands_without_an_id_are_not_remembered() -> None:
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    execute(world.app, apply_line(world, None))
    rejected("already-holds-voucher-this-year", execute, world.app, apply_line(world, None))
    assert any(e.name == "command_id" for e in ENVELOPE)


def test_a_refused_command_is_recorded_and_its_id_keeps_that_outcome() -> None:
    """Every refusal is a fact (trust model): under a caller's id it is that id's one outcome,
    so a resumed batch replays it rather than deciding again; a new id is a new command."""
    world = World(in_memory_ledger(), applicants=2, suppliers=1)
    late = applicant_code(77)

    def apply(command_id: str) -> Given:
        return parse_command(
            {
                "command": "apply-inclusive",
                "programme": "CD-2025",
                "applicant": late,
                "command_id": command_id,
                "at": "2025-02-01T09:00:00+08:00",
            },
            identity="clerk",
            now=lambda: at().at,
        )

    rejected("applicant-not-registered", execute, world.app, apply("c-1"))
    refused = world.app.repository.get(stable_id("command", "c-1"))
    assert (refused.command, refused.code, refused.content) == (
        "apply-inclusive",
        "applicant-not-registered",
        {"programme": "CD-2025", "applicant": late},
    )
    world.app.execute(
        at(1, 3),
        RegisterApplicant(credit_code=late, name="迟到科技", kind="enterprise", city="Chengdu"),
    )
    rejected("applicant-not-registered", execute, world.app, apply("c-1"))
    assert execute(world.app, apply("c-2"))


def test_history_stored_before_a_field_was_added_is_upcast_when_read() -> None:
    """Registrations were first stored without a bank account (class version 1)."""
    import json

    from eventsourcing.persistence import StoredEvent

    from ledger.entities import Applicant

    app = in_memory_ledger()
    code = applicant_code(5)
    old_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2024-06-01T01:00:00+00:00"},
        "originator_topic": "ledger.entities:Applicant",
        "at": {"_type_": "datetime_iso", "_data_": "2024-06-01T09:00:00+08:00"},
        "actor": "clerk",
        "command_id": "c-1",
        "credit_code": code,
        "name": "老登记",
        "kind": "enterprise",
        "city": "Chengdu",
    }  # no "class_version": stored by version 1 of the class
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=Applicant.id_for(code),
                originator_version=1,
                topic="ledger.entities:Applicant.Registered",
                state=json.dumps(old_state, ensure_ascii=False).encode("utf-8"),
            )
        ]
    )
    applicant = app.applicant(code)
    assert (applicant.name, applicant.bank_account) == ("老登记", "")
    # New events are stored as version 2, with the field.
    app.execute(
        at(1, 3),
        RegisterSupplier(
            credit_code=applicant_code(6),
            name="新",
            kind="data-centre",
            city="Chengdu",
            bank_account="6222",
        ),
    )
    (stored,) = app.recorder.select_notifications(start=2, limit=1)
    assert b'"class_version":2' in stored.state and b'"bank_account":"6222"' in stored.state
