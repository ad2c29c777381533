"""What every event records besides its facts: business time, actor and command id.

``timestamp`` (from the library) is when the event was *recorded*; ``at`` is the business
time the command carried. Auditors need both: "as it stood" questions use the recording
order, business-date questions use ``at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class Context:
    """Who asked for a change, when in business time, and under which command id."""

    at: datetime
    actor: str
    command_id: str

    def fields(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "command_id": self.command_id}


class LedgerEvent(Aggregate.Event):
    at: datetime
    actor: str
    command_id: str


class LedgerCreated(Aggregate.Created):
    at: datetime
    actor: str
    command_id: str
