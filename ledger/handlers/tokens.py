"""API tokens for the HTTP service: issued and revoked by administrators, recorded as events,
stored only as digests (:mod:`ledger.tokens`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ledger import parsers as p
from ledger.errors import InvalidInput, Rejected
from ledger.events import Context, Events
from ledger.handlers.base import handles
from ledger.tokens import ApiToken, refuse_taken
from ledger.vocabulary import Command, arg, command

if TYPE_CHECKING:
    from ledger.application import VoucherLedger

_IDENTITY = "the identity the token stands for (its roles come from the role table)"


def _token_id(value: Any, name: str) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9-]{4,40}", value.strip()):
        return value.strip()
    raise InvalidInput("invalid-value", f"{name}: 4 to 40 letters, digits or hyphens", field=name)


def _sha256(value: Any, name: str) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value.strip()):
        return value.strip()
    raise InvalidInput(
        "invalid-value", f"{name}: the token's SHA-256 digest, 64 lowercase hex digits", field=name
    )


@command(
    "issue-api-token",
    role="administrator",
    example={
        "token_id": "li-clerk-2026",
        "identity": "li.clerk",
        "token_digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "label": "Li's desk, 2026",
        "at": "2026-04-01T08:05:00+08:00",
    },
)
class IssueApiToken(Command):
    """Record an API token for the HTTP service: its public id, the identity it stands for and
    the SHA-256 digest of the token (the token itself is never stored; `voucher-ledger admin
    issue-token` makes one and shows it once)."""

    token_id: str = arg(_token_id, "the token's public id (appears in the token and in logs)")
    identity: str = arg(p.text(100), _IDENTITY)
    token_digest: str = arg(_sha256, "SHA-256 digest (hex) of the whole token text")
    label: str = arg(p.text(100), "what the token is for", default="")


@handles(IssueApiToken)
def issue_api_token(app: VoucherLedger, ctx: Context, cmd: IssueApiToken) -> Events:
    found: ApiToken | None = app.find(ApiToken.id_for(cmd.token_id))
    if found is not None:
        if found.same_issue(cmd.identity, cmd.token_digest) and not found.revoked:
            return []  # a repeat: already issued
        raise refuse_taken(cmd.token_id)
    token = ApiToken.issue(ctx, cmd.token_id, cmd.identity, cmd.token_digest, cmd.label)
    return app.commit(token)


@command(
    "revoke-api-token",
    role="administrator",
    example={
        "token_id": "li-clerk-2026",
        "reason": "desk handed over",
        "at": "2026-06-30T17:05:00+08:00",
    },
)
class RevokeApiToken(Command):
    """Revoke an API token: from the next request on it authenticates nobody."""

    token_id: str = arg(_token_id, "the token's public id")
    reason: str = arg(p.text(), "why")


@handles(RevokeApiToken)
def revoke_api_token(app: VoucherLedger, ctx: Context, cmd: RevokeApiToken) -> Events:
    token: ApiToken | None = app.find(ApiToken.id_for(cmd.token_id))
    if token is None:
        raise Rejected("unknown-api-token", f"no API token with id {cmd.token_id}")
    token.revoke(ctx, cmd.reason)
    return app.commit(token)
