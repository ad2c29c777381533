"""``voucher-ledger serve`` and ``voucher-ledger admin issue-token``: what the command line
calls (it stays thin). The server is uvicorn; several worker processes need PostgreSQL."""

from __future__ import annotations

import logging
import os
from typing import TextIO

from fastapi import FastAPI

from commands.envelope import execute, parse_command
from commands.service.app import create_app
from commands.service.auth import new_token
from commands.wiring import open_ledger, resolve_db
from ledger.errors import InvalidInput

DB_ENV = "VOUCHER_LEDGER_DB"
POLL_ENV = "VOUCHER_LEDGER_POLL_SECONDS"


def app_from_env() -> FastAPI:
    """The application factory uvicorn imports in each worker process: the database from
    ``VOUCHER_LEDGER_DB`` (its password from the environment, as for the command line)."""
    interval = float(os.environ.get(POLL_ENV) or 0.5)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # each worker process's
    return create_app(lambda: open_ledger(None), poll_interval=interval)


def serve(db: str | None, host: str, port: int, workers: int) -> int:
    import uvicorn

    target = resolve_db(db)
    postgres = target.startswith(("postgresql://", "postgres://"))
    if workers > 1 and not postgres:
        raise InvalidInput(
            "invalid-value",
            "--workers: a SQLite ledger is served by one worker; use PostgreSQL for several",
            field="workers",
        )
    os.environ[DB_ENV] = target
    # Opened once before the workers start: a wrong password or an unreachable server is
    # reported now (exit 3), and the schema exists before several workers open it.
    open_ledger(target).close()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uvicorn.run(
        "commands.service.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # ours: one JSON line per request, without secrets
        timeout_graceful_shutdown=30,
        log_level="info",
    )
    return 0


def issue_token(
    db: str | None,
    identity: str,
    *,
    for_identity: str,
    token_id: str | None,
    label: str | None,
    out: TextIO,
) -> int:
    """Make a token for ``for_identity``, record its digest (an administrator's command, by
    ``identity``) and print the token once."""
    token_id, token, digest = new_token(token_id)
    raw = {
        "command": "issue-api-token",
        "token_id": token_id,
        "identity": for_identity,
        "token_digest": digest,
        "label": label,
    }
    ledger = open_ledger(db)
    try:
        given = parse_command(raw, identity=identity, now=ledger.app.clock.now)
        execute(ledger.app, given)
    finally:
        ledger.close()
    out.write(
        f"token {token_id} for {for_identity} (shown once; the ledger keeps only its digest):\n"
        f"{token}\n"
    )
    return 0
