"""API tokens (issue 18): issued and revoked by administrators as events, kept only as the
token's digest; a token authenticates while it is not revoked. Through the ledger's own
``execute`` (no database: the library's in-memory store)."""

from __future__ import annotations

import pytest

from ledger.application import VoucherLedger
from ledger.errors import InvalidInput
from ledger.handlers.administration import GrantRole
from ledger.handlers.tokens import IssueApiToken, RevokeApiToken
from ledger.policy import bundled_policies
from ledger.tokens import ApiToken, digest_of_token, token_id_of
from tests.scenario import at, rejected

TOKEN = "vlt_li-desk_s3cr3t-value"


def issue(app: VoucherLedger, token: str = TOKEN, identity: str = "li.clerk", actor: str = "boss"):
    ctx = at(3, 1)
    ctx = type(ctx)(ctx.at, actor, f"issue-{identity}-{token_id_of(token)}")
    command = IssueApiToken(
        token_id=token_id_of(token) or "", identity=identity, token_digest=digest_of_token(token)
    )
    return app.execute(ctx, command)


def test_a_token_is_recorded_by_its_digest_and_accepted_until_revoked() -> None:
    app = VoucherLedger(bundled_policies())
    (issued,) = issue(app)
    assert issued.token_digest == digest_of_token(TOKEN) and TOKEN not in repr(vars(issued))
    token: ApiToken = app.repository.get(ApiToken.id_for("li-desk"))
    assert token.accepts(TOKEN) and not token.accepts(TOKEN + "x")
    assert issue(app) == []  # the same issue again: nothing new
    app.execute(at(3, 2), RevokeApiToken(token_id="li-desk", reason="lost"))
    assert not app.repository.get(ApiToken.id_for("li-desk")).accepts(TOKEN)
    assert app.execute(at(3, 3), RevokeApiToken(token_id="li-desk", reason="again")) == []


def test_an_id_is_one_token_and_only_an_administrator_issues() -> None:
    app = VoucherLedger(bundled_policies())
    issue(app)
    rejected("api-token-exists", issue, app, "vlt_li-desk_another-secret")
    rejected(
        "unknown-api-token",
        app.execute,
        at(3, 2),
        RevokeApiToken(token_id="nobody-1", reason="x"),
    )
    app.execute(at(3, 2), GrantRole(identity="boss", role="administrator"))
    boss = type(at())(at(3, 2).at, "boss", "grant-li")
    app.execute(boss, GrantRole(identity="li.clerk", role="clerk"))
    rejected("not-permitted", issue, app, "vlt_other-1_secret", "li.clerk", "li.clerk")
    assert issue(app, "vlt_other-1_secret", "li.clerk", "boss")


@pytest.mark.parametrize("digest", ["abc", "G" * 64, "A" * 64])
def test_the_digest_field_takes_only_a_sha256_hex_digest(digest: str) -> None:
    with pytest.raises(InvalidInput):
        IssueApiToken.from_json({"token_id": "t-001", "identity": "x", "token_digest": digest})


def test_a_token_names_its_public_id() -> None:
    assert token_id_of("vlt_li-desk_a_b") == "li-desk"
    assert token_id_of("li-desk_a") is None and token_id_of("vlt_li-desk") is None
