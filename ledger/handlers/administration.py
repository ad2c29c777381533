"""Administration: the ledger's role table (who may give which command, in which authority or
programme). Role changes are commands like any other: recorded, idempotent, refused by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger import parsers as p
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.ids import stable_id
from ledger.roles import ANY_SCOPE, ROLES, RoleTable
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

_IDENTITY = "an identity: the operating-system user, or the database login on PostgreSQL"
_SCOPE = "* (every programme, the default), a policy code such as CD, or a programme"


def _table(app: VoucherLedger, ctx: Context) -> RoleTable:
    found: RoleTable | None = app.find(stable_id("role-table"))
    return found or RoleTable.start(ctx)


@command(
    "grant-role",
    role="administrator",
    example={
        "identity": "li.clerk",
        "role": "clerk",
        "scope": "CD",
        "at": "2026-04-01T08:00:00+08:00",
    },
)
class GrantRole(Command):
    """Grant an identity a role, in every programme or in one authority or programme. While no
    role is granted, everyone may do everything; the first grant must make an administrator of
    every scope."""

    identity: str = arg(p.text(100), _IDENTITY)
    role: str = arg(p.choice(*ROLES), " / ".join(ROLES))
    scope: str = arg(p.text(20), _SCOPE, default=ANY_SCOPE)


@handles(GrantRole)
def grant_role(app: VoucherLedger, ctx: Context, cmd: GrantRole) -> Events:
    table = _table(app, ctx)
    table.grant(ctx, cmd.identity, cmd.role, cmd.scope)
    return app.commit(table)


@command(
    "revoke-role",
    role="administrator",
    example={
        "identity": "li.clerk",
        "role": "clerk",
        "scope": "CD",
        "reason": "moved to the Qingdao office",
        "at": "2026-06-30T17:00:00+08:00",
    },
)
class RevokeRole(Command):
    """Revoke a role an identity holds (the ledger's last administrator cannot be revoked)."""

    identity: str = arg(p.text(100), _IDENTITY)
    role: str = arg(p.choice(*ROLES), " / ".join(ROLES))
    scope: str = arg(p.text(20), _SCOPE, default=ANY_SCOPE)
    reason: str = arg(p.text(), "why")


@handles(RevokeRole)
def revoke_role(app: VoucherLedger, ctx: Context, cmd: RevokeRole) -> Events:
    table = _table(app, ctx)
    table.revoke(ctx, cmd.identity, cmd.role, cmd.scope, cmd.reason)
    return app.commit(table)
