"""Who may do what: the ledger's role table, kept as events and changed only by administrator
commands (trust model). An identity — the operating-system user of the local command line, the
database login on PostgreSQL, the authenticated token over HTTP — is decided by the way in,
never typed by the caller; this table maps it to roles, optionally scoped to one authority
(a policy code such as ``CD``) or one programme (``CD-2025``).

While the table is empty every identity may do everything: a single-user or demo ledger. The
first grant must make an administrator, and the last administrator cannot be revoked, so a
ledger with roles is never left without one.
"""

from __future__ import annotations

from ledger.aggregate import LedgerAggregate
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id

ROLES = ("clerk", "finance", "enforcement", "auditor", "administrator")
ANY_SCOPE = "*"


def scope_covers(scope: str, programme: str | None) -> bool:
    """``*`` covers everything; ``CD`` every Chengdu programme; ``CD-2025`` that one. A
    command that names no programme (a registration) is covered by any scope."""
    if scope == ANY_SCOPE or programme is None:
        return True
    return programme == scope or programme.startswith(scope + "-")


class RoleTable(LedgerAggregate):
    """The one table of grants: identity → {(role, scope)}."""

    class Started(LedgerCreated):
        pass

    class Granted(LedgerEvent):
        identity: str
        role: str
        scope: str

        def apply(self, aggregate: RoleTable) -> None:
            aggregate.grants.setdefault(self.identity, set()).add((self.role, self.scope))

    class Revoked(LedgerEvent):
        identity: str
        role: str
        scope: str
        reason: str

        def apply(self, aggregate: RoleTable) -> None:
            aggregate.grants.get(self.identity, set()).discard((self.role, self.scope))

    def __init__(self) -> None:
        self.grants: dict[str, set[tuple[str, str]]] = {}

    @classmethod
    def start(cls, ctx: Context) -> RoleTable:
        return cls._create(cls.Started, id=stable_id("role-table"), **ctx.fields())

    @property
    def configured(self) -> bool:
        return any(self.grants.values())

    def held(self, identity: str) -> set[tuple[str, str]]:
        return set(self.grants.get(identity, set()))

    def permits(self, identity: str, role: str, programme: str | None) -> bool:
        if not self.configured:
            return True
        return any(
            held in (role, "administrator") and scope_covers(scope, programme)
            for held, scope in self.held(identity)
        )

    def is_administrator(self, identity: str) -> bool:
        return not self.configured or ("administrator", ANY_SCOPE) in self.held(identity)

    def grant(self, ctx: Context, identity: str, role: str, scope: str) -> None:
        if not self.configured and (role, scope) != ("administrator", ANY_SCOPE):
            raise Rejected(
                "first-grant-must-be-administrator",
                "the first grant of a ledger makes an administrator of every scope (*): "
                "without one, nobody could change the table again",
            )
        if (role, scope) in self.held(identity):
            return
        self.trigger_event(self.Granted, identity=identity, role=role, scope=scope, **ctx.fields())

    def revoke(self, ctx: Context, identity: str, role: str, scope: str, reason: str) -> None:
        if (role, scope) not in self.held(identity):
            raise Rejected("role-not-held", f"{identity} does not hold {role} in {scope}")
        administrators = [i for i, g in self.grants.items() if ("administrator", ANY_SCOPE) in g]
        if (role, scope) == ("administrator", ANY_SCOPE) and administrators == [identity]:
            raise Rejected("last-administrator", f"{identity} is the ledger's last administrator")
        self.trigger_event(
            self.Revoked, identity=identity, role=role, scope=scope, reason=reason, **ctx.fields()
        )
