"""Tamper evidence: a SHA-256 hash chain over the event log in position order.

Each link covers the previous link and the stored event's position, identity (originator id),
version, topic and state bytes — exactly what the database holds, before decoding. The chain is
stored beside the read models (``audit_chain``) and extended by the projection runner in the
same transaction as each page of read-model rows.

What it proves: recomputing the chain from the log and comparing it with the stored links names
the first position where the log was changed, deleted from, inserted into or reordered. The
stored links live in the same database, so someone able to rewrite both could hide a change —
which is why an auditor keeps the head (``audit digest``) **outside** the system: a kept digest
cannot be rewritten, and any change at or before its position breaks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    String,
    Table,
    func,
    insert,
    select,
    text,
)

from projections.store import metadata, tracking

GENESIS = bytes(32)
CHECKPOINT_EVERY = 1000

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("link", String(64), nullable=False),
)


def header(position: int, originator_id: Any, version: int, topic: str) -> bytes:
    """What a link covers of an event besides its state: position, identity, version, topic
    (a UUID originator id as 32 hex digits)."""
    originator = originator_id.hex if isinstance(originator_id, UUID) else originator_id
    return f"{position}\x1f{originator}\x1f{version}\x1f{topic}\x1f".encode()


def link(
    previous: bytes, position: int, originator_id: Any, version: int, topic: str, state: bytes
) -> bytes:
    return sha256(previous + header(position, originator_id, version, topic) + state).digest()


def notification_link(previous: bytes, n: Notification) -> bytes:
    return link(previous, n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state))


def chain_head(conn: Connection) -> tuple[int, bytes]:
    position = conn.execute(select(func.max(audit_chain.c.position))).scalar()
    if position is None:
        return 0, GENESIS
    value = conn.execute(select(audit_chain.c.link).where(audit_chain.c.position == position))
    return int(position), bytes.fromhex(value.scalar_one())


def extend(conn: Connection, notifications: Sequence[Notification]) -> None:
    """Append links for the notifications after the chain's head (called once per page)."""
    head, previous = chain_head(conn)
    rows = []
    for n in notifications:
        if n.id <= head:
            continue
        previous = notification_link(previous, n)
        rows.append({"position": n.id, "link": previous.hex()})
    if rows:
        conn.execute(insert(audit_chain), rows)


def log_table(recorder: ApplicationRecorder) -> str:
    """The name of the table the recorder stores events in (SQLite: ``stored_events``;
    PostgreSQL: the application's name with ``_events``)."""
    return str(getattr(recorder, "events_table_name", "stored_events"))


def position_column(engine: Engine) -> str:
    """The column holding an event's log position: SQLite's rowid, PostgreSQL's
    notification_id."""
    return "notification_id" if engine.dialect.name == "postgresql" else "rowid"


def log_pages(
    recorder: ApplicationRecorder, page_size: int = 5000, stop: int | None = None
) -> Iterator[Sequence[Notification]]:
    start = 0
    while True:
        page = recorder.select_notifications(
            start=start, limit=page_size, stop=stop, inclusive_of_start=False
        )
        if not page:
            return
        yield page
        start = page[-1].id
        if len(page) < page_size:
            return


@dataclass
class Digest:
    position: int
    link: str
    events: int
    checkpoints: list[tuple[int, str]]

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "hash": self.link,
            "events": self.events,
            "checkpoints": [list(c) for c in self.checkpoints],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Digest:
        return cls(
            int(data["position"]),
            str(data["hash"]),
            int(data["events"]),
            [(int(p), str(h)) for p, h in data.get("checkpoints", [])],
        )


def compute(pages: Iterator[Sequence[Notification]]) -> Iterator[tuple[int, str]]:
    """(position, link) for the log as it is now."""
    previous = GENESIS
    for page in pages:
        for n in page:
            previous = notification_link(previous, n)
            yield n.id, previous.hex()


def digest_of(recorder: ApplicationRecorder) -> Digest:
    count, position, last = 0, 0, GENESIS.hex()
    checkpoints = []
    for position, last in compute(log_pages(recorder)):
        count += 1
        if count % CHECKPOINT_EVERY == 0:
            checkpoints.append((position, last))
    return Digest(position, last, count, checkpoints)


OUTSIDE_SHOWN = 20


def outside(conn: Connection, table: str, column: str, finding: Callable[[int, str], None]) -> None:
    """Flag every stored row at position 0 or below: the log, the chain and the read models
    start after position 0, yet aggregates read their events by identity and would see it."""
    (hidden,) = conn.execute(text(f"SELECT count(*) FROM {table} WHERE {column} <= 0")).one()
    if not hidden:
        return
    rows = conn.execute(
        text(
            f"SELECT {column}, originator_id, originator_version, topic FROM {table} "
            f"WHERE {column} <= 0 ORDER BY {column} LIMIT {OUTSIDE_SHOWN}"
        )
    ).all()
    for position, originator, version, topic in rows:
        finding(
            int(position),
            f"position {position}: an event outside the chained range (positions start at 1), "
            f"hidden from the chain, the read models and history but read by its aggregate: "
            f"{topic} of {originator} version {version}",
        )
    if hidden > len(rows):
        finding(int(rows[-1][0]), f"{hidden} events in all at positions 0 or below")


