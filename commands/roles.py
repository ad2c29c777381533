"""Who may do what. ``VOUCHER_LEDGER_ROLES`` names a TOML file mapping actors to roles:

    [actors]
    "li.clerk" = ["clerk"]
    "wang.finance" = ["finance"]
    "zhao.enforcement" = ["enforcement"]
    "chen.audit" = ["auditor"]
    "admin" = ["administrator"]

Each write command needs the role of its user group (clerk, finance, enforcement); an
administrator may do everything; an auditor may read and verify but never write. A refusal
(``not-permitted``) is itself recorded. Without a roles file every actor is an administrator —
fine for a demo or a single-user ledger, not for production.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from ledger.application import VoucherLedger
from ledger.errors import InvalidInput, Rejected
from ledger.events import Context

ROLES = ("clerk", "finance", "enforcement", "auditor", "administrator")

Roles = dict[str, set[str]]


def load_roles() -> Roles | None:
    path = os.environ.get("VOUCHER_LEDGER_ROLES")
    if not path:
        return None
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput("invalid-value", f"roles file {path}: {e}") from None
    actors = data.get("actors")
    if not isinstance(actors, dict):
        raise InvalidInput("invalid-value", f"roles file {path}: needs an [actors] table")
    roles: Roles = {}
    for actor, held in actors.items():
        if not isinstance(held, list) or not all(r in ROLES for r in held):
            raise InvalidInput(
                "invalid-value", f"roles file {path}: {actor}: roles are among {', '.join(ROLES)}"
            )
        roles[actor] = set(held)
    return roles


def authorise(
    app: VoucherLedger, roles: Roles | None, ctx: Context, command: str, required: str
) -> None:
    if roles is None:
        return
    held = roles.get(ctx.actor, set())
    if "administrator" in held or required in held:
        return
    app.record_refusal(ctx, command, required, sorted(held))
    raise Rejected(
        "not-permitted",
        f"{ctx.actor} ({', '.join(sorted(held)) or 'no role'}) may not {command}: it needs the "
        f"{required} role; the refusal is recorded",
    )
