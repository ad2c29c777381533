"""What every read model is: tables, the event classes it handles, and one handler per class.

The base of every ``*_views`` module; it imports none of them (the list of read models is
``projections.registry``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from eventsourcing.utils import get_topic
from sqlalchemy import Table

from projections.store import Page

Handler = Callable[[Page, Any], None]


class EventDrivenReadModel:
    """Dispatches each event to the handler registered for its class."""

    name: str
    tables: Sequence[Table]
    handlers: ClassVar[dict[type, Handler]]

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(get_topic(cls) for cls in self.handlers)

    def apply(self, page: Page, events: Sequence[Any]) -> None:
        handlers = self.handlers
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(page, event)