@dataclass
class Verdict:
    ok: bool
    events: int
    head: tuple[int, str]
    problems: list[str]
    first_bad_position: int | None


def verify(
    recorder: ApplicationRecorder,
    engine: Engine,
    kept: Digest | None,
    progress: Callable[[int, int], None] | None = None,
) -> Verdict:
    """Recompute the chain from the log and compare it, page by page, with the stored links
    and a kept digest. Memory stays flat: one page of links at a time. ``progress`` is told
    (events checked, position reached) after each page."""
    problems: list[str] = []
    first_bad: int | None = None

    def flag(position: int, message: str) -> None:
        """A difference in the chain: only the first is named (after it, every link differs)."""
        nonlocal first_bad
        if first_bad is None or position < first_bad:
            first_bad = position
            problems.append(message)

    def finding(position: int, message: str) -> None:
        """A row outside the chained range: each is named."""
        nonlocal first_bad
        first_bad = position if first_bad is None else min(first_bad, position)
        problems.append(message)

    expected = dict(kept.checkpoints) if kept else {}
    if kept:
        expected[kept.position] = kept.link
    table, column = log_table(recorder), position_column(engine)
    with engine.connect() as conn:
        # The chain's head and how far the read models claim to have applied the log, read
        # together (they are written in one transaction per page), and the last position stored
        # now: events up to it must all be read below.
        stored_head, claimed, last_stored = conn.execute(
            select(
                select(func.max(audit_chain.c.position)).scalar_subquery(),
                select(func.max(tracking.c.position)).scalar_subquery(),
                text(f"(SELECT max({column}) FROM {table})"),
            )
        ).one()
        stored_head, claimed = int(stored_head or 0), int(claimed or 0)
        last_stored = int(last_stored or 0)
        outside(conn, table, column, finding)
        read_up_to_last = 0  # events read from the log at positions up to last_stored
        previous, count, head = GENESIS, 0, (0, GENESIS.hex())
        checked_up_to = 0
        unchained = 0
        for page in log_pages(recorder):
            upper = page[-1].id
            rows = conn.execute(
                select(audit_chain.c.position, audit_chain.c.link).where(
                    audit_chain.c.position > checked_up_to, audit_chain.c.position <= upper
                )
            ).all()
            stored = {int(p): str(v) for p, v in rows}
            found = 0  # events of this page that have a stored link
            for n in page:
                # The same bytes as notification_link, with less work per event: this loop
                # is the whole cost of a verify.
                h = sha256(previous)
                h.update(header(n.id, n.originator_id, n.originator_version, n.topic))
                h.update(n.state)
                previous = h.digest()
                value = previous.hex()
                count += 1
                position = n.id
                if position <= last_stored:
                    read_up_to_last += 1
                if position in expected and expected.pop(position) != value:
                    flag(
                        position,
                        f"the log differs from the kept digest at or before position {position}",
                    )
                chained = stored.get(position)
                if chained is not None:
                    found += 1
                    if chained != value:
                        flag(
                            position,
                            f"position {position}: the event differs from the one chained "
                            "(changed, reordered, or an earlier event was removed)",
                        )
                elif stored_head < position <= claimed:
                    flag(
                        position,
                        f"position {position}: an event applied to the read models "
                        f"(up to position {claimed}) but never chained",
                    )
                elif position > stored_head:
                    unchained += 1
                else:
                    flag(
                        position, f"position {position}: an event that was never chained (inserted)"
                    )
            head = (page[-1].id, previous.hex())
            if found < len(stored):
                for position in sorted(set(stored) - {n.id for n in page}):
                    flag(position, f"position {position}: a chained event is missing (deleted)")
            checked_up_to = upper
            if progress is not None:
                progress(count, upper)
        beyond = conn.execute(
            select(func.min(audit_chain.c.position)).where(audit_chain.c.position > checked_up_to)
        ).scalar()
        if beyond is not None:
            flag(int(beyond), f"position {beyond}: a chained event is missing (deleted)")
        # Every row the table holds up to last_stored must have been read from the log: a row
        # the log does not return is one aggregates could read and the chain cannot see.
        (rows,) = conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE {column} > 0 AND {column} <= :last"),
            {"last": last_stored},
        ).one()
        if int(rows) != read_up_to_last:
            finding(
                last_stored,
                f"the event table holds {rows} events at positions 1 to {last_stored}, "
                f"the log read {read_up_to_last}: events outside the chained range",
            )
    for position in sorted(expected):
        flag(position, f"the kept digest covers position {position}, which the log lacks")
    if unchained:
        problems.append(
            f"{unchained} events after position {stored_head} are not chained yet: "
            "written since the last catch-up, or outside the ledger"
        )
    return Verdict(first_bad is None, count, head, problems, first_bad)
