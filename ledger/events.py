"""What every event records besides its facts: business time, actor and command id.

``timestamp`` (from the library) is when the event was *recorded*; ``at`` is the business
time the command carried. Auditors need both: "as it stood" questions use the recording
order, business-date questions use ``at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol

from ledger.aggregate import LedgerAggregate

Events = list[DomainEventProtocol[UUID]]


@dataclass(frozen=True)
class Context:
    """Who asked for a change, when in business time, and under which command id.

    ``idempotent``: the caller chose the command id (rather than getting a fresh one), so the
    ledger remembers it: repeating the command returns the original result (see
    :class:`CommandRecord`)."""

    at: datetime
    actor: str
    command_id: str
    idempotent: bool = False
    # Why a command is dated well before it is recorded (a late entry); see TimeRules.
    late_reason: str = ""
    # The identity that entered the command when it differs from ``actor`` (an administrator
    # entering a command on someone's behalf); both names are recorded.
    entered_by: str = ""

    @property
    def identity(self) -> str:
        """Who is at the keyboard: the identity the way in established."""
        return self.entered_by or self.actor

    def fields(self) -> dict[str, Any]:
        actor = self.actor
        if self.entered_by and self.entered_by != self.actor:
            actor = f"{self.actor} (entered by {self.entered_by})"
        return {"at": self.at, "actor": actor, "command_id": self.command_id}


class LedgerEvent(Aggregate.Event):
    at: datetime
    actor: str
    command_id: str


class LedgerCreated(Aggregate.Created):
    at: datetime
    actor: str
    command_id: str


class CommandRecord(LedgerAggregate):
    """A command given with a caller's id: what it was (a digest of its content) and which
    events it stored. Saved in the same transaction as those events, so a command either
    happened with its record or not at all; its id derives from the command id, so two
    writers racing with the same id cannot both succeed."""

    class Executed(LedgerCreated):
        command: str
        digest: str
        events: list[list[Any]]  # [originator id, version] of each event stored

    def __init__(self, command: str, digest: str, events: list[list[Any]]) -> None:
        self.command = command
        self.digest = digest
        self.events = events


class AccessLog(LedgerAggregate):
    """Refusals of an actor's commands for want of a role: kept, like everything else."""

    class Started(LedgerCreated):
        actor_name: str

    class Refused(LedgerEvent):
        command: str
        required_role: str
        held_roles: list[str]

    def __init__(self, actor_name: str) -> None:
        self.actor_name = actor_name


class RefusedCommand(LedgerAggregate):
    """A business command the ledger refused: what was asked (its content), by whom, when, and
    the named rule that refused it. Shares its identity with the :class:`CommandRecord` a
    success would have made, so a command id has one outcome, whichever it was."""

    class Refused(LedgerCreated):
        command: str
        digest: str
        code: str
        message: str
        content: dict[str, Any]

    def __init__(
        self, command: str, digest: str, code: str, message: str, content: dict[str, Any]
    ) -> None:
        self.command = command
        self.digest = digest
        self.code = code
        self.message = message
        self.content = content


class LateEntry(LedgerAggregate):
    """A command dated further back than the ledger allows without a reason (TimeRules): the
    reason given, kept with the command's events for auditors."""

    class Recorded(LedgerCreated):
        command: str
        recorded_at: datetime
        reason: str

    def __init__(self, command: str, recorded_at: datetime, reason: str) -> None:
        self.command = command
        self.recorded_at = recorded_at
        self.reason = reason


class LedgerClock(LedgerAggregate):
    """How this ledger tells time, fixed when it is created: the system clock, or a simulated
    one (demos, training, tests), and how far back business time may run without a reason.
    Reports and exports of a simulated ledger say so."""

    class Chosen(LedgerCreated):
        simulated: bool
        late_after_days: int

    def __init__(self, simulated: bool, late_after_days: int) -> None:
        self.simulated = simulated
        self.late_after_days = late_after_days
