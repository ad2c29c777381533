"""API tokens: how the HTTP service knows who is calling (trust model: the identity comes from
the way in — over HTTP, an authenticated token). An administrator issues a token for an
identity and can revoke it; both are events. The ledger never sees the token itself, only its
SHA-256 digest: the way in that makes the token (``voucher-ledger admin issue-token``, the
service's ``POST /v1/tokens``) shows it once and passes the digest on. A token is presented as
``vlt_<token_id>_<secret>``; its public ``token_id`` names it (for revoking, in logs), the
digest of the whole text proves it.

The identity a token stands for maps to roles through the same role table as every other way
in (:mod:`ledger.roles`): a token grants nothing of its own."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

from ledger.aggregate import LedgerAggregate
from ledger.errors import Rejected
from ledger.events import Context, LedgerCreated, LedgerEvent
from ledger.ids import stable_id

TOKEN_PREFIX = "vlt_"


def digest_of_token(token: str) -> str:
    """The SHA-256 digest (hex) of a token as presented: all the ledger ever stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> str | None:
    """The public id inside a presented token (``vlt_<token_id>_<secret>``), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    return token_id if sep and token_id and secret else None


class ApiToken(LedgerAggregate):
    """One issued token: whose it is, its digest, and whether it was revoked."""

    class Issued(LedgerCreated):
        token_id: str
        identity: str
        token_digest: str
        label: str

    class Revoked(LedgerEvent):
        reason: str

        def apply(self, aggregate: ApiToken) -> None:
            aggregate.revoked = True

    def __init__(self, token_id: str, identity: str, token_digest: str, label: str) -> None:
        self.token_id = token_id
        self.identity = identity
        self.token_digest = token_digest
        self.label = label
        self.revoked = False

    @staticmethod
    def id_for(token_id: str) -> UUID:
        return stable_id("api-token", token_id)

    @classmethod
    def issue(
        cls, ctx: Context, token_id: str, identity: str, token_digest: str, label: str
    ) -> ApiToken:
        return cls._create(
            cls.Issued,
            id=cls.id_for(token_id),
            token_id=token_id,
            identity=identity,
            token_digest=token_digest,
            label=label,
            **ctx.fields(),
        )

    def same_issue(self, identity: str, token_digest: str) -> bool:
        return (self.identity, self.token_digest) == (identity, token_digest)

    def revoke(self, ctx: Context, reason: str) -> None:
        if self.revoked:
            return  # a repeat: nothing new to record
        self.trigger_event(self.Revoked, reason=reason, **ctx.fields())

    def accepts(self, token: str) -> bool:
        """A presented token is this one, and still valid (compared in constant time)."""
        return not self.revoked and hmac.compare_digest(digest_of_token(token), self.token_digest)


def refuse_taken(token_id: str) -> Rejected:
    return Rejected(
        "api-token-exists",
        f"an API token with id {token_id} was issued already (for another identity or secret); "
        "choose another id",
    )
