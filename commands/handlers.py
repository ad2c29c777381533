"""Turning raw input (a JSON object or parsed CLI options) into a checked command, and
executing it with a bounded retry when concurrent writers collide."""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError

from commands.catalogue import BY_NAME, COMMON_FIELDS, CommandSpec
from commands.render import dumps
from commands.roles import Roles, authorise
from ledger.application import Events, VoucherLedger
from ledger.errors import InvalidInput, Rejected
from ledger.events import Context

MAX_ATTEMPTS = 40


@dataclass(frozen=True)
class Command:
    spec: CommandSpec
    args: dict[str, Any]
    context: Context


def parse_command(
    raw: dict[str, Any],
    *,
    default_actor: str,
    now: Callable[[], datetime],
    default_command_id: str | None = None,
) -> Command:
    """Check every field of ``{"command": name, ...}``; unknown fields are refused."""
    name = raw.get("command")
    if not isinstance(name, str):
        raise InvalidInput("missing-field", 'command: every line needs "command"', field="command")
    spec = BY_NAME.get(name)
    if spec is None:
        raise InvalidInput(
            "unknown-command",
            f"command: {name!r} is not a command; known: {', '.join(sorted(BY_NAME))}",
            field="command",
        )
    unknown = sorted(k for k in raw if k != "command" and spec.field(k) is None)
    if unknown:
        raise InvalidInput(
            "unknown-field", f"{unknown[0]}: {name} takes no such field", field=unknown[0]
        )
    args: dict[str, Any] = {}
    for fld in (*spec.fields, *COMMON_FIELDS):
        value = raw.get(fld.name)
        if value is None:
            if fld.required:
                raise InvalidInput(
                    "missing-field", f"{fld.name}: required by {name}", field=fld.name
                )
            continue
        args[fld.name] = fld.parse(value, fld.name)
    # A caller-given command id (or a batch line's) makes the command idempotent.
    command_id = args.pop("command_id", None) or default_command_id
    context = Context(
        at=args.pop("at", None) or now(),
        actor=args.pop("actor", None) or default_actor,
        command_id=command_id or str(uuid.uuid4()),
        idempotent=command_id is not None,
    )
    return Command(spec, args, context)


def content_digest(command: Command) -> str:
    """What makes two commands with one id the same command."""
    content = {"args": command.args, "at": command.context.at, "actor": command.context.actor}
    return hashlib.sha256(dumps(content).encode("utf-8")).hexdigest()


def execute(app: VoucherLedger, command: Command, roles: Roles | None = None) -> Events:
    authorise(app, roles, command.context, command.spec.name, command.spec.user)
    return retrying(
        command.spec.name,
        lambda: app.run_once(
            command.context,
            command.spec.name,
            content_digest(command),
            lambda: command.spec.run(app, command.context, command.args),
        ),
    )


def retrying(name: str, attempt_once: Callable[[], Events]) -> Events:
    """Run a command; when another writer changed the same aggregates first (the event store
    refuses the stale write), reload and try again, a bounded number of times."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return attempt_once()
        except (IntegrityError, OperationalError):
            # Jittered back-off keeps racing writers from colliding in lock-step.
            time.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
    raise Rejected(
        "concurrency-conflict", f"{name}: gave up after {MAX_ATTEMPTS} attempts; nothing was stored"
    )


def wall_clock() -> datetime:
    """The default business time for commands that do not carry ``at``."""
    return datetime.now(UTC)
