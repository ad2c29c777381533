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

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification
from sqlalchemy import BigInteger, Column, Connection, Engine, String, Table, func, insert, select

from projections.store import metadata

GENESIS = bytes(32)
CHECKPOINT_EVERY = 1000

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("link", String(64), nullable=False),
)


def link(
    previous: bytes, position: int, originator_id: Any, version: int, topic: str, state: bytes
) -> bytes:
    header = f"{position}\x1f{originator_id}\x1f{version}\x1f{topic}\x1f".encode()
    return hashlib.sha256(previous + header + state).digest()


def notification_link(previous: bytes, n: Notification) -> bytes:
    originator = n.originator_id.hex if hasattr(n.originator_id, "hex") else n.originator_id
    return link(previous, n.id, originator, n.originator_version, n.topic, bytes(n.state))


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


@dataclass
class Verdict:
    ok: bool
    events: int
    head: tuple[int, str]
    problems: list[str]
    first_bad_position: int | None


def verify(recorder: ApplicationRecorder, engine: Engine, kept: Digest | None) -> Verdict:
    """Recompute the chain from the log and compare it, page by page, with the stored links
    and a kept digest. Memory stays flat: one page of links at a time."""
    problems: list[str] = []
    first_bad: int | None = None

    def flag(position: int, message: str) -> None:
        nonlocal first_bad
        if first_bad is None or position < first_bad:
            first_bad = position
            problems.append(message)

    expected = dict(kept.checkpoints) if kept else {}
    if kept:
        expected[kept.position] = kept.link
    with engine.connect() as conn:
        stored_head = int(conn.execute(select(func.max(audit_chain.c.position))).scalar() or 0)
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
            seen: set[int] = set()
            for n in page:
                previous = notification_link(previous, n)
                value = previous.hex()
                count += 1
                head = (n.id, value)
                seen.add(n.id)
                if n.id in expected and expected.pop(n.id) != value:
                    flag(n.id, f"the log differs from the kept digest at or before position {n.id}")
                if n.id > stored_head:
                    unchained += 1
                elif n.id not in stored:
                    flag(n.id, f"position {n.id}: an event that was never chained (inserted)")
                elif stored[n.id] != value:
                    flag(
                        n.id,
                        f"position {n.id}: the event differs from the one chained "
                        "(changed, reordered, or an earlier event was removed)",
                    )
            for position in sorted(set(stored) - seen):
                flag(position, f"position {position}: a chained event is missing (deleted)")
            checked_up_to = upper
        beyond = conn.execute(
            select(func.min(audit_chain.c.position)).where(audit_chain.c.position > checked_up_to)
        ).scalar()
        if beyond is not None:
            flag(int(beyond), f"position {beyond}: a chained event is missing (deleted)")
    for position in sorted(expected):
        flag(position, f"the kept digest covers position {position}, which the log lacks")
    if unchained:
        problems.append(
            f"{unchained} events after position {stored_head} are not chained yet: "
            "written since the last catch-up, or outside the ledger"
        )
    return Verdict(first_bad is None, count, head, problems, first_bad)
