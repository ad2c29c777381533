"""Event topics are pinned (ADR 0005): a stored topic that resolves to nothing stops the
projection runner with an error naming the topic and its log position — never a skip — and an
old topic registered for a moved class is applied as that class, not skipped.

The events are the fixture ledger's (written by 9e7514f), copied into a ledger on the database
under test, so these tests need no command of today's code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from commands.wiring import Ledger, open_ledger
from ledger.topics import RENAMED, register_renamed_topics
from projections.chain import chain_head
from projections.runner import UnknownEventTopic
from projections.store import ReadModelStore
from tests.integration.test_fixture_ledger import FIXTURE, stored_events

EVENTS = stored_events(FIXTURE)
REDEEMED = "ledger.voucher:Voucher.Redeemed"


@pytest.fixture
def empty(db_url: str) -> Iterator[Ledger]:
    ledger = open_ledger(db_url)
    try:
        yield ledger
    finally:
        ledger.close()


def renamed(event: StoredEvent, topic: str) -> StoredEvent:
    return StoredEvent(event.originator_id, event.originator_version, topic, event.state)


def test_an_unknown_topic_stops_the_runner_naming_topic_and_position(empty: Ledger) -> None:
    bogus = "ledger.nowhere:Vanished.Event"
    empty.app.recorder.insert_events(EVENTS[:50])
    (position,) = empty.app.recorder.insert_events(
        [StoredEvent(uuid4(), 1, bogus, b'{"timestamp": "2025-01-01T00:00:00+00:00"}')]
    )
    empty.app.recorder.insert_events(EVENTS[50:60])
    assert position is not None
    empty.runner.page_size = 20  # the pages before the bad one are applied
    with pytest.raises(UnknownEventTopic) as raised:
        empty.runner.catch_up()
    assert (raised.value.topic, raised.value.position) == (bogus, position)
    assert bogus in str(raised.value) and f"log position {position}" in str(raised.value)
    # No read model, nor the hash chain, moved past the event before it.
    positions = empty.store.positions()
    assert set(positions.values()) == {40}
    with empty.store.engine.connect() as conn:
        assert chain_head(conn)[0] == 40
    # A rebuild and a replay cut at a recorded time (which decodes every event) stop alike.
    with pytest.raises(UnknownEventTopic):
        empty.runner.rebuild()
    assert set(empty.store.positions().values()) == {40}
    with pytest.raises(UnknownEventTopic) as raised:
        scratch = ReadModelStore.scratch(empty.store.read_models)
        empty.runner.into(scratch).catch_up(until=datetime(2030, 1, 1, tzinfo=UTC))
    assert raised.value.position == position


def test_an_old_topic_registered_for_a_moved_class_is_applied(
    empty: Ledger, tmp_path: Path
) -> None:
    # As if Voucher.Redeemed had lived in another module when these events were stored.
    old = f"ledger.moved_{uuid4().hex}:Voucher.Redeemed"
    assert sum(e.topic == REDEEMED for e in EVENTS) > 0
    empty.app.recorder.insert_events(
        [renamed(e, old) if e.topic == REDEEMED else e for e in EVENTS]
    )
    with pytest.raises(UnknownEventTopic) as raised:
        empty.runner.catch_up()
    assert raised.value.topic == old
    register_renamed_topics({old: REDEEMED})
    assert resolve_topic(old) is resolve_topic(REDEEMED)
    empty.runner.catch_up()
    # The same rows as the events under their own topic give.
    reference = ReadModelStore.scratch(empty.store.read_models)
    copy = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, copy)
    source = open_ledger(str(copy), read_only=True)
    try:
        source.runner.into(reference).catch_up()
    finally:
        source.close()
    assert empty.store.dump() == reference.dump()


def test_every_registered_rename_resolves_to_its_new_class() -> None:
    register_renamed_topics()
    for old, new in RENAMED.items():
        assert resolve_topic(old) is resolve_topic(new), old
