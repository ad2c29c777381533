"""Event topics are pinned (ADR 0005). A stored event names its class by topic —
``module:QualifiedName``, e.g. ``ledger.voucher:Voucher.Redeemed`` — and that topic must
resolve for as long as the event is kept. Moving or renaming an event or aggregate class
therefore adds one line here, from the old topic to the class's new one; nothing else in the
code names old topics. The projection runner decodes an old topic whose class now has another
topic as that class (so no read model skips it), and stops with ``UnknownEventTopic`` on a
topic that resolves to nothing.

``tests/integration/test_fixture_ledger.py`` replays a ledger written before issue 14's move
and fails on any stored topic that no longer resolves.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic, resolve_topic

# Old topic (as stored) -> the topic of the class that reads it now. Append only: a line is
# never removed while a ledger anywhere may hold the old topic.
RENAMED: dict[str, str] = {}


def register_renamed_topics(renamed: dict[str, str] | None = None) -> None:
    """Make every old topic resolve to its class's new place. Idempotent; run when ``ledger``
    is imported, so before any event is read."""
    for old, new in (RENAMED if renamed is None else renamed).items():
        register_topic(old, resolve_topic(new))
