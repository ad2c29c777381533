"""Who is calling: a bearer token, checked against the ledger's API tokens (issued and revoked
by administrator commands, stored as digests: :mod:`ledger.tokens`), standing for an identity
whose roles come from the ledger's role table — exactly as for the command line's identity.

Reusable by every HTTP way in (the API, the web views of issue 19): :func:`authenticate` for
a header's value, :func:`current_principal` as a FastAPI dependency."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request

from ledger.application import VoucherLedger
from ledger.errors import Rejected
from ledger.tokens import TOKEN_PREFIX, ApiToken, digest_of_token, token_id_of


class NotAuthenticated(Exception):
    """No token, a malformed one, an unknown or revoked one (401). Never says which: a caller
    probing tokens learns nothing."""

    def __init__(self, reason: str = "a valid bearer token is required") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the identity its token stands for, and the token's public id."""

    identity: str
    token_id: str

    def roles(self, app: VoucherLedger) -> list[tuple[str, str]]:
        table = app.roles()
        return sorted(table.held(self.identity)) if table is not None else []

    def require_reader(self, app: VoucherLedger) -> None:
        """Reading needs some role (any: auditors read everything); while the role table is
        empty everyone may do everything, as on the command line."""
        table = app.roles()
        if table is not None and table.configured and not table.held(self.identity):
            raise Rejected(
                "not-permitted", f"{self.identity} holds no role in this ledger: it may not read"
            )


def new_token(token_id: str | None = None) -> tuple[str, str, str]:
    """A fresh token: (token_id, token, digest). The token is shown once, the digest stored."""
    token_id = token_id or secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, digest_of_token(token)


def authenticate(app: VoucherLedger, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` header's value."""
    if not authorization:
        raise NotAuthenticated()
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("use Authorization: Bearer <token>")
    token_id = token_id_of(token)
    if token_id is None:
        raise NotAuthenticated("not a voucher-ledger token")
    found = app.find(ApiToken.id_for(token_id))
    if not isinstance(found, ApiToken) or not found.accepts(token):
        raise NotAuthenticated("unknown or revoked token")
    return Principal(found.identity, token_id)


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (401 otherwise)."""
    service = request.app.state.service
    principal = authenticate(service.ledger.app, request.headers.get("authorization"))
    request.state.principal = principal  # for the access log
    return principal
