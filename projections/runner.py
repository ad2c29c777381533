"""One runner shape for SQLite and PostgreSQL: pull pages of notifications, decode each once,
apply them to every read model that has not seen them, and write the rows and the new
positions in one transaction per page. Live catch-up, rebuild and replays into a scratch store
all use it.

The runner reads the log through what it is given — the application's recorder (to select
notifications) and mapper (to decode them) — and applies them to the read models its store
holds (``projections.registry`` lists them): it imports neither the application nor any view.

Every stored topic must resolve (ADR 0005): an event no read model applies is skipped without
being decoded, but only once its topic is known to name a class — an old topic registered for
a moved class (``ledger.topics``) is decoded if the class it now names is applied. A topic that
resolves to nothing stops the catch-up with :class:`UnknownEventTopic`, before its page is
applied: never a silent skip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification
from eventsourcing.utils import TopicError, construct_topic, resolve_topic
from sqlalchemy import Connection, func, select

from ledger.clock import local_date
from projections.chain import chain_head, extend
from projections.store import Page, ReadModelStore, RecentRows, tracking

Progress = Callable[[int, int], None]  # (applied so far, position reached)

# The key of PostgreSQL's advisory lock that serialises catch-ups on one database (any
# constant that no other code uses: the digits spell "vl catch-up").
CATCH_UP_LOCK = 0x766C_6361_7463_6875


class UnknownEventTopic(TopicError):
    """A stored event's topic names no class: a module or class moved without its old topic
    registered in ``ledger.topics``, or the log holds an event this code never wrote."""

    def __init__(self, topic: str, position: int, reason: str) -> None:
        self.topic = topic
        self.position = position
        super().__init__(
            f"the event at log position {position} has topic {topic!r}, which no read model "
            f"or aggregate can resolve ({reason}); if its class moved, register the old topic "
            "in ledger/topics.py"
        )


class ReadModelFailed(RuntimeError):
    """A read model could not apply an event (a bug, or a value its tables cannot hold). The
    page it was applying is rolled back whole — no rows, no positions — so the read models
    stay at the last whole page; the log is untouched and commands can still be stored. Names
    the read model, the page's positions and, when it can be found, the failing event."""

    def __init__(
        self,
        read_model: str,
        first: int,
        last: int,
        culprit: tuple[int, str] | None,
        cause: Exception,
    ) -> None:
        self.read_model = read_model
        self.first, self.last = first, last
        self.position = culprit[0] if culprit else None
        self.cause = cause
        where = (
            f"the event at log position {culprit[0]} ({culprit[1]})"
            if culprit
            else f"the events at log positions {first}–{last}"
        )
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        super().__init__(
            f"the read model {read_model!r} cannot apply {where}: "
            f"{type(cause).__name__}{': ' + reason if reason else ''}; nothing of positions "
            f"{first}–{last} was applied and the log is unchanged"
        )


class TopicSorter:
    """Which stored topics to decode: those some read model applies, directly or through an
    old topic registered for a moved class. Each topic is resolved once (per catch-up), and
    one that resolves to no class is an :class:`UnknownEventTopic`."""

    def __init__(self, wanted: frozenset[str]) -> None:
        self.wanted = wanted
        self.verdicts: dict[str, bool] = {}

    def wants(self, notification: Notification) -> bool:
        topic = notification.topic
        verdict = self.verdicts.get(topic)
        if verdict is None:
            verdict = topic in self.wanted or self._resolves_to_wanted(topic, notification.id)
            self.verdicts[topic] = verdict
        return verdict

    def _resolves_to_wanted(self, topic: str, position: int) -> bool:
        try:
            found = resolve_topic(topic)
        except TopicError as e:
            raise UnknownEventTopic(topic, position, str(e)) from None
        if not isinstance(found, type):
            raise UnknownEventTopic(topic, position, f"it names {found!r}, not an event class")
        return construct_topic(found) in self.wanted


class ProjectionRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        store: ReadModelStore,
        page_size: int = 2000,
        *,
        chain: bool = False,
    ) -> None:
        self.recorder = recorder  # selects notifications: the application's recorder
        self.mapper = mapper  # decodes them: the application's mapper
        self.store = store
        self.page_size = page_size
        self.chain = chain  # extend the audit hash chain too (the live store does)

    def catch_up(
        self,
        stop: int | None = None,
        progress: Progress | None = None,
        until: datetime | None = None,
        business_day: date | None = None,
    ) -> int:
        """Apply every notification after each read model's position, up to position
        ``stop`` or to the last event recorded at or before ``until``. With ``business_day``,
        only events whose business date is on or before it are applied (a business-date view:
        never for the live store). Returns how many notifications were read."""
        positions = self.store.positions()
        start = min(positions.values(), default=0)
        if self.chain:
            with self.store.engine.connect() as conn:
                start = min(start, chain_head(conn)[0])
        applied = 0
        recent = RecentRows()
        # Decode once, and only what some read model applies (command records, for one, are
        # a third of a busy log and no read model's business).
        sorter = TopicSorter(frozenset().union(*(rm.topics for rm in self.store.read_models)))
        wants = sorter.wants
        decode = self.mapper.to_domain_event
        while True:
            notifications = self.recorder.select_notifications(
                start=start, limit=self.page_size, stop=stop, inclusive_of_start=False
            )
            if not notifications:
                break
            finished = False
            if until is None:
                decoded: list[tuple[int, Any]] = [
                    (n.id, decode(n)) for n in notifications if wants(n)
                ]
            else:
                # The recorded time is inside each event: decode them all to find the cut
                # (an unknown topic raising its named error first, as above).
                for n in notifications:
                    wants(n)
                stamped: list[tuple[Notification, Any]] = [(n, decode(n)) for n in notifications]
                cut = next((i for i, (_, e) in enumerate(stamped) if e.timestamp > until), None)
                if cut is not None:
                    stamped, finished = stamped[:cut], True
                if not stamped:
                    break
                notifications = [n for n, _ in stamped]
                decoded = [(n.id, e) for n, e in stamped if wants(n)]
            if business_day is not None:
                decoded = [(i, e) for i, e in decoded if local_date(e.at) <= business_day]
            first, last = notifications[0].id, notifications[-1].id
            events = [e for _, e in decoded]
            failed: tuple[Any, list[tuple[int, Any]], Exception] | None = None
            try:
                with self.store.engine.begin() as conn:
                    moved = self._serialise(conn, positions)
                    if moved is not None:
                        # Another catch-up applied pages since these positions were read:
                        # carry on from where it left the read models (its rows, not ours).
                        positions, recent = moved, RecentRows()
                        start = min(positions.values(), default=0)
                        if self.chain:
                            start = min(start, chain_head(conn)[0])
                        continue
                    page = Page(conn, recent)
                    page.note_positions(decoded)
                    for rm in self.store.read_models:
                        seen = positions[rm.name]
                        if seen >= last:
                            continue
                        # Usually every read model is behind the whole page.
                        fresh = events if seen < first else [e for i, e in decoded if i > seen]
                        if fresh:
                            try:
                                rm.apply(page, fresh)
                                page.flush()  # a row its tables refuse is its failure too
                            except Exception as error:
                                # The page's transaction rolls back as this leaves the block; the
                                # event that fails is then found on a connection of its own.
                                failed = (rm, [(i, e) for i, e in decoded if i > seen], error)
                                raise
                        positions[rm.name] = last
                    page.flush()
                    self.store.save_positions(conn, positions)
                    if self.chain:
                        extend(conn, notifications)
            except Exception as error:
                if failed is None:
                    raise
                raise self._failure(*failed, first, last) from error
            page.committed()
            applied += len(notifications)
            start = last
            if progress is not None:
                progress(applied, last)
            if finished or len(notifications) < self.page_size:
                break
        return applied

    def _failure(
        self, rm: Any, fresh: list[tuple[int, Any]], error: Exception, first: int, last: int
    ) -> ReadModelFailed:
        """The page was rolled back; replay its events for this read model one at a time, in
        a transaction that is always rolled back, to name the event that fails."""
        culprit = None
        topics = getattr(rm, "topics", None)
        try:
            with self.store.engine.connect() as conn, conn.begin() as transaction:
                page = Page(conn)
                page.note_positions(fresh)
                try:
                    for position, event in fresh:
                        if topics is not None and construct_topic(type(event)) not in topics:
                            continue  # not this read model's: it passes it by
                        try:
                            rm.apply(page, [event])
                            page.flush()
                        except Exception:
                            culprit = (position, type(event).__qualname__)
                            break
                finally:
                    transaction.rollback()
        except Exception:
            pass  # the search for the event is a courtesy: the page's range is named anyway
        return ReadModelFailed(rm.name, first, last, culprit, error)

    def _serialise(self, conn: Connection, positions: dict[str, int]) -> dict[str, int] | None:
        """Take the catch-up lock for this page's transaction (PostgreSQL: a transaction-level
        advisory lock; SQLite: the database's write lock, ``BEGIN IMMEDIATE``), so that
        concurrent catch-ups — one per command, in every process — apply pages one at a time.
        Then read the positions again: None if they are still ``positions``, else the new
        ones (another catch-up got there first)."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(CATCH_UP_LOCK)))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        found = dict(conn.execute(select(tracking.c.read_model, tracking.c.position)).all())
        now = {name: int(found.get(name, 0)) for name in positions}
        return None if now == positions else now

    def into(self, store: ReadModelStore, page_size: int | None = None) -> ProjectionRunner:
        """A runner on the same log into another store (a replay into a scratch store); it
        never extends the hash chain."""
        return ProjectionRunner(self.recorder, self.mapper, store, page_size or self.page_size)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop every read model and replay the whole log from position 0."""
        self.store.drop()
        return self.catch_up(progress=progress)
