"""Errors as ``application/problem+json`` (RFC 9457), carrying the ledger's stable codes.

400 malformed input (every :class:`InvalidInput` code), 401 no valid token, 403
``not-permitted``, 404 an unknown command, report or job, 409 ``command-id-reused`` and
``concurrency-conflict``, 422 any other rule's refusal, 503 read models not (yet) at the
position asked for."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ledger.errors import InvalidInput, LedgerError, Rejected

MEDIA_TYPE = "application/problem+json"

# Codes of the HTTP layer itself (the ledger's are in docs/errors.md).
HTTP_CODES = {
    "not-authenticated": (401, "No valid bearer token: missing, malformed, unknown or revoked."),
    "not-found": (404, "No such command, report, job or path."),
    "read-models-behind": (
        503,
        "The read models had not reached the position asked for (min_position) in time.",
    ),
    "not-acceptable": (406, "The format asked for is not one this resource offers."),
}

_CONFLICTS = ("command-id-reused", "concurrency-conflict")


def status_of(error: LedgerError) -> int:
    if isinstance(error, InvalidInput):
        return 404 if error.code == "unknown-command" else 400
    if isinstance(error, Rejected):
        if error.code == "not-permitted":
            return 403
        if error.code in _CONFLICTS:
            return 409
        return 422
    return 400


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:voucher-ledger:error:{code}",
        "title": code,
        "status": status,
        "detail": detail,
        "code": code,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_ledger_error(error: LedgerError) -> JSONResponse:
    field = getattr(error, "field", None)
    return problem(status_of(error), error.code, error.message, field=field)
