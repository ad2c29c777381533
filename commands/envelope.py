"""The way in every write command takes, from the command line and JSON Lines alike: the
envelope (``command``, ``at``, ``actor``, ``command_id``) around a declared command's fields,
files read at the boundary, the role checked, and the command run by the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger import handlers  # noqa: F401  (registers every declaration)
from ledger import parsers as p
from ledger.application import VoucherLedger
from ledger.errors import InvalidInput
from ledger.events import Context, Events
from ledger.vocabulary import DECLARATIONS, Command, FieldSpec

# Every command also takes these; ``at`` defaults to now, ``command_id`` to a fresh id.
ENVELOPE = (
    FieldSpec("at", p.business_time, "business time, ISO 8601 with zone", False, "one"),
    FieldSpec(
        "actor",
        p.text(100),
        "on whose behalf an administrator enters the command (default: the identity giving it)",
        False,
        "one",
    ),
    FieldSpec("command_id", p.text(100), "caller's id for this command", False, "one"),
    FieldSpec(
        "late_reason",
        p.text(200),
        "why a command dated well before now is entered only now (a late entry, listed for "
        "auditors)",
        False,
        "one",
    ),
)


@dataclass(frozen=True)
class Given:
    """A checked command and the context it was given in."""

    command: Command
    context: Context


def declaration(name: Any) -> type[Command]:
    if not isinstance(name, str):
        raise InvalidInput("missing-field", 'command: every line needs "command"', field="command")
    found = DECLARATIONS.get(name)
    if found is None:
        shown = name if len(name) <= 60 else name[:60] + "…"
        raise InvalidInput(
            "unknown-command",
            f"command: {shown!r} is not a command; known: {', '.join(sorted(DECLARATIONS))}",
            field="command",
        )
    return found


def read_file(value: Any) -> Any:
    """A file-shaped field names a file: the boundary reads it, the ledger sees the content.
    A file that cannot be read is the caller's file-system error (``OSError``), not input."""
    if not isinstance(value, str) or not value.strip():
        return value  # the field's parser refuses it
    path = Path(value)
    return p.FileContent(path.name, path.read_bytes())


def parse_command(
    raw: Mapping[str, Any],
    *,
    identity: str,
    now: Callable[[], datetime],
    default_command_id: str | None = None,
    files: Callable[[Any], Any] = read_file,
) -> Given:
    """Check every field of ``{"command": name, ...}``; unknown fields are refused. ``files``
    turns a file-shaped field's value into its content (by default: reads the named path; the
    HTTP service takes the content inline and never reads a path)."""
    declared = declaration(raw.get("command"))
    envelope: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "command":
            continue
        spec = next((e for e in ENVELOPE if e.name == key), None)
        if spec is not None:
            if value is not None:
                envelope[key] = spec.parse(value, key)
            continue
        field = declared.spec(key)
        fields[key] = files(value) if field and field.shape == "file" else value
    command = declared.from_json(fields)
    # A caller-given command id (or a batch line's) makes the command idempotent.
    command_id = envelope.get("command_id") or default_command_id
    context = Context(
        at=envelope.get("at") or now(),
        actor=envelope.get("actor") or identity,
        command_id=command_id or str(uuid.uuid4()),
        idempotent=command_id is not None,
        late_reason=envelope.get("late_reason", ""),
        # The identity comes from the way in, never from the caller; a named actor is someone
        # else on whose behalf it acts (the ledger allows that to administrators only).
        entered_by=identity if envelope.get("actor", identity) != identity else "",
    )
    return Given(command, context)


def execute(app: VoucherLedger, given: Given) -> Events:
    return app.execute(given.context, given.command)


def wall_clock() -> datetime:
    """The default business time for commands that do not carry ``at``."""
    return datetime.now(UTC)
