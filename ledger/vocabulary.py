"""The command vocabulary: every write command declared once, as a frozen, typed dataclass.

A declaration says everything a way in needs — the command's name (the same on the command line,
in JSON Lines and over HTTP), the role that may give it, the clauses it applies, an example,
and for each field its type, parser, help text and shape. The CLI's options and help, the batch
reader, ``docs/commands.md`` and the HTTP schema are all generated from these classes; no way
in restates a signature. A handler (``ledger/handlers/``) receives the typed command itself,
so a field cannot be passed in the wrong position.

Declared like this::

    @command("redeem", role="clerk", clauses=("CD-4", "CD-8"), example={...})
    class Redeem(Command):
        \"\"\"Record a bill a listed supplier settled partly with a voucher.\"\"\"

        voucher: str = arg(p.text(40), "voucher number")
        deduction: Decimal | None = arg(p.amount, "deduction asked for", default=None)

A field with a default is optional; every other field is required.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self, TypeVar, dataclass_transform
from uuid import UUID

from ledger.errors import InvalidInput
from ledger.events import Context

Parser = Callable[[Any, str], Any]
Role = Literal["clerk", "finance", "enforcement", "administrator"]
ROLES: tuple[str, ...] = ("clerk", "finance", "enforcement", "auditor", "administrator")

# How a field is written where a flat string is all there is (the command line):
#   one      a single value                --name VALUE
#   list     a JSON list                   --name A --name B
#   pairs    a JSON object                 --name KEY=VALUE --name KEY=VALUE
#   objects  a JSON list of objects        --name '[{...}]'  (or @FILE)
#   file     a file's content (bytes)      --name PATH       (JSON: the path)
Shape = Literal["one", "list", "pairs", "objects", "file"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of a command, as every way in sees it."""

    name: str
    parse: Parser
    help: str
    required: bool
    shape: Shape

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def arg(
    parse: Parser,
    help: str,
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    shape: Shape = "one",
) -> Any:
    """A command field: its parser, its help text and (when optional) its default."""
    metadata = {"parse": parse, "help": help, "shape": shape}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class Command:
    """Base of every declared command. Subclasses are made by :func:`command`."""

    command_name: ClassVar[str]
    needs_role: ClassVar[Role]
    summary: ClassVar[str]
    clauses: ClassVar[tuple[str, ...]]
    example: ClassVar[Mapping[str, Any]]
    _specs: ClassVar[tuple[FieldSpec, ...]]

    @classmethod
    def field_specs(cls) -> tuple[FieldSpec, ...]:
        return cls._specs

    @classmethod
    def spec(cls, name: str) -> FieldSpec | None:
        return next((s for s in cls._specs if s.name == name), None)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Self:
        """Check and parse every field of a JSON object (without the envelope: ``command``,
        ``at``, ``actor``, ``command_id``). Unknown fields are refused, not ignored."""
        unknown = sorted(k for k in raw if cls.spec(k) is None)
        if unknown:
            raise InvalidInput(
                "unknown-field",
                f"{unknown[0]}: {cls.command_name} takes no such field",
                field=unknown[0],
            )
        values: dict[str, Any] = {}
        for spec in cls._specs:
            value = raw.get(spec.name)
            if value is None:
                if spec.required:
                    raise InvalidInput(
                        "missing-field",
                        f"{spec.name}: required by {cls.command_name}",
                        field=spec.name,
                    )
                continue
            values[spec.name] = spec.parse(value, spec.name)
        made = cls(**values)
        made.check()
        return made

    def check(self) -> None:
        """Checks across fields, or of a whole file, that belong at the boundary: raise
        :class:`InvalidInput` so a malformed command is refused before anything runs."""

    def content(self) -> dict[str, Any]:
        """The fields given, in declaration order; optional fields left at their default are
        left out (so adding an optional field does not change old commands' digests)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            if (f.default is MISSING and f.default_factory is MISSING) or value != default:
                out[f.name] = value
        return out


C = TypeVar("C", bound=type[Command])

DECLARATIONS: dict[str, type[Command]] = {}


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(arg,))
def command(
    name: str, *, role: Role, example: Mapping[str, Any], clauses: tuple[str, ...] = ()
) -> Callable[[C], C]:
    """Declare a command: makes the class a frozen, keyword-only dataclass and registers it.
    The class's docstring is the command's help text."""

    def declare(cls: C) -> C:
        made: Any = dataclass(frozen=True, kw_only=True)(cls)
        if name in DECLARATIONS:
            raise TypeError(f"command {name!r} is declared twice")
        made.command_name = name
        made.needs_role = role
        made.clauses = clauses
        made.example = example
        made.summary = " ".join(inspect.cleandoc(made.__doc__ or "").split())
        made._specs = tuple(
            FieldSpec(
                f.name,
                f.metadata["parse"],
                f.metadata["help"],
                f.default is MISSING and f.default_factory is MISSING,
                f.metadata["shape"],
            )
            for f in fields(made)
        )
        DECLARATIONS[name] = made
        declared: C = made
        return declared

    return declare


def plain(value: Any) -> Any:
    """A value as JSON holds it: amounts as exact decimal strings, times in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value.as_tuple().exponent == -2 else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, bytes):  # a file a command carries: its content, by digest
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def command_digest(command: Command, ctx: Context) -> str:
    """What makes two commands given under one command id the same command: its name, its
    content, its business time and its actor — never how a way in printed or parsed it."""
    content = {"args": command.content(), "at": ctx.at, "actor": ctx.actor}
    text = json.dumps(plain(content), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
