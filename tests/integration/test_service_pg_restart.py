"""The service outlives a PostgreSQL restart: commands are taken again once the server is
back, and the projection worker reconnects and resumes from its tracked position."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.service import create_app
from commands.service.server import issue_token
from commands.wiring import open_ledger
from ledger.vocabulary import DECLARATIONS
from tests.pgserver import PostgresServer, _binary

EX = {name: {k: v for k, v in d.example.items()} for name, d in DECLARATIONS.items()}


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def _post(client: TestClient, headers: dict[str, str], name: str) -> Any:
    """A client that retries while the database is away (503), as a real one would."""
    for _ in range(200):
        answer = client.post(f"/v1/commands/{name}", json=EX[name], headers=headers)
        if answer.status_code != 503:
            return answer
        time.sleep(0.1)
    return answer


@pytest.mark.postgres
def test_a_database_restart_is_survived(own_server: PostgresServer) -> None:
    db = own_server.create_database()
    out = io.StringIO()
    issue_token(db, "setup", for_identity="li.clerk", token_id=None, label=None, out=out)
    headers = {"Authorization": f"Bearer {out.getvalue().splitlines()[1]}"}
    with TestClient(create_app(lambda: open_ledger(db), poll_interval=0.05)) as client:
        before = _post(client, headers, "open-programme")
        assert before.status_code == 200, before.text
        # The server crashes and comes back (pg_ctl restart reuses its options).
        data, log = str(own_server.data), str(own_server.base / "server.log")
        own_server._run(
            _binary("pg_ctl"), "-D", data, "-l", log, "-m", "immediate", "-w", "restart"
        )
        after = _post(client, headers, "register-supplier")
        assert after.status_code == 200, after.text
        position = after.json()["position"]
        read = client.get(
            "/v1/reports/quota",
            params={"min_position": position, "wait": 30},
            headers=headers,
        )
        assert read.status_code == 200, read.text
        assert read.json()["position"] >= position
        for _ in range(300):
            ready = client.get("/readyz").json()
            if ready["ready"] and ready["lag"] == 0:
                break
            time.sleep(0.1)
        assert ready["ready"] and ready["error"] is None and ready["lag"] == 0, ready
